"""Progress without a terminal: a plain line at most every 10 % or 10 s; a summary table."""

from __future__ import annotations

import io

from lib.ingest.progress import PlainReporter, Row
from tests.conftest import FakeClock


def test_plain_progress_is_a_line_every_ten_percent_or_ten_seconds() -> None:
    stream, clock = io.StringIO(), FakeClock(0.0)
    reporter = PlainReporter(stream, clock)
    with reporter.encoding("Beach", duration=60.0) as update:
        for tenth in range(0, 1001):  # a report every 0.1 %, one per 10 ms
            clock.now = tenth * 0.01
            update(tenth / 10)
    lines = stream.getvalue().splitlines()
    assert [line.split(":")[1].split("%")[0].strip() for line in lines] == [
        str(p) for p in range(0, 101, 10)
    ]
    assert lines[-1].startswith("encoding Beach: 100 %") and "x real time" in lines[-1]


def test_slow_progress_still_reports_every_ten_seconds() -> None:
    stream, clock = io.StringIO(), FakeClock(0.0)
    reporter = PlainReporter(stream, clock)
    with reporter.uploading("Beach") as update:
        for second in range(0, 61):
            clock.now = float(second)
            update(second * 1024, 1_000_000)  # far less than 10 % a minute
    lines = stream.getvalue().splitlines()
    assert len(lines) == 7  # at 0, 10, 20 ... 60 s
    assert all("MiB/s" in line for line in lines)


def test_the_summary_is_a_table_of_every_input() -> None:
    stream = io.StringIO()
    PlainReporter(stream).summary(
        [
            Row("Beach", 65.0, "360p 540p 720p", 12_000_000, 31.2, "added"),
            Row("broken", 0, "", 0, 0.1, "failed"),
        ]
    )
    text = stream.getvalue()
    for cell in ("Beach", "360p 540p 720p", "11.4 MB", "31.2 s", "added", "broken", "failed"):
        assert cell in text
