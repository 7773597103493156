"""Publishing a title into a backend by uploads: a replaced title is whole once the publish ends."""

from __future__ import annotations

from pathlib import Path

from lib.ingest.publish import MASTER, BucketPublisher, folder_items
from lib.storage.local import LocalStorage

PREFIX = "Events/Party.hls/"


def title(folder: Path, segment: bytes, master: bytes = b"#EXTM3U\nv0/index.m3u8\n") -> Path:
    (folder / "v0").mkdir(parents=True)
    (folder / "v0" / "index.m3u8").write_bytes(b"#EXTM3U\nseg0.ts\n")
    (folder / "v0" / "seg0.ts").write_bytes(segment)
    (folder / MASTER).write_bytes(master)
    return folder


def names(storage: LocalStorage) -> set[str]:
    return {info.name for info in storage.scan(PREFIX)}


def test_a_replaced_title_whose_master_is_unchanged_keeps_its_master(tmp_path: Path) -> None:
    (tmp_path / "library").mkdir()
    storage = LocalStorage(tmp_path / "library")
    publisher = BucketPublisher(storage)
    publisher.publish(PREFIX, "Party", folder_items(title(tmp_path / "first", b"A" * 100)))
    again = folder_items(title(tmp_path / "second", b"B" * 100))  # same sizes, new bytes
    sent = publisher.publish(PREFIX, "Party", again)
    assert publisher.exists(PREFIX)
    assert names(storage) == {PREFIX + item.name for item in again}
    assert b"".join(storage.read(PREFIX + "v0/seg0.ts", 0, 99)) == b"B" * 100
    assert sent.objects == 2 and sent.skipped == 1  # the segment and the master; the variant


def test_publishing_the_same_title_twice_sends_nothing(tmp_path: Path) -> None:
    (tmp_path / "library").mkdir()
    storage = LocalStorage(tmp_path / "library")
    publisher = BucketPublisher(storage)
    items = folder_items(title(tmp_path / "first", b"A" * 100))
    publisher.publish(PREFIX, "Party", items)
    sent = publisher.publish(PREFIX, "Party", items)
    assert (sent.objects, sent.skipped) == (0, 3) and publisher.exists(PREFIX)
