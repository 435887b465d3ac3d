"""Timestamp and duration formats of the two services, in one place.

Tempo writes UTC instants as ``2021-01-25T19:08:43Z`` (as recorded from the live API) and
``startDateTimeUtc`` with milliseconds (as in the official example). Jira writes
``2021-01-17T12:34:00.000+0000``: milliseconds and an RFC 822 offset, never ``Z``.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

_JIRA_STARTED = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})([+-])(\d{2})(\d{2})$")
_TEMPO_TIME = re.compile(r"^([0-1]?[0-9]|2[0-3])(:[0-5][0-9])(:[0-5][0-9])$")
_UPDATED_FROM = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}:\d{2})(\.\d{1,3})?(Z)?)?$")
_DURATION_PART = re.compile(r"(\d+)\s*([wdhm])", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(?:\d+\s*[wdhm]\s*)+$", re.IGNORECASE)

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# Jira Cloud's default time tracking settings: 8 hours a day, 5 days a week.
_UNIT_SECONDS = {"w": 5 * 8 * 3600, "d": 8 * 3600, "h": 3600, "m": 60}


def iso_z(instant: datetime) -> str:
    """An instant in Tempo's ``createdAt`` format, to the second."""
    return epoch_text(math.floor(instant.timestamp()))


def parse_iso_z(text: str) -> datetime:
    """Parse a timestamp this module wrote."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@lru_cache(maxsize=65536)
def epoch_ms(text: str) -> int:
    """Milliseconds since 1970 of a timestamp this module wrote (Jira's change feeds count in them)."""
    return round(parse_iso_z(text).timestamp() * 1000)


def jira_timestamp(instant: datetime, offset: str = "+0000") -> str:
    """An instant in Jira's format, shown at the given ``+HHMM`` offset."""
    shifted = instant.astimezone(offset_timezone(offset))
    return shifted.strftime("%Y-%m-%dT%H:%M:%S.000") + offset


@lru_cache(maxsize=512)
def offset_timezone(offset: str) -> timezone:
    sign = -1 if offset[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))


@lru_cache(maxsize=65536)
def utc_offset(zone: str, day: date, hour: int) -> str:
    """The ``+HHMM`` offset of an IANA zone during one local hour of a day."""
    local = datetime.combine(day, time(hour), tzinfo=ZoneInfo(zone))
    delta = local.utcoffset() or timedelta(0)
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


@lru_cache(maxsize=512)
def offset_seconds(offset: str) -> int:
    sign = -1 if offset[0] == "-" else 1
    return sign * (int(offset[1:3]) * 3600 + int(offset[3:5]) * 60)


@lru_cache(maxsize=65536)
def day_text(days_since_epoch: int) -> str:
    """``YYYY-MM-DD`` of a day counted from 1970-01-01."""
    return date.fromordinal(_EPOCH_ORDINAL + days_since_epoch).isoformat()


@lru_cache(maxsize=86_400)
def clock_text(seconds_of_day: int) -> str:
    """``HH:MM:SS`` of a number of seconds after midnight."""
    return f"{seconds_of_day // 3600:02d}:{seconds_of_day % 3600 // 60:02d}:{seconds_of_day % 60:02d}"


def epoch_text(epoch_seconds: int, *, millis: bool = False) -> str:
    """A UTC instant given in seconds since 1970, as Tempo writes it (see module docstring)."""
    days, seconds = divmod(epoch_seconds, 86_400)
    suffix = ".000Z" if millis else "Z"
    return f"{day_text(days)}T{clock_text(seconds)}{suffix}"


def parse_jira_started(text: str) -> tuple[date, time, str] | None:
    """Split Jira's ``started`` into local date, local time and offset; None if malformed."""
    match = _JIRA_STARTED.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, _millis, sign, off_h, off_m = match.groups()
    try:
        local_day = date(int(year), int(month), int(day))
        local_time = time(int(hour), int(minute), int(second))
    except ValueError:
        return None
    if int(off_h) > 14 or int(off_m) > 59:
        return None
    return local_day, local_time, f"{sign}{off_h}{off_m}"


def parse_tempo_date(text: object) -> date | None:
    """A ``YYYY-MM-DD`` calendar date, or None when the text is anything else."""
    if not isinstance(text, str) or len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_tempo_time(text: object) -> time | None:
    """Tempo's ``startTime`` (``H:mm:ss`` or ``HH:mm:ss``), or None when malformed."""
    if not isinstance(text, str) or _TEMPO_TIME.match(text) is None:
        return None
    hour, minute, second = (int(part) for part in text.split(":"))
    return time(hour, minute, second)


def parse_updated_from(text: str, *, allow_millis: bool) -> datetime | None:
    """Tempo's ``updatedFrom``: ``yyyy-MM-dd['T'HH:mm:ss]['Z']``, read as UTC."""
    match = _UPDATED_FROM.match(text)
    if match is None or (match.group(3) and not allow_millis):
        return None
    day_text, clock_text, _millis, _zulu = match.groups()
    try:
        day = date.fromisoformat(day_text)
        at = time.fromisoformat(clock_text) if clock_text else time(0, 0)
    except ValueError:
        return None
    return datetime.combine(day, at, tzinfo=UTC)


def parse_jira_duration(text: str) -> int | None:
    """Jira's duration notation (``2d 4h 30m``; a bare number means minutes) in seconds."""
    stripped = text.strip()
    if stripped.isdigit():
        return int(stripped) * 60
    if not _DURATION.match(stripped):
        return None
    return sum(int(n) * _UNIT_SECONDS[unit.lower()] for n, unit in _DURATION_PART.findall(stripped))


def format_jira_duration(seconds: int) -> str:
    """Seconds in Jira's ``timeSpent`` notation, e.g. ``3h 20m``."""
    parts = []
    remaining = max(seconds, 0)
    for unit in ("w", "d", "h", "m"):
        count, remaining = divmod(remaining, _UNIT_SECONDS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts) or "0m"


def utc_text(day: date, seconds_of_day: int, offset: str, *, millis: bool = False) -> str:
    """The UTC instant of a local wall-clock time at a ``+HHMM`` offset, as Tempo writes it."""
    local = (day.toordinal() - _EPOCH_ORDINAL) * 86_400 + seconds_of_day
    return epoch_text(local - offset_seconds(offset), millis=millis)
