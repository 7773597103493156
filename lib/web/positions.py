"""The position route: where a playing title posts how far it is, for continue watching.

URL shape: POST /position/<token>, body `{"position": s, "duration": s}`. The token names
the user and the title (its own key, so a media token cannot record positions and a
position token cannot read bytes).

The reports do not go through Streamlit (component state): each would rerun the player's
fragment, and the report a player sends as the user leaves the library page reran that
page's fragment while the next page was being drawn, which blanked the page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeGuard

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lib.library import Library
from lib.links import POSITION_PREFIX
from lib.positions import Positions
from lib.storage import StorageError
from lib.tokens import InvalidToken, TokenSigner
from lib.web.endpoint import Endpoint
from lib.web.headers import response_headers

MAX_BODY_BYTES = 1024

log = logging.getLogger("homemovies.positions")


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Progress:
    """A position report: where title `name` is, out of `duration` seconds."""

    name: str
    position: float
    duration: float

    @classmethod
    def from_body(cls, name: str, body: bytes) -> Progress | None:
        """Given the title a token names and the posted body, return the report, or None
        when the body is not one (it is client input)."""
        try:
            value = json.loads(body)
        except ValueError:
            return None
        if not isinstance(value, dict):
            return None
        position, duration = value.get("position"), value.get("duration")
        if not (_is_number(position) and _is_number(duration)):
            return None
        return cls(name, float(position), float(duration))


@dataclass(frozen=True)
class ProgressEndpoint(Endpoint):
    """ASGI endpoint recording the positions players report, for listed titles only."""

    positions: Positions
    library: Library
    signer: TokenSigner
    is_account: Callable[[str], bool]

    async def get_response(self, request: Request) -> Response:
        """Given a request, record its report and return 204, or raise an error status."""
        if request.method != "POST":
            raise HTTPException(405, "Method not allowed", {"Allow": "POST"})
        user, name = self.check_token(request.path_params.get("token", ""))
        progress = Progress.from_body(name, await self.read_body(request))
        if progress is None:
            raise HTTPException(400, 'Expected {"position": seconds, "duration": seconds}.')
        await anyio.to_thread.run_sync(self.record, user, progress)
        return Response(status_code=204, headers=response_headers())

    def check_token(self, token: str) -> tuple[str, str]:
        """Given the URL's token, return (user, title name) or raise 403."""
        try:
            grant = self.signer.verify(token)
        except InvalidToken:
            raise HTTPException(403, "This report link is invalid or has expired.") from None
        if not self.is_account(grant.user):
            raise HTTPException(403, "This report link is invalid or has expired.")
        return grant.user, grant.scope

    @staticmethod
    async def read_body(request: Request) -> bytes:
        """Return the request body, or raise 413 once it passes MAX_BODY_BYTES."""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise HTTPException(413, "A position report is a few bytes.")
        return body

    def record(self, user: str, progress: Progress) -> None:
        """Keep `progress` if the library still lists its title; raise 404 or 503 otherwise."""
        try:
            listed = self.library.find(progress.name) is not None
        except StorageError as error:
            log.warning("cannot check %r for a position report: %s", progress.name, error)
            raise HTTPException(503, "The video storage is not answering.") from None
        if not listed:
            raise HTTPException(404, "No such title.")
        self.positions.report(user, progress.name, progress.position, progress.duration)


def progress_routes(endpoint: ProgressEndpoint) -> list[Route]:
    """Return the route recording position reports through `endpoint`."""
    return [Route(POSITION_PREFIX + "/{token}", endpoint)]
