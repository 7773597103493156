"""Continue watching: the 5%/90% rules, debounced writes to the real local backend, bad files."""

from __future__ import annotations

import json
import logging
import math
import time

import pytest

from lib.library import Library
from lib.positions import Decision, Positions, decide
from lib.storage import Unavailable
from lib.storage.appstate import STATE_PREFIX
from lib.storage.local import LocalStorage

NAME = "Events/Long walk.mp4"


@pytest.mark.parametrize(
    ("position", "duration", "expected"),
    [
        (0.0, 100.0, Decision.IGNORE),
        (5.0, 100.0, Decision.IGNORE),  # "past 5%": exactly 5% is not yet
        (5.1, 100.0, Decision.SAVE),
        (50.0, 100.0, Decision.SAVE),
        (89.9, 100.0, Decision.SAVE),
        (90.0, 100.0, Decision.CLEAR),
        (100.0, 100.0, Decision.CLEAR),
        (10.0, 0.0, Decision.IGNORE),  # no duration known yet
        (10.0, -5.0, Decision.IGNORE),
        (math.nan, 100.0, Decision.IGNORE),
        (10.0, math.inf, Decision.IGNORE),  # a live stream has no end to measure against
    ],
)
def test_position_rules(position, duration, expected):
    assert decide(position, duration) is expected


class CountingStorage(LocalStorage):
    """The real local backend, counting writes."""

    def __init__(self, root):
        super().__init__(root)
        self.writes: list[str] = []

    def write(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        super().write(name, data, content_type)
        self.writes.append(name)


def wait_for(condition, timeout: float = 10.0) -> None:
    """Wait until `condition()` holds (the debounced write runs in a timer thread)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def stored(storage: LocalStorage, user: str) -> dict:
    return json.loads((storage.root / Positions.object_name(user)).read_bytes())


def test_saved_position_reaches_storage_and_a_new_process_reads_it(tmp_path):
    storage = LocalStorage(tmp_path)
    positions = Positions(storage)
    assert positions.report("Mum", NAME, 12.0, 40.0) is Decision.SAVE
    wait_for(lambda: (tmp_path / Positions.object_name("mum")).exists())
    assert stored(storage, "mum")["positions"][NAME]["position"] == 12.0
    fresh = Positions(LocalStorage(tmp_path))
    resume = fresh.get("mum", NAME)
    assert (resume.position, resume.duration) == (12.0, 40.0)
    assert [r.name for r in fresh.resume_list("MUM")] == [NAME]


def test_state_lives_under_the_hidden_prefix_and_never_becomes_a_tab(tmp_path):
    (tmp_path / "Years").mkdir()
    (tmp_path / "Years" / "2024.mp4").write_bytes(b"x")
    positions = Positions(LocalStorage(tmp_path))
    positions.report("mum", "Years/2024.mp4", 30.0, 100.0)
    positions.close()
    assert Positions.object_name("mum") == f"{STATE_PREFIX}positions/mum.json"
    assert (tmp_path / ".homemovies" / "state" / "positions" / "mum.json").is_file()
    assert [tab.label for tab in Library(LocalStorage(tmp_path)).tabs()] == ["Years"]


def test_watched_title_is_cleared(tmp_path):
    storage = LocalStorage(tmp_path)
    positions = Positions(storage)
    positions.report("mum", NAME, 20.0, 40.0)
    assert positions.report("mum", NAME, 36.0, 40.0) is Decision.CLEAR
    positions.close()
    assert positions.get("mum", NAME) is None
    assert stored(storage, "mum")["positions"] == {}


def test_going_back_before_5_percent_keeps_the_saved_position(tmp_path):
    positions = Positions(LocalStorage(tmp_path))
    positions.report("mum", NAME, 20.0, 40.0)
    assert positions.report("mum", NAME, 1.0, 40.0) is Decision.IGNORE
    assert positions.get("mum", NAME).position == 20.0


def test_users_have_their_own_positions(tmp_path):
    positions = Positions(LocalStorage(tmp_path))
    positions.report("mum", NAME, 20.0, 40.0)
    assert positions.get("dad", NAME) is None
    assert positions.resume_list("dad") == []


def test_reports_are_debounced_into_few_writes(tmp_path):
    storage = CountingStorage(tmp_path)
    positions = Positions(storage, interval=3600)
    positions.report("mum", NAME, 10.0, 40.0)
    wait_for(lambda: len(storage.writes) == 1)  # the first report is written at once
    for second in range(11, 31):
        positions.report("mum", NAME, float(second), 40.0)
    assert len(storage.writes) == 1  # the rest wait for the interval (an hour here)
    positions.close()  # shutdown writes what is pending
    assert len(storage.writes) == 2
    assert stored(storage, "mum")["positions"][NAME]["position"] == 30.0


def test_trailing_write_lands_after_the_interval(tmp_path):
    storage = CountingStorage(tmp_path)
    positions = Positions(storage, interval=0.2)
    positions.report("mum", NAME, 10.0, 40.0)
    wait_for(lambda: len(storage.writes) == 1)
    positions.report("mum", NAME, 11.0, 40.0)
    positions.report("mum", NAME, 12.0, 40.0)
    wait_for(lambda: len(storage.writes) == 2)
    assert stored(storage, "mum")["positions"][NAME]["position"] == 12.0


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe garbage",
        b"[]",
        b'{"positions": {"Events/Long walk.mp4": {"position": "half"}}}',
        b"",
    ],
)
def test_corrupt_state_file_is_ignored_with_a_warning(tmp_path, caplog, content):
    storage = LocalStorage(tmp_path)
    storage.write(Positions.object_name("mum"), content)
    positions = Positions(storage)
    with caplog.at_level(logging.WARNING, logger="homemovies.positions"):
        assert positions.resume_list("mum") == []
    assert "ignoring saved positions of 'mum'" in caplog.text
    positions.report("mum", NAME, 20.0, 40.0)  # and the next save replaces the bad object
    positions.close()
    assert stored(storage, "mum")["positions"][NAME]["position"] == 20.0


class RefusingStorage(LocalStorage):
    def write(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        raise Unavailable("The storage refuses writes.")


def test_a_refused_write_is_logged_and_kept_for_later(tmp_path, caplog):
    positions = Positions(RefusingStorage(tmp_path), interval=3600)
    with caplog.at_level(logging.WARNING, logger="homemovies.positions"):
        positions.report("mum", NAME, 20.0, 40.0)
        positions.close()
    assert "cannot save positions of 'mum': The storage refuses writes." in caplog.text
    assert positions.get("mum", NAME).position == 20.0  # still known in this process
