"""Two replicas behind nginx under load, one stopped mid-run: do streams and sign-ins carry on?

    .venv/bin/python -m bench.replicas [--seconds 60] [--clients 50] [--sessions 10]
                                       [--sessions-kind browser|http] [--stop-at SECONDS]
                                       [--backend oci|local] [--balance client|ip_hash]

Builds bench.load's library (a few 32 MiB titles of random bytes and one small HLS folder)
in a bucket of the loopback OCI server (run in a process of its own, so that it does not
share this process's interpreter with the clients) or, with `--backend local`, in a local
folder. Starts two replicas of the real app (`streamlit run`) on it, both WITHOUT
HOMEMOVIES_COOKIE_KEY: the first keeps a cookie key in the backend and the second reads it.
The bench reads that key too (`shared_key`) and signs its media URLs with it.

nginx balances over the two. `--balance client` (the default) hashes a header each bench
client sends, its own id (`hash $http_x_client consistent`): it stands in for the distinct
addresses of distinct visitors, so the clients spread over both replicas as visitors would
and each keeps to its replica. `--balance ip_hash` is tests/proxy.py's balancer as is: every
loopback client is 127.0.0.1, so ALL the load goes to one replica (the one then stopped).
Each answer names the replica that served it (`$upstream_addr`, as tests/proxy.py does).

For `--seconds`:
- `--clients` streaming clients (one connection each, through nginx) loop over random Range
  requests (up to 2 MiB) of random titles, reading and checking every body. A failed request
  is counted and the client goes on with its next one (httpx opens a new connection, and
  nginx sends it to a replica that answers).
- `--sessions` sessions. `browser` (the default): real Chromium pages, each signed in
  through nginx before the clock starts; then each types a search (a run of the script on
  its replica, over the websocket) and waits for the answer, and every fifth action reloads
  the page instead (the login cookie signs it in again). `http`: what a reload asks over
  HTTP (page, health, host-config, hls.js, an HLS playlist), no websocket.
At `--stop-at` seconds (by default half-way) one replica is terminated as
tests.conftest.stop_app does (SIGTERM, then SIGKILL after 10 s): the one serving the most
sessions, then the most stream clients.
Prints the load on each replica before and after the stop, the failures around it and how
soon every stream succeeded again, the replicas' RSS, and what became of the sessions on the
stopped replica: reconnected to the other (Streamlit's page reconnects on its own) and still
signed in, shown the sign-in form, or errored; when each had a new websocket and was usable
again (its first action answered on it); and, after the run, whether one more search on each
page still answers signed in. nginx logs each websocket (a line when it closes), which says
where the sessions' websockets went before and after the stop.
Not a test: nothing here fails a build, and the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import random
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from playwright.async_api import TimeoutError as PlaywrightTimeout

from bench.common import machine, median, percentile, rss_bytes, scratch_dir, table
from bench.load import MAX_RANGE, TIMEOUT, TITLE_BYTES, TITLES, build_library
from lib.assets import hls_script_path
from lib.links import media_url
from lib.session_cookie import SESSION_COOKIE
from lib.settings import Settings
from lib.storage import Storage
from lib.storage.appstate import shared_key
from lib.storage.local import LocalStorage
from lib.tokens import TokenSigner, derive_key
from tests.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    CHROMIUM,
    CHROMIUM_ARGS,
    RunningApp,
    replica_env,
    start_app,
    stop_app,
)
from tests.proxy import BALANCER, load_balancer, nginx, upstreams

MB = 1_000_000
BUCKET = "bench-replicas"
HEADER = "X-Client"  # each bench client's id: what `--balance client` hashes
RELOAD_EVERY = 5  # a browser session's every fifth action is a reload, the others searches
ACTION_TIMEOUT_MS = 20_000  # one search or reload on a loaded 2-core machine
PLAYLIST = "Bench/Clip.hls/output.m3u8"
FINAL_QUERY = "no such title"  # the check after the run: an answer no action drew before

# tests/proxy.py's balancer with two changes: the balancing (a hash of the client's own header
# rather than its address), and a log line for each websocket (written when it closes),
# which says where each browser session's websockets went.
WEBSOCKET_LOG = """\
    log_format websocket '$msec $request_time $http_x_client $upstream_addr $status';
    map $http_upgrade $is_websocket { default 1; '' 0; }"""
CHANGES = (
    ("ip_hash;", "hash $http_x_client consistent;"),
    (
        "add_header X-Replica $upstream_addr always;",
        "add_header X-Replica $upstream_addr always;\n"
        "            access_log {tmp}/websockets.log websocket if=$is_websocket;",
    ),
)


def balanced_http(folder: Path, port: int, servers: str) -> str:
    """tests/proxy.py's balancer, balancing by X-Client and logging websockets."""
    http = BALANCER.format(port=port, servers=servers)
    for old, new in CHANGES:
        assert http.count(old) == 1, f"tests/proxy.py's BALANCER no longer has {old!r}"
        http = http.replace(old, new.format(tmp=folder))
    return f"{WEBSOCKET_LOG}\n{http}"


# ----- the backend and the replicas ---------------------------------------------------------


def serve_oci(folder: str, library: str, connection) -> None:
    """In a child process: the loopback OCI server with `library` in BUCKET, until told."""
    from tests.conftest import start_loopback_oci

    oci = start_loopback_oci(Path(folder))
    try:
        for path in sorted(Path(library).rglob("*")):
            if path.is_file():
                oci.server.put_file(BUCKET, path.relative_to(library).as_posix(), path)
        connection.send((oci.flags(BUCKET), oci.url, str(oci.config_path)))
        connection.recv()  # anything: stop
    finally:
        oci.server.stop()


@contextlib.contextmanager
def backend(kind: str, root: Path) -> Iterator[tuple[list[str], Storage]]:
    """Yield the app's flags serving the library under `root`, and that backend opened."""
    if kind == "local":
        yield ["--library", str(root / "library")], LocalStorage(root / "library")
        return
    from lib.storage.oci import open_bucket
    from lib.storage.oci_auth import load_auth

    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    folder = root / "oci"
    folder.mkdir()
    process = context.Process(
        target=serve_oci, args=(str(folder), str(root / "library"), theirs), daemon=True
    )
    process.start()
    try:
        if not ours.poll(120):
            raise RuntimeError("the loopback OCI server did not start")
        flags, url, config = ours.recv()
        settings = Settings(bucket=BUCKET, os_endpoint=url, oci_config=config)
        yield flags, open_bucket(BUCKET, load_auth(settings.oci_credentials), url)
    finally:
        with contextlib.suppress(OSError):
            ours.send("stop")
        process.join(15)
        if process.is_alive():
            process.kill()


@dataclass
class Replica:
    label: str  # "A", "B"
    app: RunningApp
    address: str  # host:port, as nginx's $upstream_addr names it
    rss: dict[str, float] = field(default_factory=dict)  # MB at "start", "stop", "end", "peak"
    stopped: bool = False


@contextlib.contextmanager
def replicas(flags: list[str], labels: str = "AB") -> Iterator[list[Replica]]:
    """Start two replicas one after the other (the first makes the key); stop both after."""
    started: list[Replica] = []
    try:
        for label in labels:
            app = start_app([*flags, "--username", ADMIN], replica_env(), f"bench-{label}")
            started.append(Replica(label, app, app.url.removeprefix("http://")))
        yield started
    finally:
        for replica in started:
            if replica.app.process.poll() is None:
                stop_app(replica.app)


@contextlib.contextmanager
def balancer(kind: str, addresses: list[str], folder: Path) -> Iterator[str]:
    """Run nginx over the replicas; yield its base URL."""
    urls = [f"http://{address}" for address in addresses]
    if kind == "ip_hash":
        with load_balancer(urls, folder) as front:
            yield front.url
        return
    servers = upstreams(urls)
    with nginx(folder, lambda port: balanced_http(folder, port, servers)) as (url, _):
        yield url


# ----- what the clients record ------------------------------------------------------------


@dataclass
class Request:
    """One request (or browser action): who made it, when, where it went, how it ended."""

    who: str
    began: float  # time.monotonic()
    ended: float
    replica: str | None  # the label of the replica that answered; None: no answer
    first_byte: float | None = None  # seconds; None when it failed
    bytes: int = 0
    error: str | None = None
    failed_over: bool = False  # nginx tried the other replica first (it refused or reset)
    signed_out: bool = False  # a browser action that found the sign-in form
    kind: str = ""  # a browser action: "search" or "reload"


class Run:
    """The state of one bench run: the replicas, the front, the signer, what was recorded."""

    def __init__(self, args: argparse.Namespace, front: str, reps: list[Replica], key: str):
        self.args = args
        self.front = front
        self.replicas = reps
        self.by_address = {r.address: r for r in reps}
        self.signer = TokenSigner(derive_key(key, "homemovies media token v1"))
        self.ttl = int(args.seconds) + 600
        self.streams: list[Request] = []
        self.pages: list[Request] = []
        self.t0 = 0.0  # the clock's start (monotonic)
        self.t_stop = float("inf")  # when the replica was told to stop
        self.t_exited = float("inf")
        self.t_end = float("inf")
        self.victim: Replica | None = None
        self.stop_rc: int | None = None
        self.names: list[str] = []
        self.lags: list[float] = []  # seconds the event loop woke up late, every 0.1 s

    def survivor_label(self) -> str | None:
        return next((r.label for r in self.replicas if r is not self.victim), None)

    def replica_of(self, header: str | None) -> tuple[str | None, bool]:
        """The label of the replica that answered, from X-Replica; whether nginx failed over."""
        if not header:
            return None, False
        tried = [part.strip() for part in header.split(",")]
        replica = self.by_address.get(tried[-1])
        return (replica.label if replica else tried[-1]), len(tried) > 1

    def headers(self, who: str) -> dict[str, str]:
        return {HEADER: who}

    def page_paths(self) -> list[str]:
        token = self.signer.issue("Bench/Clip.hls/", ADMIN, self.ttl)
        return [
            "/",
            "/_stcore/health",
            "/_stcore/host-config",
            hls_script_path(),
            media_url(token, PLAYLIST),
        ]

    async def probe(self, who: str) -> str | None:
        """Which replica nginx sends `who` to now."""
        async with httpx.AsyncClient(timeout=TIMEOUT, headers=self.headers(who)) as client:
            response = await client.get(self.front + "/_stcore/health")
            return self.replica_of(response.headers.get("x-replica"))[0]


async def stream_client(run: Run, who: str, urls: dict[str, str], deadline: float) -> None:
    """bench.load's streaming client, recording each request's replica and time: random Range
    requests until `deadline` on one connection; a failure is recorded, then the next."""
    rng = random.Random()
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(
        base_url=run.front, timeout=TIMEOUT, limits=limits, headers=run.headers(who)
    ) as client:
        while time.monotonic() < deadline:
            name = rng.choice(list(urls))
            start = rng.randrange(TITLE_BYTES)
            end = min(start + rng.randrange(1, MAX_RANGE), TITLE_BYTES - 1)
            record = Request(who, time.monotonic(), 0.0, None)
            first = None
            try:
                headers = {"Range": f"bytes={start}-{end}"}
                async with client.stream("GET", urls[name], headers=headers) as response:
                    record.replica, record.failed_over = run.replica_of(
                        response.headers.get("x-replica")
                    )
                    async for chunk in response.aiter_raw():
                        if first is None:
                            first = time.monotonic() - record.began
                        record.bytes += len(chunk)
                if response.status_code != 206:
                    record.error = f"status {response.status_code}"
                elif record.bytes != end - start + 1:
                    record.error = "short body"
                else:
                    record.first_byte = first or 0.0
            except httpx.HTTPError as error:
                record.error = type(error).__name__
            record.ended = time.monotonic()
            run.streams.append(record)


async def http_session(run: Run, who: str, deadline: float) -> None:
    """bench.load's HTTP page session (a fresh connection per reload), recording replicas."""
    paths = run.page_paths()
    while time.monotonic() < deadline:
        record = Request(who, time.monotonic(), 0.0, None)
        try:
            async with httpx.AsyncClient(
                base_url=run.front, timeout=TIMEOUT, headers=run.headers(who)
            ) as client:
                for path in paths:
                    response = await client.get(path)
                    if path == "/":
                        record.replica, record.failed_over = run.replica_of(
                            response.headers.get("x-replica")
                        )
                    if response.status_code != 200:
                        record.error = f"{path} {response.status_code}"
                        break
                    record.bytes += len(response.content)
                else:
                    record.first_byte = time.monotonic() - record.began
        except httpx.HTTPError as error:
            record.error = type(error).__name__
        record.ended = time.monotonic()
        run.pages.append(record)


# ----- browser sessions -------------------------------------------------------------------


@dataclass
class Session:
    who: str
    page: object
    replica: str | None = None  # where its page and websocket went when signed in
    sockets: list[list[float]] = field(default_factory=list)  # [opened, closed] (monotonic)
    final: str = ""  # after the run, one more search: "signed in", "signed out" or the error


async def sign_in(page) -> None:
    """Fill the sign-in form of the open page once its first run has finished (a press
    before it can be lost, see tests/ui.py); press again while the form stays; wait until
    the library is drawn."""
    settled = page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')
    form = page.get_by_label("Username", exact=True)
    library = page.get_by_role("button", name="Title 00", exact=True)
    for attempt in range(3):
        await settled.wait_for()
        await form.or_(library).first.wait_for()  # drawn a moment after the run ends
        if not await form.is_visible():
            break
        await form.fill(ADMIN)
        await page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
        await page.get_by_role("button", name="Sign in", exact=True).click()
        with contextlib.suppress(PlaywrightTimeout):
            await library.wait_for(timeout=30_000 * (attempt + 1))
            return
    await library.wait_for()


class BrowserSessions:
    """Signed-in Chromium pages (a context each, with its own X-Client header) that search
    the library and now and then reload it, each action timed and its outcome recorded."""

    def __init__(self, run: Run, count: int) -> None:
        self.run = run
        self.count = count
        self.sessions: list[Session] = []

    async def start(self) -> None:
        """Launch Chromium, warm each replica's page script up (a sign-in straight to it),
        then sign every session in through nginx (all before the clock starts)."""
        from playwright.async_api import async_playwright

        self.playwright = await async_playwright().start()
        self.browser = await self.playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        for replica in self.run.replicas:  # else the first run on a replica is a cold one
            context = await self.browser.new_context()
            page = await context.new_page()
            page.set_default_timeout(60_000)
            await page.goto(replica.app.url)
            await sign_in(page)
            await context.close()

        async def one(number: int) -> Session:
            who = f"session-{number:02d}"
            context = await self.browser.new_context(extra_http_headers=self.run.headers(who))
            page = await context.new_page()
            page.set_default_timeout(60_000)
            session = Session(who, page)

            def on_websocket(ws) -> None:
                times = [time.monotonic(), float("inf")]
                session.sockets.append(times)
                ws.on("close", lambda _: times.__setitem__(1, time.monotonic()))

            page.on("websocket", on_websocket)
            response = await page.goto(self.run.front)
            session.replica = self.run.replica_of(response.headers.get("x-replica"))[0]
            await sign_in(page)
            # Signed in for good only once the browser holds the login cookie (the next
            # websocket, on either replica, carries it).
            deadline = time.monotonic() + 60
            while not any(c["name"] == SESSION_COOKIE for c in await context.cookies()):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{who}: the login cookie was never written")
                await asyncio.sleep(0.2)
            return session

        # A few at a time: ten password checks and first runs at once take minutes here.
        gate = asyncio.Semaphore(3)

        async def gated(number: int) -> Session:
            async with gate:
                return await one(number)

        self.sessions = list(await asyncio.gather(*(gated(n) for n in range(self.count))))

    async def act(self, session: Session, deadline: float) -> None:
        """Search or reload until `deadline`; each action ends when its answer is drawn."""
        page = session.page
        form = page.get_by_label("Username", exact=True)
        search = page.get_by_label("Search titles")
        number = 0
        while time.monotonic() < deadline:
            record = Request(session.who, time.monotonic(), 0.0, None)
            after_stop = record.began >= self.run.t_stop
            record.replica = self.run.survivor_label() if after_stop else session.replica
            try:
                if number % RELOAD_EVERY == RELOAD_EVERY - 1:
                    record.kind = "reload"
                    response = await page.reload(timeout=ACTION_TIMEOUT_MS)
                    if response is not None:
                        record.replica, record.failed_over = self.run.replica_of(
                            response.headers.get("x-replica")
                        )
                    shown = page.get_by_role("button", name="Title 00", exact=True)
                else:
                    record.kind = "search"
                    title = number % TITLES
                    query, answer = (
                        (f"Title {title:02d}", "1 title matches")
                        if number % 2
                        else ("Title", f"{TITLES} titles match")
                    )
                    await search.or_(form).first.wait_for(timeout=ACTION_TIMEOUT_MS)
                    if not await form.is_visible():
                        await search.fill(query, timeout=ACTION_TIMEOUT_MS)
                    shown = page.get_by_text(answer, exact=True)
                await shown.or_(form).first.wait_for(timeout=ACTION_TIMEOUT_MS)
                if await form.is_visible():
                    record.signed_out = True
                    record.error = "the sign-in form"
                else:
                    record.first_byte = time.monotonic() - record.began
            except Exception as error:  # a timed-out action is an error to count, not a crash
                record.error = f"{type(error).__name__}: {str(error).splitlines()[0][:80]}"
                record.error += await self.what_shows(page, search)
            record.ended = time.monotonic()
            self.run.pages.append(record)
            number += 1

    @staticmethod
    async def what_shows(page, search) -> str:
        """The page's state when an action failed: Streamlit's connection and script states,
        the search box and the answer drawn (the app draws 'N titles match')."""
        try:
            app = page.locator('[data-testid="stApp"]')
            connection = await app.get_attribute("data-test-connection-state", timeout=2000)
            script = await app.get_attribute("data-test-script-state", timeout=2000)
            query = await search.input_value(timeout=2000) if await search.count() else None
            shown = [
                text
                for text in await page.get_by_text("match").all_inner_texts()
                if text.endswith(("match", "matches"))
            ]
            return f" (then: {connection}, script {script}, box {query!r}, shows {shown})"
        except Exception as error:
            return f" (then: unknown, {type(error).__name__})"

    async def run_all(self, deadline: float) -> None:
        await asyncio.gather(*(self.act(session, deadline) for session in self.sessions))

    async def check_all(self) -> None:
        await asyncio.gather(*(self.check(session) for session in self.sessions))

    async def check(self, session: Session) -> None:
        """After the run, one more search (a query, and so an answer, not seen before): is
        the page signed in and answering?"""
        page = session.page
        form = page.get_by_label("Username", exact=True)
        search = page.get_by_label("Search titles")
        try:
            await search.or_(form).first.wait_for(timeout=ACTION_TIMEOUT_MS)
            if not await form.is_visible():
                await search.fill(FINAL_QUERY, timeout=ACTION_TIMEOUT_MS)
                answer = page.get_by_text(f"No titles match “{FINAL_QUERY}”.", exact=True)
                await answer.or_(form).first.wait_for(timeout=ACTION_TIMEOUT_MS)
            session.final = "signed out" if await form.is_visible() else "signed in"
        except Exception as error:
            session.final = f"{type(error).__name__}{await self.what_shows(page, search)}"

    async def close(self) -> None:
        if hasattr(self, "browser"):
            await self.browser.close()
        if hasattr(self, "playwright"):
            await self.playwright.stop()


# ----- the run ----------------------------------------------------------------------------


def rss_mb(replica: Replica) -> float:
    return rss_bytes(replica.app.process.pid) / MB


async def warm_up(run: Run) -> None:
    """The first page and the first reads on each replica, straight (not through nginx)."""
    urls = {name: media_url(run.signer.issue(name, ADMIN, run.ttl), name) for name in run.names}
    for replica in run.replicas:
        async with httpx.AsyncClient(base_url=replica.app.url, timeout=TIMEOUT) as client:
            for path in run.page_paths():
                (await client.get(path)).raise_for_status()
            for url in urls.values():
                response = await client.get(url, headers={"Range": "bytes=0-65535"})
                if response.status_code != 206:
                    raise RuntimeError(
                        f"{replica.label}: media route answered {response.status_code}: is "
                        "the URL signed with the key the replicas keep?"
                    )


def choose_victim(run: Run, session_home: dict, stream_home: dict) -> None:
    """Stop the replica serving the most sessions, then the most stream clients."""

    def load(replica: Replica) -> tuple[int, int]:
        return (
            sum(home == replica.label for home in session_home.values()),
            sum(home == replica.label for home in stream_home.values()),
        )

    run.victim = max(run.replicas, key=load)


async def measure(run: Run, names: list[str]) -> dict:
    """Warm up, sign in, run the clock with the stop in it; return what the report needs."""
    browser = run.args.sessions_kind == "browser"
    browsers = BrowserSessions(run, run.args.sessions) if browser else None
    try:
        return await load(run, names, browsers)
    finally:
        if browsers is not None:
            await browsers.close()


async def load(run: Run, names: list[str], browsers: BrowserSessions | None) -> dict:
    args = run.args
    run.names = names
    await warm_up(run)
    urls = {name: media_url(run.signer.issue(name, ADMIN, run.ttl), name) for name in names}
    clients = [f"stream-{n:02d}" for n in range(args.clients)]
    stream_home = {who: await run.probe(who) for who in clients}
    if browsers is not None:
        await browsers.start()
        session_home = {s.who: s.replica for s in browsers.sessions}
    else:
        session_home = {
            f"session-{n:02d}": await run.probe(f"session-{n:02d}") for n in range(args.sessions)
        }
    choose_victim(run, session_home, stream_home)
    for replica in run.replicas:
        replica.rss["start"] = replica.rss["peak"] = rss_mb(replica)
    run.t0 = time.monotonic()
    deadline = run.t0 + args.seconds

    async def sample() -> None:
        while time.monotonic() < deadline:
            for replica in run.replicas:
                if not replica.stopped:
                    replica.rss["peak"] = max(replica.rss["peak"], rss_mb(replica))
            await asyncio.sleep(1)

    async def lag() -> None:
        """How late this process's event loop wakes up: every time its clients record
        includes this much delay (they share the loop, and the machine)."""
        while time.monotonic() < deadline:
            asked = time.monotonic()
            await asyncio.sleep(0.1)
            run.lags.append(time.monotonic() - asked - 0.1)

    async def stop_one() -> None:
        await asyncio.sleep(max(0.0, run.t0 + args.stop_at - time.monotonic()))
        victim = run.victim
        assert victim is not None
        victim.rss["stop"] = rss_mb(victim)
        for replica in run.replicas:
            if replica is not victim:
                replica.rss["stop"] = rss_mb(replica)
        victim.stopped = True

        def stop() -> None:
            run.t_stop = time.monotonic()  # stop_app's first step sends SIGTERM
            stop_app(victim.app)

        await asyncio.to_thread(stop)
        run.t_exited = time.monotonic()
        run.stop_rc = victim.app.process.returncode

    if browsers is not None:
        sessions = [browsers.run_all(deadline)]
    else:
        sessions = [http_session(run, who, deadline) for who in session_home]
    await asyncio.gather(
        sample(),
        lag(),
        stop_one(),
        *(stream_client(run, who, urls, deadline) for who in clients),
        *sessions,
    )
    run.t_end = deadline  # what began later: none; what ended later: the last few
    for replica in run.replicas:
        if not replica.stopped:
            replica.rss["end"] = rss_mb(replica)
    if browsers is not None:
        await browsers.check_all()
    return {
        "stream_home": stream_home,
        "session_home": session_home,
        "sessions": browsers.sessions if browsers else [],
    }


# ----- the report -------------------------------------------------------------------------


def ms(values: list[float], fraction: float) -> str:
    return f"{percentile(values, fraction) * 1000:,.0f}" if values else "-"


def load_rows(run: Run, records: list[Request], by_kind: bool = False) -> list[list[object]]:
    """One row per phase and replica (and kind of browser action): clients, requests,
    errors, failovers, p50/p99, MB/s."""
    rows: list[list[object]] = []
    phases = (
        ("before the stop", run.t0, run.t_stop),
        ("after the stop", run.t_stop, run.t_end),
    )
    for phase, start, end in phases:
        taken = [r for r in records if start <= r.began < end]
        labels = [r.label for r in run.replicas] + [None]
        kinds = sorted({r.kind for r in records}) if by_kind else [None]
        for label, kind in [(label, kind) for label in labels for kind in kinds]:
            mine = [r for r in taken if r.replica == label and kind in (None, r.kind)]
            if not mine:
                continue
            name = label or "no answer"
            if run.victim is not None and label == run.victim.label:
                name += " (stopped)"
            if kind:
                name += f", {kind}es" if kind.endswith("h") else f", {kind}s"
            good = [r.first_byte for r in mine if r.first_byte is not None]
            rows.append(
                [
                    phase,
                    name,
                    len({r.who for r in mine}),
                    f"{len(mine):,}",
                    sum(r.error is not None for r in mine),
                    sum(r.failed_over for r in mine),
                    ms(good, 0.5),
                    ms(good, 0.99),
                    f"{sum(r.bytes for r in mine) / MB / max(end - start, 1e-9):.1f}",
                ]
            )
    return rows


def stop_rows(run: Run) -> list[list[object]]:
    """The stream failures around the stop and how soon every stream succeeded again."""
    around = [r for r in run.streams if r.ended >= run.t_stop and r.error is not None]
    kinds: dict[str, int] = {}
    for record in around:
        kinds[record.error] = kinds.get(record.error, 0) + 1
    failed = sorted({r.who for r in around})
    everyone = sorted({r.who for r in run.streams})
    rows: list[list[object]] = [
        ["failed requests (in flight at the stop or after it)", len(around)],
        ["  of which", ", ".join(f"{n} x {k}" for k, n in kinds.items()) or "-"],
        ["streams with a failure", f"{len(failed)} of {len(everyone)}"],
    ]
    if around:
        rows.append(
            [
                "failures seen between",
                f"+{min(r.ended for r in around) - run.t_stop:.2f} s and "
                f"+{max(r.ended for r in around) - run.t_stop:.2f} s after the stop",
            ]
        )

    def back(who: str) -> float | None:
        """When `who` next succeeded after its last failure (or after the stop)."""
        mine = [r for r in run.streams if r.who == who]
        since = max([r.ended for r in mine if r.error and r.ended >= run.t_stop], default=None)
        since = run.t_stop if since is None else since
        ok = [r.ended for r in mine if r.error is None and r.began >= since]
        return min(ok) - run.t_stop if ok else None

    if failed:
        times = [back(who) for who in failed]
        done = [t for t in times if t is not None]
        rows.append(
            [
                "each failed stream's next success after the stop",
                f"median {median(done):.2f} s, max {max(done):.2f} s"
                + (f"; {len(times) - len(done)} never" if len(done) < len(times) else ""),
            ]
        )
    every = [back(who) for who in everyone]
    rows.append(
        [
            "every stream succeeding again (each one's first success since the stop)",
            "never, for some"
            if None in every
            else f"+{max(t for t in every if t is not None):.2f} s after the stop",
        ]
    )
    over = [r for r in run.streams if r.failed_over]
    if over:
        rows.append(
            [
                "requests nginx passed on to the other replica (one refused or reset them)",
                f"{len(over):,}, of which {sum(r.error is not None for r in over)} failed",
            ]
        )
    return rows


def session_rows(run: Run, sessions: list[Session]) -> tuple[list[list[object]], list[str]]:
    """What became of the browser sessions, by the replica they were on at the stop."""
    notes: list[str] = []
    rows: list[list[object]] = []
    for replica in run.replicas:
        group = [s for s in sessions if s.replica == replica.label]
        if not group:
            continue
        stayed = signed_out = errored = 0
        usable: list[float] = []
        reconnects: list[float] = []
        before: list[float] = []
        after: list[float] = []
        failed_after: list[Request] = []
        for session in group:
            mine = [r for r in run.pages if r.who == session.who]
            before += [
                r.first_byte for r in mine if r.first_byte is not None and r.ended < run.t_stop
            ]
            later = [r for r in mine if r.ended >= run.t_stop]
            after += [r.first_byte for r in later if r.first_byte is not None]
            failed = [r for r in later if r.error and not r.signed_out]
            failed_after += failed
            if any(r.signed_out for r in later) or session.final == "signed out":
                signed_out += 1
                notes.append(f"{session.who}: shown the sign-in form after the stop")
                continue
            if replica is run.victim:
                opened = [o for o, _ in session.sockets if o >= run.t_stop]
                ok = [r.ended for r in later if r.error is None and opened and r.ended >= opened[0]]
                # The websocket open at the stop: the last opened before it (Playwright
                # reports no close for the websocket of a page navigated away from).
                old = [c for o, c in session.sockets if o < run.t_stop][-1:]
                closed = [c for c in old if c != float("inf")]
                at_stop = [r.kind for r in mine if r.began < run.t_stop <= r.ended]
                said = [f"{at_stop[0]} in flight at the stop"] if at_stop else []
                if closed:
                    said.append(f"websocket closed at +{closed[0] - run.t_stop:.2f} s")
                said.append(
                    f"new one at +{opened[0] - run.t_stop:.2f} s" if opened else "no new websocket"
                )
                if ok:
                    reconnects.append(opened[0] - run.t_stop)
                    usable.append(min(ok) - run.t_stop)
                    said.append(f"usable at +{usable[-1]:.2f} s")
                else:
                    said.append("no action succeeded after it before the end")
                said += [f"failed: {r.kind} {r.error}" for r in failed[:2]]
                said.append(f"one more search after the run: {session.final}")
                notes.append(f"{session.who}: " + "; ".join(said))
                if not ok and session.final != "signed in":
                    errored += 1
                    continue
            elif session.final != "signed in" and not any(r.error is None for r in later):
                errored += 1
                continue
            stayed += 1
        role = "stopped" if replica is run.victim else "kept"
        rows.append(
            [
                f"{replica.label} ({role})",
                len(group),
                stayed,
                signed_out,
                errored,
                len(failed_after),
                f"{median(reconnects):.2f} / {max(reconnects):.2f}" if reconnects else "-",
                (f"{median(usable):.2f} / {max(usable):.2f}" if usable else "-")
                + (f" ({len(usable)} of {len(group)})" if 0 < len(usable) < len(group) else ""),
                ms(before, 0.5),
                ms(after, 0.5),
            ]
        )
    return rows, notes


def websocket_notes(run: Run, folder: Path, offset: float) -> list[str]:
    """Where nginx sent each session's websockets, before and after the stop (from its log:
    a line each, written when the websocket closes; `offset` is wall minus monotonic time)."""
    log = folder / "websockets.log"
    if not log.exists():
        return ["(no websocket log: --balance ip_hash runs tests/proxy.py's config as is)"]
    before: dict[str, int] = {}
    after: dict[str, int] = {}
    through: dict[str, int] = {}
    for line in log.read_text().splitlines():
        parts = line.split(" ")
        ended, took, upstream = parts[0], parts[1], " ".join(parts[3:-1])
        opened = float(ended) - float(took) - offset  # on the monotonic clock
        label, failed_over = run.replica_of(upstream)
        counts = after if opened >= run.t_stop else before
        counts[label or "?"] = counts.get(label or "?", 0) + 1
        if failed_over:
            through[label or "?"] = through.get(label or "?", 0) + 1
    return [
        "websockets opened before the stop, by replica: "
        + (", ".join(f"{k} {v}" for k, v in sorted(before.items())) or "none"),
        "websockets opened after it: "
        + (", ".join(f"{k} {v}" for k, v in sorted(after.items())) or "none")
        + (
            f" ({', '.join(f'{v} to {k}' for k, v in through.items())} after the stopped one "
            "refused)"
            if through
            else ""
        ),
    ]


def nginx_errors(folder: Path) -> str:
    """What nginx's error log says, counted by kind (a replica refusing, one going away)."""
    log = folder / "error.log"
    lines = log.read_text().splitlines() if log.exists() else []
    kinds = {
        "connect() refused": "(111: Connection refused) while connecting",
        "replica marked down": "server temporarily disabled",
        "upstream closed early": "upstream prematurely closed",
        "upstream reset": "reset by peer",
    }
    counts = {name: sum(text in line for line in lines) for name, text in kinds.items()}
    other = [line for line in lines if not any(text in line for text in kinds.values())]
    said = ", ".join(f"{n} x {name}" for name, n in counts.items() if n) or "nothing"
    for line in other[:3]:  # the message only: the request line would show a media token
        said += f"\n    other: {line.split('*', 1)[-1].split(', client:')[0][:160]}"
    return said


def report(run: Run, result: dict, folder: Path, offset: float) -> None:
    args = run.args
    victim = run.victim
    assert victim is not None
    survivor = next(r for r in run.replicas if r is not victim)
    print(
        f"\n## Two replicas behind nginx, {victim.label} stopped at {args.stop_at:.0f} s\n\n"
        f"{args.clients} streaming clients + {args.sessions} {args.sessions_kind} sessions for "
        f"{run.t_end - run.t0:.0f} s through nginx ({args.balance} balancing) to two replicas "
        f"on one {args.backend} library ({TITLES} x {TITLE_BYTES >> 20} MiB titles), both "
        "started without HOMEMOVIES_COOKIE_KEY.\n"
        f"{machine()} at the end."
    )
    homes = result["stream_home"]
    spread = ", ".join(
        f"{r.label} {sum(h == r.label for h in homes.values())}" for r in run.replicas
    )
    sessions = ", ".join(
        f"{r.label} {sum(h == r.label for h in result['session_home'].values())}"
        for r in run.replicas
    )
    print(f"Streams by replica when the clock started: {spread}; sessions: {sessions}.")
    if args.balance == "ip_hash":
        print(
            "ip_hash: every loopback client is 127.0.0.x, so nginx sent them all to one "
            "replica; --balance client spreads them as distinct visitors would be."
        )
    print(
        f"This process's event loop (all the clients and the browser driver) woke up late by "
        f"{ms(run.lags, 0.5)} ms p50, {ms(run.lags, 0.99)} ms p99, "
        f"{max(run.lags, default=0) * 1000:,.0f} ms at most: every time below includes that."
    )
    print(
        f"{victim.label} was sent SIGTERM at {run.t_stop - run.t0:.1f} s and exited "
        f"{run.t_exited - run.t_stop:.2f} s later (return code {run.stop_rc}).\n"
    )
    headers = [
        "phase",
        "replica",
        "clients",
        "requests",
        "errors",
        "failed over",
        "first byte p50 ms",
        "p99 ms",
        "MB/s",
    ]
    print("Streams (Range requests through signed media URLs):\n")
    print(table(headers, load_rows(run, run.streams)))
    label = "browser actions" if args.sessions_kind == "browser" else "page reloads over HTTP"
    page_headers = [*headers[:6], "whole p50 ms", "p99 ms", "MB/s"]
    page_rows = load_rows(run, run.pages, by_kind=args.sessions_kind == "browser")
    if args.sessions_kind == "browser":  # what a search or reload moves is not the point
        page_headers, page_rows = page_headers[:-1], [row[:-1] for row in page_rows]
    print(f"\nSessions ({label}; a browser action's replica is its page's):\n")
    print(table(page_headers, page_rows))
    for kind in sorted({r.error for r in run.streams + run.pages if r.error}):
        count = sum(r.error == kind for r in run.streams + run.pages)
        print(f"    {count} x {kind}")
    print("\nAround the stop (streams):\n")
    print(table(["", "value"], stop_rows(run)))
    print("\nServer RSS (MB):\n")
    print(
        table(
            ["replica", "at the start", "at the stop", "at the end", "peak (1 s samples)"],
            [
                [
                    f"{r.label} ({'stopped' if r is victim else 'kept'})",
                    f"{r.rss['start']:.0f}",
                    f"{r.rss.get('stop', float('nan')):.0f}",
                    "-" if r is victim else f"{r.rss['end']:.0f}",
                    f"{r.rss['peak']:.0f}",
                ]
                for r in run.replicas
            ],
        )
    )
    growth = survivor.rss["end"] - survivor.rss["start"]
    print(f"{survivor.label} grew by {growth:+.0f} MB over the run.")
    if result["sessions"]:
        rows, notes = session_rows(run, result["sessions"])
        print("\nBrowser sessions, by the replica they were signed in on:\n")
        print(
            table(
                [
                    "replica",
                    "sessions",
                    "stayed signed in",
                    "signed out",
                    "errored",
                    "failed actions after stop",
                    "new websocket s (median / max)",
                    "usable again s (median / max)",
                    "action p50 ms before",
                    "after",
                ],
                rows,
            )
        )
        for note in [*notes, *websocket_notes(run, folder, offset)]:
            print(f"- {note}")
    before = [r for r in run.streams + run.pages if r.began < run.t_stop and r.error]
    print(f"\nerrors before the stop: {len(before)} (target 0)")
    tracebacks = ", ".join(f"{r.label} {len(r.app.unhandled_errors())}" for r in run.replicas)
    print(f"unhandled tracebacks in the replicas' logs: {tracebacks}")
    print(f"nginx's error log: {nginx_errors(folder)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--sessions-kind", choices=["browser", "http"], default="browser")
    parser.add_argument(
        "--stop-at", type=float, help="seconds into the run (default: half of --seconds)"
    )
    parser.add_argument("--backend", choices=["oci", "local"], default="oci")
    parser.add_argument("--balance", choices=["client", "ip_hash"], default="client")
    args = parser.parse_args()
    if args.stop_at is None:
        args.stop_at = args.seconds / 2
    if not 0 < args.stop_at < args.seconds:
        parser.error("--stop-at must fall within --seconds")
    root = Path(tempfile.mkdtemp(prefix="homemovies-replicas-"))
    try:
        names = build_library(root / "library")
        with (
            backend(args.backend, root) as (flags, storage),
            replicas(flags) as reps,
            scratch_dir("bench-replicas-nginx-") as tmp,
        ):

            def none_kept() -> str:
                raise RuntimeError("the replicas kept no cookie key in the backend")

            key = shared_key(storage, "cookie", none_kept)
            with balancer(args.balance, [r.address for r in reps], Path(tmp)) as front:
                run = Run(args, front, reps, key)
                offset = time.time() - time.monotonic()
                result = asyncio.run(measure(run, names))
            report(run, result, Path(tmp), offset)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
