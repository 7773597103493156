"""The media tokens the apps under test accept: `services.signer` of an app whose cookie key
is conftest's COOKIE_KEY, the key every app the tests start is given."""

from __future__ import annotations

from lib.tokens import TokenSigner, derive_key
from tests.conftest import COOKIE_KEY

SIGNER = TokenSigner(derive_key(COOKIE_KEY, "homemovies media token v1"))
