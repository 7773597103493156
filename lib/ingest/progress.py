"""Progress on a terminal (rich bars) or in a log (a plain line every 10 % or 10 s)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from lib.format import format_duration, format_size

PLAIN_EVERY_PERCENT = 10.0
PLAIN_EVERY_SECONDS = 10.0


@dataclass(frozen=True)
class Row:
    """One line of the summary table."""

    title: str
    duration: float
    rungs: str
    size: int
    seconds: float
    result: str  # "added", "replaced", "failed: <why>", "would add"


class Reporter(Protocol):
    """Where the command tells what it does."""

    def encoding(
        self, title: str, duration: float
    ) -> AbstractContextManager[Callable[[float], None]]:
        """A context giving a callback for the percentage encoded."""
        ...

    def uploading(self, title: str) -> AbstractContextManager[Callable[[int, int], None]]:
        """A context giving a callback for (bytes sent, bytes to send)."""
        ...

    def say(self, text: str) -> None:
        """One line for the user."""
        ...

    def summary(self, rows: list[Row]) -> None:
        """The table at the end."""
        ...


def summary_table(rows: list[Row]) -> Table:
    """Title, duration, rungs, size, time and result of every input."""
    table = Table(title="homemovies ingest")
    for column in ("Title", "Duration", "Rungs", "Size", "Time", "Result"):
        table.add_column(column, justify="right" if column in ("Size", "Time") else "left")
    for row in rows:
        table.add_row(
            row.title,
            format_duration(row.duration) if row.duration else "",
            row.rungs,
            format_size(row.size) if row.size else "",
            f"{row.seconds:.1f} s",
            row.result,
        )
    return table


class TerminalReporter:
    """Live bars: encoding (percentage, speed x real time, ETA), upload (bytes, MiB/s, ETA)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)

    @contextmanager
    def encoding(self, title: str, duration: float) -> Iterator[Callable[[float], None]]:
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[speed]}"),
            TimeRemainingColumn(),
        )
        started = time.monotonic()
        with Progress(*columns, console=self.console, transient=False) as bars:
            task = bars.add_task(f"encode {title}", total=100.0, speed="")

            def update(percent: float) -> None:
                elapsed = max(time.monotonic() - started, 1e-3)
                speed = duration * percent / 100.0 / elapsed
                bars.update(task, completed=percent, speed=f"{speed:.2f}x")

            yield update

    @contextmanager
    def uploading(self, title: str) -> Iterator[Callable[[int, int], None]]:
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=self.console) as bars:
            task = bars.add_task(f"upload {title}", total=None)

            def update(done: int, total: int) -> None:
                bars.update(task, completed=done, total=total)

            yield update

    def say(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def summary(self, rows: list[Row]) -> None:
        self.console.print(summary_table(rows))


class PlainReporter:
    """Plain lines, at most one every 10 % or 10 s per bar (for logs and containers)."""

    def __init__(self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic):
        self.stream = stream or sys.stderr
        self.clock = clock

    def _throttled(self, label: str) -> Callable[[float, str], None]:
        state = {"percent": -PLAIN_EVERY_PERCENT, "at": -PLAIN_EVERY_SECONDS}

        def emit(percent: float, detail: str) -> None:
            now = self.clock()
            due = percent - state["percent"] >= PLAIN_EVERY_PERCENT
            if (
                due
                or now - state["at"] >= PLAIN_EVERY_SECONDS
                or percent >= 100.0 > state["percent"]
            ):
                state.update(percent=percent, at=now)
                self.say(f"{label}: {percent:.0f} %{detail}")

        return emit

    @contextmanager
    def encoding(self, title: str, duration: float) -> Iterator[Callable[[float], None]]:
        emit = self._throttled(f"encoding {title}")
        started = self.clock()

        def update(percent: float) -> None:
            elapsed = max(self.clock() - started, 1e-3)
            emit(percent, f", {duration * percent / 100.0 / elapsed:.2f}x real time")

        yield update

    @contextmanager
    def uploading(self, title: str) -> Iterator[Callable[[int, int], None]]:
        emit = self._throttled(f"uploading {title}")
        started = self.clock()

        def update(done: int, total: int) -> None:
            rate = done / max(self.clock() - started, 1e-3) / 2**20
            emit(100.0 * done / total if total else 100.0, f", {rate:.1f} MiB/s")

        yield update

    def say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def summary(self, rows: list[Row]) -> None:
        Console(file=self.stream, width=120, color_system=None).print(summary_table(rows))


def reporter_for(stream: TextIO | None = None) -> Reporter:
    """Bars on a terminal, plain lines otherwise."""
    stream = stream or sys.stderr
    return TerminalReporter() if stream.isatty() else PlainReporter(stream)
