"""The OCI backend through the real `oci` SDK against the loopback OCI server: listing and
pagination, reads, app-state writes, retries and the messages a user sees on failure."""

from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit

import oci as oci_sdk
import pytest

from lib.library import Kind, Library, Tab
from lib.links import media_url
from lib.services import build_storage
from lib.settings import Settings
from lib.storage import NotFound, Unavailable
from lib.storage.oci import LIST_FIELDS, OciStorage
from lib.storage.oci_auth import client_options, load_auth, retry_strategy
from tests.conftest import (
    ADMIN,
    OCI_BUCKET,
    app_env,
    free_port,
    start_app,
    stop_app,
    write_oci_config,
)
from tests.loopback import settings_for
from tests.media_tokens import SIGNER
from tests.oci_server import Fault, new_key_pair, private_pem

BIG_BUCKET = "big-library"
MANY_FILES = 1500
SEGMENTS = 10_000


@pytest.fixture
def storage(oci) -> OciStorage:
    return build_storage(settings_for(oci))


@pytest.fixture(scope="module")
def big(oci) -> OciStorage:
    """A bucket with 1,500 files in one folder and a .hls title of 10,000 segments."""
    for number in range(MANY_FILES):
        oci.server.put_bytes(BIG_BUCKET, f"Many/clip{number:04d}.mp4", b"")
    for number in range(SEGMENTS):
        oci.server.put_bytes(BIG_BUCKET, f"Many/Huge.hls/output{number:05d}.ts", b"")
    oci.server.put_bytes(BIG_BUCKET, "Many/Huge.hls/output.m3u8", b"#EXTM3U\n")
    oci.server.put_bytes(BIG_BUCKET, "Top.mp4", b"")
    return build_storage(settings_for(oci, BIG_BUCKET))


def listings(seen) -> list:
    return [s for s in seen if s.method == "GET" and s.path.endswith("/o")]


def test_navigation_pages_through_1500_files_without_enumerating_segments(oci, big):
    mark = oci.server.mark()
    library = Library(big)
    assert library.tabs() == [Tab("Many", "Many/"), Tab("Unsorted", "")]
    videos = library.videos(Tab("Many", "Many/"))
    assert len(videos) == MANY_FILES + 1
    huge = next(video for video in videos if video.name == "Many/Huge.hls/")
    assert huge.kind is Kind.HLS
    calls = listings(oci.server.since(mark))
    # The root: one page. The folder: 1,000 entries, then the rest from nextStartWith.
    assert [c.query.get("prefix") for c in calls] == ["", "Many/", "Many/"]
    assert all(c.query["delimiter"] == "/" for c in calls)
    assert all(c.query["fields"] == LIST_FIELDS for c in calls)
    assert "start" not in calls[1].query and calls[2].query["start"] == "Many/clip0999.mp4"
    assert not any(c.query.get("prefix", "").startswith("Many/Huge.hls/") for c in calls)
    # What touches the HLS folder: a HEAD of its playlist and one of its (optional) poster.
    inside = [s for s in oci.server.since(mark) if "Huge.hls" in s.path]
    assert sorted((s.method, s.path.rsplit("/", 1)[-1]) for s in inside) == [
        ("HEAD", "output.m3u8"),
        ("HEAD", "poster.jpg"),
    ]


def test_a_folder_listing_returns_the_hls_folder_as_one_prefix(oci, big):
    listing = big.list("Many/")
    assert listing.prefixes == ("Many/Huge.hls/",)
    assert len(listing.objects) == MANY_FILES
    assert listing.objects[0].name == "Many/clip0000.mp4"


def test_scan_yields_lazily_across_pages(oci, big):
    mark = oci.server.mark()
    scan = big.scan("Many/")
    first = [next(scan) for _ in range(3)]
    assert [info.name for info in first] == [
        "Many/Huge.hls/output.m3u8",  # name order: 'H' sorts before 'c'
        "Many/Huge.hls/output00000.ts",
        "Many/Huge.hls/output00001.ts",
    ]
    assert len(listings(oci.server.since(mark))) == 1
    rest = list(scan)
    assert len(first) + len(rest) == MANY_FILES + SEGMENTS + 1
    calls = listings(oci.server.since(mark))
    assert len(calls) == 12  # 11,501 objects, 1,000 a page
    assert all("delimiter" not in c.query for c in calls)
    assert "storageTier" in calls[0].query["fields"]
    assert rest[-1].storage_tier == "Standard"


def test_stat_and_ranged_read(storage, fixture_library):
    data = (fixture_library.root / "Years/2024.mp4").read_bytes()
    info = storage.stat("Years/2024.mp4")
    assert info.size == len(data) and info.etag and info.modified is not None
    assert b"".join(storage.read("Years/2024.mp4", 10, 5000)) == data[10:5001]


def test_read_is_one_ranged_get_streamed_in_chunks(oci, fixture_library):
    storage = OciStorage(
        oci_sdk.object_storage.ObjectStorageClient(
            **client_options(load_auth(settings_for(oci).oci_credentials), oci.url, None)
        ),
        OCI_BUCKET,
        chunk_size=4096,
    )
    mark = oci.server.mark()
    chunks = list(storage.read("Years/2024.mp4", 0, 20_000))
    assert [len(c) for c in chunks] == [4096] * 4 + [20_001 - 4 * 4096]
    gets = [s for s in oci.server.since(mark) if s.method == "GET" and "/o/" in s.path]
    assert [(g.status, g.body_bytes) for g in gets] == [(206, 20_001)]


def test_closing_a_read_early_closes_the_upstream_response(storage):
    body = storage.read("Years/2024.mp4", 0, 60_000)
    next(body)
    body.close()
    assert body.closed


def test_missing_object_is_not_found(storage):
    with pytest.raises(NotFound):
        storage.stat("Years/nothing.mp4")
    with pytest.raises(NotFound):
        storage.read("Years/nothing.mp4", 0, 1)
    with pytest.raises(NotFound):
        storage.delete(".homemovies/never-written.json")


def test_write_then_scan_then_delete_app_state(oci, storage):
    # A folder of its own: the apps under test keep their state in this bucket too.
    folder = ".homemovies/test-write-scan-delete/"
    storage.write(folder + "admin.json", b'{"Years/2024.mp4": 12.5}')
    found = list(storage.scan(folder))
    assert [info.name for info in found] == [folder + "admin.json"]
    assert b"".join(storage.read(found[0].name, 0, found[0].size - 1)) == (
        b'{"Years/2024.mp4": 12.5}'
    )
    storage.delete(folder + "admin.json")
    assert list(storage.scan(folder)) == []


def test_usage_reads_the_approximate_bucket_totals(oci, storage, fixture_library):
    app_state = list(storage.scan(".homemovies/"))  # written by the apps the tests run
    count, size = storage.usage()
    assert count == len(fixture_library.sizes) + len(app_state)
    assert size == sum(fixture_library.sizes.values()) + sum(info.size for info in app_state)
    request = oci.server.requests("GET", f"/b/{OCI_BUCKET}")[-1]
    assert request.query == {"fields": "approximateCount,approximateSize"}


def test_throttled_listing_is_retried(oci, storage):
    fault = oci.server.inject(Fault("status", path_contains="/o", status=429, times=1))
    mark = oci.server.mark()
    assert storage.list("Years/").prefixes == (
        "Years/2022.hls/",
        "Years/Broken.hls/",
        "Years/Variants.hls/",
        "Years/deeper/",
    )
    assert fault.hits == 1
    assert [c.status for c in listings(oci.server.since(mark))] == [429, 200]


def test_start_of_a_read_is_retried_after_a_500(oci, storage, fixture_library):
    oci.server.inject(Fault("status", path_contains="/o/Years/2024.mp4", status=500))
    data = b"".join(storage.read("Years/2024.mp4", 0, 99))
    assert data == (fixture_library.root / "Years/2024.mp4").read_bytes()[:100]


def test_slow_first_byte_times_out_and_is_retried(oci):
    options = client_options(load_auth(settings_for(oci).oci_credentials), oci.url, None)
    client = oci_sdk.object_storage.ObjectStorageClient(**{**options, "timeout": (10, 1.0)})
    storage = OciStorage(client, OCI_BUCKET)
    fault = oci.server.inject(Fault("slow", path_contains="/o/Root clip.mp4", delay=4))
    mark = oci.server.mark()
    assert len(b"".join(storage.read("Root clip.mp4", 0, 999))) == 1000
    assert fault.hits == 1
    assert len([s for s in oci.server.since(mark) if s.method == "GET"]) == 2


def test_connection_dropped_mid_body_is_unavailable(oci, storage):
    oci.server.inject(Fault("drop", path_contains="/o/Events/Wedding.mp4", after_bytes=3000))
    body = storage.read("Events/Wedding.mp4", 0, 29_999)
    with pytest.raises(Unavailable, match="connection to OCI broke while sending"):
        b"".join(body)
    assert body.closed


def test_persistent_500_gives_up_with_a_clear_message(oci, storage):
    fault = oci.server.inject(Fault("status", path_contains="/o", status=500, times=100))
    try:
        with pytest.raises(Unavailable) as caught:
            storage.list("Events/")
    finally:
        oci.server.clear_faults()
    assert fault.hits == 4  # the first try and three retries
    assert str(caught.value) == (
        "OCI answered 500 InternalServerError for 'Events/' in bucket family-videos; "
        "try again shortly."
    )


def test_persistent_throttling_says_so(oci):
    # Two tries, not the app's four: a throttled retry waits 1-2 s, then 2-4 s, then 4-8 s.
    options = client_options(load_auth(settings_for(oci).oci_credentials), oci.url, None)
    options["retry_strategy"] = retry_strategy(max_attempts=2)
    storage = OciStorage(oci_sdk.object_storage.ObjectStorageClient(**options), OCI_BUCKET)
    fault = oci.server.inject(Fault("status", path_contains="/o", status=429, times=2))
    with pytest.raises(Unavailable, match=r"^OCI is throttling this app.s requests"):
        storage.list("Events/")
    assert fault.hits == 2  # retried, and throttled again


def test_unknown_bucket_says_bucket_not_found(oci):
    with pytest.raises(Unavailable) as caught:
        build_storage(settings_for(oci, "no-such-bucket")).list("")
    assert str(caught.value).startswith("Bucket not found, or these OCI credentials may not read")
    assert "no-such-bucket" in str(caught.value)


def test_unknown_key_is_refused_with_401(oci, tmp_path):
    key, fingerprint = new_key_pair()
    (tmp_path / "other.pem").write_bytes(private_pem(key))
    config = write_oci_config(tmp_path / "config", tmp_path / "other.pem", fingerprint)
    settings = Settings(bucket=OCI_BUCKET, os_endpoint=oci.url, oci_config=str(config))
    mark = oci.server.mark()
    with pytest.raises(Unavailable) as caught:
        build_storage(settings).list("")
    assert str(caught.value).startswith(
        "OCI refused the credentials for the Object Storage namespace (401 NotAuthenticated)"
    )
    assert [s.status for s in oci.server.since(mark)] == [401]
    assert str(tmp_path) not in str(caught.value)


def test_unreachable_endpoint_says_so(oci):
    endpoint = f"http://127.0.0.1:{free_port()}"
    settings = Settings(bucket=OCI_BUCKET, os_endpoint=endpoint, oci_config=str(oci.config_path))
    with pytest.raises(Unavailable) as caught:
        build_storage(settings).list("")
    assert str(caught.value) == (
        f"The OCI endpoint {endpoint} cannot be reached for the Object Storage namespace; "
        "try again shortly."
    )


@pytest.fixture(autouse=True)
def no_faults_left(oci):
    """Every test starts and ends without injected faults."""
    oci.server.clear_faults()
    yield
    oci.server.clear_faults()


# ----- through the running app (`streamlit run` serving the loopback bucket) -----


def open_media(app_url: str, scope: str, timeout: float = 30) -> http.client.HTTPResponse:
    parts = urlsplit(app_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    connection.request("GET", media_url(SIGNER.issue(scope, ADMIN, 600), scope))
    return connection.getresponse()


def wait_for(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_a_viewer_going_away_closes_the_upstream_read(oci, oci_app, tmp_path):
    size = 64 * 1024 * 1024
    big = tmp_path / "huge.bin"
    with big.open("wb") as handle:
        handle.truncate(size)  # sparse: no 64 MiB written to disk
    oci.server.put_file(OCI_BUCKET, ".big/huge.bin", big)
    response = open_media(oci_app.url, ".big/huge.bin")
    assert response.status == 200 and response.headers["content-length"] == str(size)
    assert len(response.read(1024 * 1024)) == 1024 * 1024
    response.close()  # the viewer goes away
    upstream = oci.server.requests("GET", "/o/.big/huge.bin")
    assert len(upstream) == 1 and upstream[0].query == {}
    wait_for(lambda: upstream[0].disconnected)
    assert upstream[0].body_bytes < size


def test_a_connection_dropped_mid_body_ends_the_response_and_the_app_stays_up(
    oci, oci_app, fixture_library
):
    size = fixture_library.sizes["Events/Wedding.mp4"]
    oci.server.inject(Fault("drop", path_contains="/o/Events/Wedding.mp4", after_bytes=5000))
    response = open_media(oci_app.url, "Events/Wedding.mp4")
    assert response.status == 200 and response.headers["content-length"] == str(size)
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    assert 0 < len(caught.value.partial) < size
    again = open_media(oci_app.url, "Events/Wedding.mp4")
    assert again.status == 200 and len(again.read()) == size
    wait_for(lambda: "failed mid-stream" in oci_app.log())
    assert not oci_app.unhandled_errors()


@pytest.fixture(scope="module")
def impatient_app(oci):
    """The app serving the loopback bucket, giving up on OCI after 3 s (30 s unless set)."""
    env = app_env(HOMEMOVIES_OCI_TIMEOUT="3")
    app = start_app([*oci.flags(), "--username", ADMIN], env, "oci-impatient")
    yield app
    stop_app(app)


@pytest.mark.parametrize(
    ("status", "logged"), [(500, "500 InternalServerError"), (429, "throttling this app")]
)
def test_a_storage_outage_gets_503_then_the_media_route_recovers(
    oci, impatient_app, fixture_library, status, logged
):
    oci_app = impatient_app
    fault = Fault("status", path_contains="/o/Years/2024.mp4", status=status, times=1000)
    oci.server.inject(fault)
    try:
        # Tries for 3 s at most (the app's OCI timeout); the client would give up after 60 s.
        response = open_media(oci_app.url, "Years/2024.mp4", timeout=60)
        assert response.status == 503
        assert response.headers["retry-after"] == "5"
        assert response.read() == b"The video storage is not answering; try again shortly."
        assert fault.hits >= 2, "the SDK retried before giving up"
    finally:
        oci.server.clear_faults()
    again = open_media(oci_app.url, "Years/2024.mp4")
    assert again.status == 200
    assert again.read() == (fixture_library.root / "Years/2024.mp4").read_bytes()
    wait_for(lambda: logged in oci_app.log())
    assert not oci_app.unhandled_errors()


def test_a_stalled_storage_answer_ends_in_503_not_a_hanging_request(
    oci, impatient_app, fixture_library
):
    # The bucket holds the answer longer than the app's OCI timeout, which also spends the
    # retries' budget: the viewer gets a clear 503 instead of waiting forever.
    fault = oci.server.inject(Fault("slow", path_contains="/o/Years/2024.mp4", delay=6))
    response = open_media(impatient_app.url, "Years/2024.mp4", timeout=30)
    assert response.status == 503
    assert response.headers["retry-after"] == "5"
    assert response.read() == b"The video storage is not answering; try again shortly."
    assert fault.hits == 1
    again = open_media(impatient_app.url, "Years/2024.mp4")
    assert again.status == 200
    assert again.read() == (fixture_library.root / "Years/2024.mp4").read_bytes()
    assert not impatient_app.unhandled_errors()


def test_a_signature_from_the_wrong_key_is_refused(oci, tmp_path):
    impostor, _ = new_key_pair()
    (tmp_path / "impostor.pem").write_bytes(private_pem(impostor))
    # The registered key id (same fingerprint), signed with another private key.
    config = write_oci_config(tmp_path / "config", tmp_path / "impostor.pem", oci.fingerprint)
    settings = Settings(bucket=OCI_BUCKET, os_endpoint=oci.url, oci_config=str(config))
    mark = oci.server.mark()
    with pytest.raises(Unavailable, match="401 NotAuthenticated"):
        build_storage(settings).list("")
    assert [(s.status, s.signed_by) for s in oci.server.since(mark)] == [(401, None)]


# ----- the loopback server answers as OCI does (seen through the raw SDK client) -----


@pytest.fixture
def sdk(oci):
    return oci_sdk.object_storage.ObjectStorageClient(
        **client_options(load_auth(settings_for(oci).oci_credentials), oci.url, None)
    )


def test_server_pages_with_limit_and_next_start_with(oci, sdk):
    namespace = oci.server.namespace
    page = sdk.list_objects(namespace, OCI_BUCKET, prefix="Years/", delimiter="/", limit=2).data
    # Name order ('2' < 'B' < 'd'); a prefix is one entry of the two.
    assert page.prefixes == ["Years/2022.hls/"]
    assert [o.name for o in page.objects] == ["Years/2024.mp4"]
    assert page.next_start_with == "Years/Broken.hls/output000.ts"
    rest = sdk.list_objects(
        namespace,
        OCI_BUCKET,
        prefix="Years/",
        delimiter="/",
        start=page.next_start_with,
        fields="name,size",
    ).data
    assert rest.objects == [] and rest.next_start_with is None
    assert rest.prefixes == ["Years/Broken.hls/", "Years/Variants.hls/", "Years/deeper/"]
    # Only the fields asked for come back.
    assert page.objects[0].size is None and page.objects[0].time_created is None
    bare = sdk.list_objects(namespace, OCI_BUCKET, prefix="Years/2024", fields="name,size").data
    assert bare.objects[0].size == oci.server.bucket(OCI_BUCKET).objects["Years/2024.mp4"].size
    assert bare.objects[0].etag is None and bare.prefixes is None


def test_server_answers_416_for_a_range_outside_the_object(oci, sdk, fixture_library):
    size = fixture_library.sizes["Years/2024.mp4"]
    with pytest.raises(oci_sdk.exceptions.ServiceError) as caught:
        sdk.get_object(
            oci.server.namespace,
            OCI_BUCKET,
            "Years/2024.mp4",
            range=f"bytes={size}-",
            retry_strategy=oci_sdk.retry.NoneRetryStrategy(),
        )
    assert caught.value.status == 416 and caught.value.code == "InvalidRange"
    assert caught.value.headers["content-range"] == f"bytes */{size}"
    assert caught.value.headers["opc-request-id"]
