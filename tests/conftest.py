"""Fixtures: a library encoded with ffmpeg, the real app served by `streamlit run`, Chromium."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from lib.library import MAX_PLAYLIST_BYTES
from lib.storage import Listing, ObjectInfo
from lib.storage.local import LocalStorage
from scripts.make_demo import (
    encode_avi,
    encode_hls,
    encode_hls_variants,
    encode_mp4,
    encode_poster,
    write_vtt,
)
from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.oci_server import OciApiServer, new_key_pair, private_pem

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
ADMIN = "admin"
ADMIN_PASSWORD = "correct horse battery"
COOKIE_KEY = "test-cookie-key-0123456789abcdefghijklmnop"
SECRET_TEXT = b"TOP-SECRET: this file lies beside the library and must never be served"

ODD_MP4 = "Spaces é ü #1 ?&%+.mp4"
ODD_HLS = "Fun #2 & 50% + more?.hls"
LONG_SECONDS = 60  # long enough for position reports well between the 5% and 90% marks


class CountingStorage(LocalStorage):
    """The real local backend, recording every list and stat call made through it."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.calls: list[str] = []

    def list(self, prefix: str = "") -> Listing:
        self.calls.append(f"list {prefix}")
        return super().list(prefix)

    def stat(self, name: str) -> ObjectInfo:
        self.calls.append(f"stat {name}")
        return super().stat(name)


class FakeClock:
    """A clock tests move by hand: `clock.now += 3600`."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class FixtureLibrary:
    """A library folder made for the tests, with the names of what is in it."""

    root: Path
    secret_file: Path
    sizes: dict[str, int] = field(default_factory=dict)


def build_fixture_library(base: Path) -> FixtureLibrary:
    """Encode the test library: every kind of title, odd names and planted faults."""
    root = base / "library"
    encode_mp4(root / "Years" / "2024.mp4", 3, "testsrc2", 440)
    encode_hls(root / "Years" / "2022.hls", 6, "smptehdbars", 660)
    broken = root / "Years" / "Broken.hls"
    broken.mkdir(parents=True)
    shutil.copy(root / "Years" / "2022.hls" / "output000.ts", broken / "output000.ts")
    encode_mp4(root / "Years" / "deeper" / "Nested.mp4", 1, "testsrc", 300)
    encode_mp4(root / "Events" / "Wedding.mp4", 3, "testsrc", 587)
    encode_mp4(root / "Events" / ODD_MP4, 3, "yuvtestsrc", 349)
    encode_hls(root / "Events" / ODD_HLS, 4, "rgbtestsrc", 523)
    encode_avi(root / "Events" / "Old tape.avi")
    (root / "Events" / "notes.txt").write_text("not a video")
    encode_mp4(root / "Root clip.mp4", 2, "mandelbrot", 392)
    # Posters, subtitles, a long title for positions and a two-variant HLS title.
    encode_poster(root / "Events" / "Wedding.jpg", "testsrc")
    write_vtt(root / "Events" / "Wedding.en.vtt", 3, "Here comes the bride")
    encode_mp4(root / "Events" / "Long walk.mp4", LONG_SECONDS, "testsrc2", 494)
    encode_poster(root / "Years" / "2022.hls" / "poster.jpg", "smptehdbars")
    write_vtt(root / "Years" / "2022.hls" / "2022.de.vtt", 6, "Frohes neues Jahr")
    encode_hls_variants(root / "Years" / "Variants.hls", 6)
    (root / ".hidden").mkdir()
    (root / ".hidden" / "private.mp4").write_bytes(b"hidden")
    secret = base / "secret.txt"
    secret.write_bytes(SECRET_TEXT)
    sizes = {
        str(path.relative_to(root)): path.stat().st_size
        for path in root.rglob("*")
        if path.is_file()
    }
    return FixtureLibrary(root=root, secret_file=secret, sizes=sizes)


@pytest.fixture(scope="session")
def fixture_library(tmp_path_factory: pytest.TempPathFactory) -> FixtureLibrary:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is required: apt-get install -y ffmpeg")
    return build_fixture_library(tmp_path_factory.mktemp("media"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


LOG_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
HOMEMOVIES_RECORD = re.compile(r"\d{4}-\d\d-\d\d \S+ [A-Z]+ homemovies[.:]")


@dataclass
class RunningApp:
    """A `streamlit run` process serving the app."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def unhandled_errors(self) -> list[str]:
        """Return the tracebacks in the server log that escaped the app (an error a route or a
        page did not handle); the cause a homemovies warning logs on purpose is not one."""
        found = []
        logged = False  # inside the traceback that a homemovies log record carries
        for line in self.log().splitlines():
            if LOG_RECORD.match(line) or line.startswith(("Exception in ", "ERROR:", "WARNING:")):
                logged = HOMEMOVIES_RECORD.match(line) is not None
            elif line.startswith("Traceback (most recent call last):") and not logged:
                found.append(line)
        return found


def app_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEMOVIES_")}
    env.update(
        HOMEMOVIES_PASSWORD=ADMIN_PASSWORD,
        HOMEMOVIES_COOKIE_KEY=COOKIE_KEY,
        # The background indexer writes .homemovies/index/ and runs ffmpeg: only the tests of
        # the index turn it on (HOMEMOVIES_NO_INDEX="false"), so the others see what they made.
        HOMEMOVIES_NO_INDEX="true",
        # Likewise the conversion worker, which lists .homemovies/jobs/ every few seconds.
        HOMEMOVIES_WORKERS="0",
        STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
    )
    env.update(extra)
    return env


def replica_env() -> dict[str, str]:
    """The tests' app environment without a cookie key: replicas keep one in the backend."""
    env = app_env()
    del env["HOMEMOVIES_COOKIE_KEY"]
    return env


def streamlit_command(port: int, flags: list[str], options: Sequence[str] = ()) -> list[str]:
    """Return the command serving the app (streamlit_app.py, as in production) on
    127.0.0.1:`port` with our FLAGS (and Streamlit's own `options`, such as
    `--secrets.files PATH`)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "streamlit_app.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        *options,
        "--",
        *flags,
    ]


def start_app(
    flags: list[str],
    env: dict[str, str],
    name: str,
    timeout: float = 60,
    options: Sequence[str] = (),
) -> RunningApp:
    """Start `streamlit run [OPTIONS] streamlit_app.py -- FLAGS` on a free port; wait until
    healthy."""
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / f"server-{name}.log"
    command = streamlit_command(port, flags, options)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return RunningApp(url, process, log_path)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"app did not become healthy:\n{log_path.read_text()}")


def stop_app(app: RunningApp) -> None:
    app.process.terminate()
    try:
        app.process.wait(10)
    except subprocess.TimeoutExpired:
        app.process.kill()


@pytest.fixture(scope="session")
def local_app(fixture_library: FixtureLibrary) -> Iterator[RunningApp]:
    """The app serving the fixture library from a local folder."""
    app = start_app(
        ["--library", str(fixture_library.root), "--username", ADMIN], app_env(), "local"
    )
    yield app
    stop_app(app)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait for what the user would see; on a loaded 2-core machine a Streamlit
    # rerun can take seconds, so wait longer than Playwright's 5 s default before failing.
    expect.set_options(timeout=15_000)

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is required at {CHROMIUM}: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def record_browser_events(page, name: str) -> None:
    """Log what the page went through (console, errors, websockets, failed requests) to
    test-artifacts/NAME.events.log, with times: what a failed browser test left behind."""
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / f"{name}.events.log").open("w", buffering=1, encoding="utf-8")

    def note(what: str) -> None:
        if not log.closed:
            log.write(f"{datetime.now().strftime('%H:%M:%S.%f')[:-3]} {what}\n")

    def on_websocket(ws) -> None:
        note(f"websocket open {ws.url}")
        ws.on("close", lambda ws: note(f"websocket closed {ws.url}"))
        ws.on("socketerror", lambda error: note(f"websocket error {error}"))

    page.on("console", lambda message: note(f"console {message.type}: {message.text}"))
    page.on("pageerror", lambda error: note(f"page error: {error}"))
    page.on("crash", lambda _: note("page crashed"))
    page.on(
        "framenavigated",
        lambda frame: note(f"navigated {frame.url}") if frame == page.main_frame else None,
    )
    page.on(
        "requestfailed", lambda request: note(f"request failed {request.url}: {request.failure}")
    )
    page.on("websocket", on_websocket)
    page.on("close", lambda _: log.close())


@contextmanager
def new_page(browser, name: str, **options) -> Iterator:
    """A page in a browser context of its own (another person, device or session); its
    events and a closing screenshot are saved as test-artifacts/NAME.*."""
    options.setdefault("viewport", {"width": 1280, "height": 900})
    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(30_000)
    record_browser_events(page, name)
    try:
        yield page
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        finally:
            context.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser context and page; a screenshot is saved as an artifact after each test."""
    with new_page(browser, request.node.name) as page:
        yield page


OCI_BUCKET = "family-videos"
OCI_TENANCY = "ocid1.tenancy.oc1..loopbacktenancy"
OCI_USER = "ocid1.user.oc1..loopbackuser"
OCI_REGION = "eu-frankfurt-1"


@dataclass
class LoopbackOci:
    """The loopback OCI API with the fixture library in a bucket, and a config file for it."""

    server: OciApiServer
    config_path: Path
    key_path: Path
    fingerprint: str

    @property
    def url(self) -> str:
        return self.server.url

    def flags(self, bucket: str = OCI_BUCKET) -> list[str]:
        """The app's flags that serve `bucket` from this server with the test API key."""
        return [
            "--bucket",
            bucket,
            "--os_endpoint",
            self.url,
            "--oci_config",
            str(self.config_path),
        ]


def write_oci_config(path: Path, key_path: Path, fingerprint: str, **extra: str) -> Path:
    """Write an ~/.oci/config-style file with one DEFAULT profile (plus `extra` keys)."""
    lines = [
        "[DEFAULT]",
        f"user={OCI_USER}",
        f"fingerprint={fingerprint}",
        f"key_file={key_path}",
        f"tenancy={OCI_TENANCY}",
        f"region={OCI_REGION}",
        *(f"{key}={value}" for key, value in extra.items()),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def start_loopback_oci(folder: Path) -> LoopbackOci:
    """Start a loopback OCI server that knows a new API key; write the key and an OCI config
    file for it into `folder`."""
    key, fingerprint = new_key_pair()
    key_path = folder / "oci_api_key.pem"
    key_path.write_bytes(private_pem(key))
    key_path.chmod(0o600)
    config_path = write_oci_config(folder / "config", key_path, fingerprint)
    server = OciApiServer().start()
    server.add_key(f"{OCI_TENANCY}/{OCI_USER}/{fingerprint}", key.public_key())
    return LoopbackOci(server, config_path, key_path, fingerprint)


@pytest.fixture(scope="session")
def oci(fixture_library: FixtureLibrary, tmp_path_factory) -> Iterator[LoopbackOci]:
    """The loopback OCI server for this test session, serving the fixture library."""
    oci = start_loopback_oci(tmp_path_factory.mktemp("oci"))
    oci.server.put_folder(OCI_BUCKET, fixture_library.root)
    yield oci
    oci.server.stop()


@pytest.fixture(scope="session")
def oci_app(oci: LoopbackOci) -> Iterator[RunningApp]:
    """The app serving the fixture library from the loopback OCI bucket (proxy delivery)."""
    app = start_app([*oci.flags(), "--username", ADMIN], app_env(), "oci")
    yield app
    stop_app(app)


# ----- the stats page: a library with planted faults, a viewer account -----

VIEWER = "viewer"
VIEWER_PASSWORD = "a viewer's passphrase"
STATS_BUCKET = "stats-library"
HUGE_PLAYLIST_BYTES = MAX_PLAYLIST_BYTES + 1024 * 1024  # over the limit: never read


@dataclass
class StatsLibrary:
    """The fixture library plus one fault of every kind the stats page lists."""

    root: Path
    sizes: dict[str, int]  # every object (app state included), by name

    def below(self, prefix: str) -> dict[str, int]:
        return {name: size for name, size in self.sizes.items() if name.startswith(prefix)}


def build_stats_library(fixture: FixtureLibrary, base: Path) -> StatsLibrary:
    """Copy the fixture library and plant: a missing segment, a zero-byte video, hostile
    playlists (huge, binary, unparsable, pointing elsewhere) and app state."""
    root = base / "stats-library"
    # Apps serving the fixture library may have saved their state in it by now: leave it behind.
    shutil.copytree(fixture.root, root, ignore=shutil.ignore_patterns(".homemovies"))
    gap = root / "Years" / "Gap.hls"
    shutil.copytree(root / "Years" / "2022.hls", gap)
    (gap / "output001.ts").unlink()
    (root / "Events" / "Empty.mp4").write_bytes(b"")
    hostile = root / "Hostile"
    playlists = {
        "Huge.hls": b"#EXTM3U\n" + b"#EXTINF:2.0,\nsegment.ts\n" * (HUGE_PLAYLIST_BYTES // 24),
        "Binary.hls": bytes(range(256)) * 16,
        "Garbage.hls": b"#EXTM3U\n#EXTINF:two seconds,\nsegment.ts\n",
        "Elsewhere.hls": b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n"
        b"https://elsewhere.example/stolen.ts\n#EXTINF:2.0,\n../../Years/2024.mp4\n"
        b"#EXTINF:2.0,\nsegment.ts\n#EXT-X-ENDLIST\n",
    }
    for folder, text in playlists.items():
        (hostile / folder).mkdir(parents=True)
        (hostile / folder / "output.m3u8").write_bytes(text)
        (hostile / folder / "segment.ts").write_bytes(b"\x47" * 188)
    state = root / ".homemovies" / "state"
    state.mkdir(parents=True)
    (state / "positions-admin.json").write_text('{"Years/2024.mp4": 1.5}')
    sizes = {
        path.relative_to(root).as_posix(): path.stat().st_size
        for path in root.rglob("*")
        if path.is_file()
    }
    return StatsLibrary(root=root, sizes=sizes)


@pytest.fixture(scope="session")
def stats_library(fixture_library: FixtureLibrary, tmp_path_factory) -> StatsLibrary:
    return build_stats_library(fixture_library, tmp_path_factory.mktemp("stats"))


@pytest.fixture(scope="session")
def stats_bucket(oci: LoopbackOci, stats_library: StatsLibrary) -> str:
    """The stats library as a bucket of the loopback OCI server."""
    oci.server.put_folder(STATS_BUCKET, stats_library.root)
    return STATS_BUCKET
