"""What navigating an OCI bucket costs, against the loopback OCI server of the tests.

python -m bench.oci_listing [FILES] [SEGMENTS]

A folder holds FILES videos and one `.hls` title of SEGMENTS segments. The table shows the
requests and wall time of opening the app's tabs (one delimiter listing per level, as the
app navigates) against a full scan of the same folder (what navigation must never do).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from lib.library import Library, Tab
from lib.services import build_storage
from lib.settings import Settings
from tests.conftest import OCI_TENANCY, OCI_USER, write_oci_config
from tests.oci_server import OciApiServer, new_key_pair, private_pem

BUCKET = "bench"


def main(files: int = 1500, segments: int = 10_000) -> None:
    server = OciApiServer().start()
    try:
        folder = Path(tempfile.mkdtemp())
        key, fingerprint = new_key_pair()
        (folder / "key.pem").write_bytes(private_pem(key))
        config = write_oci_config(folder / "config", folder / "key.pem", fingerprint)
        server.add_key(f"{OCI_TENANCY}/{OCI_USER}/{fingerprint}", key.public_key())
        for number in range(files):
            server.put_bytes(BUCKET, f"Many/clip{number:05d}.mp4", b"")
        for number in range(segments):
            server.put_bytes(BUCKET, f"Many/Huge.hls/output{number:05d}.ts", b"")
        server.put_bytes(BUCKET, "Many/Huge.hls/output.m3u8", b"#EXTM3U\n")
        storage = build_storage(
            Settings(bucket=BUCKET, os_endpoint=server.url, oci_config=str(config))
        )
        storage.namespace  # noqa: B018 - resolve it before timing

        rows = []
        for label, run in (
            ("open the tab (navigation)", lambda: Library(storage).videos(Tab("Many", "Many/"))),
            ("full scan of the folder", lambda: list(storage.scan("Many/"))),
        ):
            mark = server.mark()
            started = time.perf_counter()
            run()
            seconds = time.perf_counter() - started
            seen = server.since(mark)
            names = sum(1 for s in seen if s.method == "GET" and s.path.endswith("/o"))
            rows.append((label, len(seen), names, seconds))
    finally:
        server.stop()
    print(f"{files} files and a .hls title of {segments} segments in one folder")
    print(f"{'what':<28} {'requests':>8} {'listings':>8} {'seconds':>8}")
    for label, requests, listings, seconds in rows:
        print(f"{label:<28} {requests:>8} {listings:>8} {seconds:>8.2f}")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
