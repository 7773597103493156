"""AppTest: the page script in-process, behind the login gate."""

from __future__ import annotations

import shutil
import threading

import pytest
from streamlit.testing.v1 import AppTest

from lib.accounts import Role, User, hash_password
from lib.positions import Positions
from lib.services import build_services, current, install
from lib.settings import Settings
from lib.storage.local import LocalStorage
from lib.throttle import SignInResult, SignInThrottle
from lib.ui.sign_in import PASSWORD_KEY, SIGN_IN_ATTEMPT, SignInAttempt
from tests.apptest import sign_in
from tests.conftest import ADMIN, ADMIN_PASSWORD, COOKIE_KEY, REPO, CountingStorage, FakeClock

ENTRY = str(REPO / "pages" / "main.py")


@pytest.fixture
def storage(fixture_library) -> CountingStorage:
    return CountingStorage(fixture_library.root)


@pytest.fixture
def app(fixture_library, storage) -> AppTest:
    settings = Settings(
        library=fixture_library.root, username=ADMIN, password=ADMIN_PASSWORD, cookie_key=COOKIE_KEY
    )
    install(build_services(settings, storage=storage))
    return AppTest.from_file(ENTRY, default_timeout=30)


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


def test_the_password_is_not_kept_after_an_attempt(app):
    app.run()
    sign_in(app, ADMIN, "wrong password")
    values = {field.label: field.value for field in app.text_input}
    assert values == {"Username": ADMIN, "Password": ""}


def test_sixth_attempt_is_refused_for_any_username_and_the_owner_gets_in_after_the_wait(
    fixture_library, storage
):
    settings = Settings(
        library=fixture_library.root, username=ADMIN, password=ADMIN_PASSWORD, cookie_key=COOKIE_KEY
    )
    clock = FakeClock()
    install(build_services(settings, storage=storage, throttle=SignInThrottle(clock=clock)))
    at = AppTest.from_file(ENTRY, default_timeout=30).run()
    for username in (ADMIN, "nobody"):
        for _ in range(5):
            sign_in(at, username, "wrong password")
            assert [error.value for error in at.error] == ["Incorrect username or password."]
    throttled = ["Too many failed sign-ins. Wait 1 s, then try again."]
    sign_in(at, ADMIN, ADMIN_PASSWORD)  # even the right password waits its turn
    assert [error.value for error in at.error] == throttled
    sign_in(at, "nobody", ADMIN_PASSWORD)
    assert [error.value for error in at.error] == throttled
    assert len(at.tabs) == 0 and storage.calls == []
    clock.now += 1
    sign_in(at, ADMIN, ADMIN_PASSWORD)
    at.run()
    assert not at.exception
    assert [tab.label for tab in at.tabs] == ["Events", "Years", "Unsorted"]


def attempt_finished_later(outcome: SignInResult, seconds: float = 0.5) -> SignInAttempt:
    """A press of "Sign in" whose check, in another run's callback, ends `seconds` from now."""
    attempt = SignInAttempt()
    threading.Timer(seconds, attempt.finish, (outcome,)).start()
    return attempt


def test_a_run_starting_while_another_checks_the_password_waits_and_signs_in(app):
    # Streamlit stops the callback's run when a rerun comes in during the check and starts
    # another alongside: that run finds the attempt in flight and must not draw the form.
    app.run()
    admin = current().accounts.get(ADMIN)
    app.session_state[SIGN_IN_ATTEMPT] = attempt_finished_later(SignInResult(admin))
    app.session_state[PASSWORD_KEY] = ADMIN_PASSWORD  # the stopped callback left it
    app.run()
    assert not app.exception
    assert [caption.value for caption in app.caption] == ["Signing in…"]  # the hand-over
    assert not any(field.label == "Password" for field in app.text_input)
    assert app.session_state[PASSWORD_KEY] == ""
    app.run()  # this tab is signed in while the browser takes the cookie
    assert [tab.label for tab in app.tabs] == ["Events", "Years", "Unsorted"]


def test_a_failed_check_finished_in_another_run_shows_its_message(app):
    app.run()
    app.session_state[SIGN_IN_ATTEMPT] = attempt_finished_later(SignInResult(None, "No."))
    app.run()
    assert [error.value for error in app.error] == ["No."]
    assert len(app.tabs) == 0


def test_tabs_after_login(app):
    app.run()
    sign_in(app, ADMIN, ADMIN_PASSWORD)
    app.run()
    assert not app.exception
    assert [tab.label for tab in app.tabs] == ["Events", "Years", "Unsorted"]
    assert "Sign out" in [button.label for button in app.button]
    assert not any(field.label == "Password" for field in app.text_input)


VIEWER = User("grandpa", "Grandpa", Role.VIEWER, hash_password("viewer password 1"))


def page_app(fixture_library, script: str, user: User, **state) -> AppTest:
    """One page script, run as `user` is signed in (pages/main.py puts the user there)."""
    settings = Settings(
        library=fixture_library.root, username=ADMIN, password=ADMIN_PASSWORD, cookie_key=COOKIE_KEY
    )
    install(build_services(settings))
    at = AppTest.from_file(str(REPO / "pages" / script), default_timeout=30)
    at.session_state["user"] = user
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def test_share_links_page_refuses_viewers(fixture_library):
    at = page_app(fixture_library, "shares.py", VIEWER)
    assert [error.value for error in at.error] == ["Only admins can manage share links."]
    assert not at.button


def test_only_admins_get_the_share_button(fixture_library):
    selected = {"name": "Events/Wedding.mp4", "start": 0.0}
    admin = current().accounts.get(ADMIN)
    as_admin = page_app(fixture_library, "library.py", admin, selected=selected)
    as_viewer = page_app(fixture_library, "library.py", VIEWER, selected=selected)
    assert not as_admin.exception and not as_viewer.exception

    def popovers(at: AppTest) -> list[str]:
        return [p.proto.popover.label for p in at.get("popover")]

    assert popovers(as_admin) == ["Share"]
    assert popovers(as_viewer) == []


def test_corrupt_saved_positions_never_break_the_library(fixture_library, tmp_path):
    root = tmp_path / "library"
    shutil.copytree(fixture_library.root / "Years", root / "Years")
    LocalStorage(root).write(Positions.object_name(ADMIN), b"\x00 not json")
    settings = Settings(
        library=root, username=ADMIN, password=ADMIN_PASSWORD, cookie_key=COOKIE_KEY
    )
    install(build_services(settings))
    at = AppTest.from_file(str(REPO / "pages" / "library.py"), default_timeout=30)
    at.session_state["user"] = current().accounts.get(ADMIN)
    at.run()
    assert not at.exception
    assert [tab.label for tab in at.tabs] == ["Years"]
    assert "Continue watching" not in [h.value for h in at.subheader]
