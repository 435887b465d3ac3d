"""Holds: requests the sandbox keeps waiting so a test can kill the client at a known point.

A hold matches one endpoint of one site's service ("destination", "tempo",
"POST /4/worklogs/issue/{issueId}/bulk") and catches the next ``count`` requests to it:

- ``before``: the request waits before the service sees it, then is dropped unapplied;
- ``after``: the service applies it, then the answer waits and is never delivered.

Held requests stay until ``release`` (or ``seconds`` pass), so a test can kill the client
while the write is known not to have happened, or to have happened unanswered.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

WHEN = ("before", "after")


@dataclass
class Hold:
    site: str
    service: str
    endpoint: str
    when: str
    count: int = 1
    seconds: float = 120.0
    waiting: int = 0
    caught: int = 0
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def validate(self) -> None:
        if self.when not in WHEN:
            raise ValueError(f"when must be one of {list(WHEN)}, not {self.when!r}")
        if self.count < 1 or self.seconds <= 0:
            raise ValueError("count must be at least 1 and seconds positive")

    def to_json(self) -> dict[str, object]:
        return {
            "site": self.site,
            "service": self.service,
            "endpoint": self.endpoint,
            "when": self.when,
            "count": self.count,
            "caught": self.caught,
            "waiting": self.waiting,
        }


class Holds:
    """The server's holds; used from its one event loop only."""

    def __init__(self) -> None:
        self.holds: list[Hold] = []

    def add(self, hold: Hold) -> None:
        hold.validate()
        self.holds.append(hold)

    def catch(self, site: str, service: str, endpoint: str) -> Hold | None:
        """The hold this request falls under, if any; counts it as caught."""
        for hold in self.holds:
            if (hold.site, hold.service, hold.endpoint) == (site, service, endpoint) and (
                hold.caught < hold.count
            ):
                hold.caught += 1
                return hold
        return None

    async def wait(self, hold: Hold) -> None:
        hold.waiting += 1
        try:
            await asyncio.wait_for(hold.released.wait(), hold.seconds)
        except TimeoutError:
            pass
        finally:
            hold.waiting -= 1

    def release(self) -> None:
        """Let every held request go on (to be dropped or to lose its answer) and forget the holds."""
        for hold in self.holds:
            hold.released.set()
        self.holds.clear()

    def describe(self) -> list[dict[str, object]]:
        return [hold.to_json() for hold in self.holds]
