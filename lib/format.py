"""How sizes, durations, playback positions and dates read on screen: one place for each."""

from __future__ import annotations

from datetime import UTC, datetime

SIZE_UNITS = ("B", "KB", "MB", "GB", "TB")  # of 1024: what file managers show


def format_size(size: float | None) -> str:
    """Return a size for people: '512 B', '3.4 MB', '1.25 TB' ('' when unknown)."""
    if size is None:
        return ""
    for unit in SIZE_UNITS:
        if abs(size) < 1024 or unit == SIZE_UNITS[-1]:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.3g} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def size_unit(size: float) -> tuple[str, int]:
    """Return the unit (label, bytes) that shows `size` as a number between 1 and 1024."""
    for power, unit in enumerate(SIZE_UNITS):
        if size < 1024 ** (power + 1) or unit == SIZE_UNITS[-1]:
            return unit, 1024**power
    raise AssertionError("unreachable")


def format_duration(seconds: float) -> str:
    """Return a length of time for people: '42 s', '3 min 20 s', '12 h 05 min'."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours:,} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def format_position(seconds: float) -> str:
    """Return a point in a title as players show it: '4:05', '1:02:03'."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_date(moment: datetime) -> str:
    """Return the day of a moment, as it was where it happened if it says: '12 Jun 2024'."""
    return moment.strftime("%d %b %Y").lstrip("0")


def format_utc(moment: float) -> str:
    """Return an epoch time as a date and time in UTC: '26 Nov 2026, 10:00 UTC'."""
    return datetime.fromtimestamp(moment, UTC).strftime("%d %b %Y, %H:%M UTC")


def format_expiry(expires: float, now: float) -> str:
    """Return when something expires: 'in 23 hours (26 Nov 2026, 10:00 UTC)'."""
    left = expires - now
    if left >= 2 * 86400:
        relative = f"in {left / 86400:.0f} days"
    elif left >= 2 * 3600:
        relative = f"in {left / 3600:.0f} hours"
    else:
        relative = f"in {max(left, 0) / 60:.0f} minutes"
    return f"{relative} ({format_utc(expires)})"
