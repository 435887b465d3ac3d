"""Process identity: a live process is alive; a killed one, reaped or not, is not; a pid reused
by a later process is not the recorded one."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from replication.liveness import ProcessIdentity


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_this_process_is_alive_and_local():
    me = ProcessIdentity.current()
    assert me.pid == os.getpid()
    assert me.is_local()
    assert me.is_alive()
    assert me.started is not None


def test_a_killed_process_is_dead_before_and_after_its_parent_reaps_it():
    child = _sleeper()
    identity = ProcessIdentity.of(child.pid)
    assert identity.is_alive()
    child.kill()
    # Not reaped yet: a zombie, which holds nothing.
    for _ in range(200):
        stat = Path(f"/proc/{child.pid}/stat").read_text()
        if stat[stat.rindex(")") + 2] == "Z":
            break
        os.sched_yield()
    assert not identity.is_alive()
    child.wait()
    assert not identity.is_alive()


def test_a_pid_now_held_by_another_process_is_not_the_recorded_process():
    me = ProcessIdentity.current()
    assert not replace(me, started=f"{me.started}0").is_alive()


def test_a_process_on_another_host_cannot_be_judged_here():
    other = replace(ProcessIdentity.current(), host="another-host.example")
    assert not other.is_local()
    with pytest.raises(ValueError, match=r"another-host\.example"):
        other.is_alive()
