"""Capture the Dagster UI screenshots of the documentation, from a real run on the sandbox.

Starts ``dagster dev`` on the code location with a fresh instance, sandbox and DuckDB file in a
temporary directory (``tests/support/dagster_ui.py``), materializes one work date through
GraphQL, and saves with headless Chromium (Debian's ``/usr/bin/chromium``), at 1400x900:

- ``asset-graph.png``: the asset graph, every group expanded;
- ``partitions.png``: the partitions of ``destination_worklogs``, the synced date selected;
- ``check-result.png``: the checks tab of an asset with checks, one check's latest result.

    uv run python scripts/screenshots.py [--out docs/images] [--partition YYYY-MM-DD]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `tests.support` is not part of the installed package

from tests.support.dagster_ui import (  # noqa: E402
    CHROMIUM,
    VIEWPORT,
    DagsterDev,
    dagster_dev,
    open_asset_graph,
    recent_partition,
)

TIMEOUT_MS = 60_000
SETTLE_MS = 1_500  # let the graph's zoom and the live status badges finish before a capture
# The check shown in check-result.png, when the definitions have it: its metadata tells the most.
PREFERRED_CHECK = ("worklog_replica", "parked_share_is_low")


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images", help="where the PNGs go")
    parser.add_argument(
        "--partition", default=recent_partition(), help="the work date to sync (default: two days ago)"
    )
    return parser.parse_args()


def materialize(dev: DagsterDev, partition: str) -> str:
    """Run the sync job for the work date; the run's id. Exits if the run does not succeed."""
    started = time.monotonic()
    run_id = dev.launch_partition(partition)
    status = dev.wait_for_run(run_id)
    if status != "SUCCESS":
        sys.exit(f"screenshots: run {run_id} for {partition} ended {status}\n{dev.log_tail()}")
    print(f"screenshots: run {run_id} synced {partition} in {time.monotonic() - started:.0f} s")
    return run_id


def check_to_show(dev: DagsterDev) -> tuple[str, str]:
    """The asset and check for check-result.png: the preferred one, else the first there is."""
    checks = dev.defined_checks()
    if not checks:
        sys.exit("screenshots: the definitions have no asset checks to show")
    asset, check = PREFERRED_CHECK
    if check in checks.get(asset, []):
        return asset, check
    asset = sorted(checks)[0]
    return asset, checks[asset][0]


def capture(page: Page, path: Path) -> None:
    page.wait_for_timeout(SETTLE_MS)
    page.screenshot(path=path)
    print(f"screenshots: wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")


def capture_all(dev: DagsterDev, partition: str, out: Path) -> None:
    asset, check = check_to_show(dev)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.set_default_timeout(TIMEOUT_MS)

            open_asset_graph(page, dev.url)
            # Wait for the live data: the latest event ("a minute ago") and "N / N Passed" checks.
            nodes = page.locator("foreignObject")
            nodes.get_by_text(re.compile(r" ago$")).first.wait_for()
            nodes.get_by_text(re.compile(r"^([1-9][0-9]*) / \1 Passed$")).first.wait_for()
            capture(page, out / "asset-graph.png")

            page.goto(f"{dev.url}/assets/destination_worklogs?view=partitions&partition={partition}")
            page.get_by_text("Latest materialization", exact=True).wait_for()
            capture(page, out / "partitions.png")

            page.goto(f"{dev.url}/assets/{asset}?view=checks&checkDetail={check}")
            page.get_by_text("Evaluation result", exact=True).wait_for()
            page.get_by_text(partition, exact=True).first.wait_for()
            capture(page, out / "check-result.png")
        finally:
            browser.close()


def main() -> None:
    arguments = parse_arguments()
    if not CHROMIUM.exists():
        sys.exit(f"screenshots: {CHROMIUM} is missing; install Debian's chromium (apt-get install chromium)")
    arguments.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with dagster_dev() as dev:
        print(f"screenshots: dagster dev ready at {dev.url} after {time.monotonic() - started:.0f} s")
        materialize(dev, arguments.partition)
        capture_all(dev, arguments.partition, arguments.out.resolve())
    print(f"screenshots: done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
