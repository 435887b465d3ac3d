"""Plain-text tables and cell formats for the commands (``run``, ``status``, ``trace``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime

NONE = "-"


def render_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Collection[int] = (),
    footer: Sequence[str] | None = None,
) -> str:
    """Columns two spaces apart under a dashed rule.

    Columns whose index is in ``right`` (numbers) are right-aligned. A left-aligned last column
    (an error, a detail) is not padded and its rule is as long as its header.
    A ``footer`` (a total) goes under a second rule.
    """
    last = len(header) - 1
    every = [header, *rows, *([footer] if footer else [])]
    widths = [max(len(row[i]) for row in every) for i in range(len(header))]
    if last not in right:
        widths[last] = len(header[last])

    def line(row: Sequence[str]) -> str:
        cells = (
            cell.rjust(width) if i in right else cell if i == last else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * width for width in widths)
    lines = [line(header), rule, *(line(row) for row in rows)]
    if footer:
        lines += [rule, line(footer)]
    return "\n".join(lines)


def render_fields(pairs: Sequence[tuple[str, str]], *, indent: int = 2) -> str:
    """``label  value`` lines with the values aligned, for one record."""
    width = max((len(label) for label, _ in pairs), default=0)
    return "\n".join(f"{' ' * indent}{label.ljust(width)}  {value}".rstrip() for label, value in pairs)


def text(value: object) -> str:
    """A cell: ``-`` for null, the value's text otherwise."""
    return NONE if value is None else str(value)


def utc(value: datetime | None, *, millis: bool = False) -> str:
    """An instant in UTC to the second (or millisecond), without the offset; ``-`` for null."""
    if value is None:
        return NONE
    instant = value.astimezone(UTC)
    if millis:
        return instant.strftime("%Y-%m-%d %H:%M:%S.") + f"{instant.microsecond // 1000:03d}"
    return instant.strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    """``42 s``, ``3 m 05 s`` or ``2 h 01 m``; ``-`` for null."""
    if seconds is None:
        return NONE
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} m {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} m"


def truncate(value: str | None, limit: int) -> str:
    """The first ``limit`` characters on one line, with ``...`` when cut; ``-`` for null."""
    if value is None:
        return NONE
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
