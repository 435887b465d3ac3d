"""One sandbox's moving parts, built once from its config and shared by the app."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from sandbox.clock import SandboxClock
from sandbox.config import SITES, SandboxConfig
from sandbox.context import Site
from sandbox.gate import FaultState, Stats
from sandbox.holds import Holds
from sandbox.repository import Repository
from sandbox.store import Store
from sandbox.world import World


@dataclass
class Sandbox:
    config: SandboxConfig
    world: World
    store: Store
    clock: SandboxClock
    sites: dict[str, Site]
    faults: FaultState
    stats: Stats
    holds: Holds

    @classmethod
    def build(cls, config: SandboxConfig) -> Sandbox:
        config.validate()
        world = World(config.data)
        store = Store(config.state_dir, fingerprint(config))
        clock = SandboxClock(store)
        # Only an explicit clock is applied: other processes may be serving this state.
        if config.clock is not None:
            clock.freeze(config.clock)
        sites = {
            name: Site(
                name=name,
                repo=Repository(
                    world, store, clock, site=name,
                    has_tempo=name == "source" or config.destination_tempo,
                ),
                config=config,
            )
            for name in SITES
        }  # fmt: skip
        return cls(config, world, store, clock, sites, FaultState(config.faults), Stats(), Holds())


def fingerprint(config: SandboxConfig) -> str:
    """What a state directory must have been made with to be reused: the data and the sites."""
    made_with = {**dataclasses.asdict(config.data), "destination_tempo": config.destination_tempo}
    return json.dumps(made_with, default=str, sort_keys=True)
