"""The sandbox clock: real time, shifted or frozen, shared through the state file.

Generated worklogs become visible once the clock passes their ``createdAt``, so a test
can freeze the clock before a late worklog is logged and move it forward to see it appear.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sandbox.store import Store

_KEY = "clock"


class SandboxClock:
    def __init__(self, store: Store) -> None:
        self._store = store

    def now(self) -> datetime:
        setting = self._setting()
        if "frozen_at" in setting:
            return datetime.fromisoformat(setting["frozen_at"])
        return datetime.now(UTC) + timedelta(seconds=setting.get("offset_seconds", 0))

    def describe(self) -> dict[str, object]:
        setting = self._setting()
        mode = "frozen" if "frozen_at" in setting else "real"
        return {"now": self.now().isoformat(), "mode": mode, **setting}

    def freeze(self, at: datetime) -> None:
        self._store.set_meta(_KEY, json.dumps({"frozen_at": at.astimezone(UTC).isoformat()}))

    def follow_real_time(self, offset_seconds: float = 0.0) -> None:
        value = json.dumps({"offset_seconds": offset_seconds}) if offset_seconds else None
        self._store.set_meta(_KEY, value)

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back); a frozen clock stays frozen."""
        setting = self._setting()
        if "frozen_at" in setting:
            self.freeze(self.now() + timedelta(seconds=seconds))
        else:
            self.follow_real_time(setting.get("offset_seconds", 0) + seconds)

    def _setting(self) -> dict[str, float | str]:
        raw = self._store.meta(_KEY)
        return {} if raw is None else json.loads(raw)
