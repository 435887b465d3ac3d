"""The whole benchmark suite in one command: the three benchmarks, then every verdict and the time.

``versus_reference.py`` spends about three minutes waiting on the reference script's sequential
calls at 100 ms each. Once its tempo-sync run is measured (the line it prints then), this script
runs ``rate_limit.py`` and then ``scale.py`` beside that wait, one at a time, so no two measured
tempo-sync processes ever overlap. What runs beside a measurement is only the reference script's
client and sandbox, a few percent of one core: it can make tempo-sync's figures a little worse,
never better, and the reference script's wall-time verdict is judged against its network floor.
Each script's output is printed whole, in order.

    uv run python benchmarks/suite.py

Exits 1 when a script fails or a target is missed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from support import PRODUCT_MEASURED

HERE = Path(__file__).parent
VERDICTS = ("meets: ", "misses: ")
MAX_SECONDS = 300.0


def script(name: str) -> list[str]:
    return [sys.executable, "-u", str(HERE / name)]


def main() -> int:
    started = time.perf_counter()
    reference = subprocess.Popen(script("versus_reference.py"), stdout=subprocess.PIPE, text=True)
    assert reference.stdout is not None
    head = []
    for line in reference.stdout:
        head.append(line)
        if line.startswith(PRODUCT_MEASURED):
            break
    beside = [
        (name, subprocess.run(script(name), capture_output=True, text=True, check=False))
        for name in ("rate_limit.py", "scale.py")
    ]
    outputs = [("versus_reference.py", "".join(head) + reference.stdout.read(), reference.wait(), "")]
    outputs += [(name, run.stdout, run.returncode, run.stderr) for name, run in beside]
    seconds = time.perf_counter() - started

    failed = False
    for name, stdout, status, stderr in outputs:
        print(f"===== {name} (exit status {status})")
        print(stdout.rstrip())
        if status != 0:
            failed = True
            print(stderr.rstrip(), file=sys.stderr)
        print()
    print("===== verdicts")
    for name, stdout, _, _ in outputs:
        for line in stdout.splitlines():
            if line.startswith(VERDICTS):
                failed |= line.startswith("misses: ")
                print(f"{name:<22}{line}")
    in_time = seconds < MAX_SECONDS
    print(f"{'suite.py':<22}{'meets' if in_time else 'misses'}: the whole suite in under 5 minutes")
    print(f"\nthe whole suite took {seconds:.0f} s ({seconds / 60:.1f} min)")
    return 1 if failed or not in_time else 0


if __name__ == "__main__":
    sys.exit(main())
