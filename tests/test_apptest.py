"""AppTest: the page script in-process, behind the login gate."""

from __future__ import annotations

from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from lib.library import Library
from lib.services import build_services, install
from lib.settings import Settings
from lib.storage import Listing, ObjectInfo
from lib.storage_local import LocalStorage
from tests.conftest import ADMIN, ADMIN_PASSWORD, COOKIE_KEY, REPO

ENTRY = str(REPO / "pages" / "main.py")


class CountingStorage(LocalStorage):
    """The real local backend, counting every call the page makes."""

    calls: list[str]

    def list(self, prefix: str = "") -> Listing:
        self.calls.append(f"list {prefix}")
        return super().list(prefix)

    def stat(self, name: str) -> ObjectInfo:
        self.calls.append(f"stat {name}")
        return super().stat(name)


@pytest.fixture
def storage(fixture_library) -> CountingStorage:
    storage = CountingStorage(fixture_library.root)
    storage.calls = []
    return storage


@pytest.fixture
def app(fixture_library, storage) -> AppTest:
    settings = Settings(
        library=fixture_library.root, username=ADMIN, password=ADMIN_PASSWORD, cookie_key=COOKIE_KEY
    )
    services = build_services(settings)
    install(replace(services, storage=storage, library=Library(storage)))
    return AppTest.from_file(ENTRY, default_timeout=30)


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    inputs = {field.label: field for field in at.text_input}
    inputs["Username"].input(username)
    inputs["Password"].input(password)
    next(b for b in at.button if b.label == "Sign in").click()
    return at.run()


def test_only_the_sign_in_form_before_login(app, storage):
    app.run()
    assert storage.calls == []
    assert not app.exception
    assert [field.label for field in app.text_input] == ["Username", "Password"]
    assert [button.label for button in app.button] == ["Sign in", "Sign in with your phone"]
    assert len(app.tabs) == 0
    assert "Events" not in str(app)


def test_wrong_password_shows_one_neutral_error(app, storage):
    app.run()
    sign_in(app, ADMIN, "wrong password")
    assert storage.calls == []
    assert [error.value for error in app.error] == ["Incorrect username or password."]
    assert len(app.tabs) == 0


def test_unknown_user_gets_the_same_error(app):
    app.run()
    sign_in(app, "nobody", ADMIN_PASSWORD)
    assert [error.value for error in app.error] == ["Incorrect username or password."]


def test_tabs_after_login(app):
    app.run()
    sign_in(app, ADMIN, ADMIN_PASSWORD)
    app.run()
    assert not app.exception
    assert [tab.label for tab in app.tabs] == ["Events", "Years", "Unsorted"]
    assert "Sign out" in [button.label for button in app.button]
    assert not any(field.label == "Password" for field in app.text_input)
