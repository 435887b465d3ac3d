"""The Dagster UI in a real browser: ``dagster dev`` on the sandbox, driven by headless Chromium.

A user opens the asset graph, materializes one work date of every asset through the launch
dialog, and watches the run succeed; the asset checks of that run are then read back, in the UI
and (to be exact) through the GraphQL API of the same webserver.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.dagster_ui import (
    ASSETS,
    CHROMIUM,
    VIEWPORT,
    DagsterDev,
    dagster_dev,
    open_asset_graph,
    recent_partition,
)

# The full form of what test_workspace.py and test_commands.py cover fast: the code location loads,
# and a materialization of one partition runs its checks.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.full,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"Debian Chromium is not installed at {CHROMIUM} (apt-get install -y chromium; "
        ".ci/run installs it)",
    ),
]

UI_TIMEOUT_MS = 60_000  # the first page of a fresh webserver renders slowly on 2 cores
RUN_TIMEOUT_MS = 150_000
# Playwright matches this in the browser too, so JavaScript's regex syntax (no named groups).
RUN_URL = re.compile(r"/runs/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
FINAL_STATUS = re.compile(r"^(Success|Failure|Canceled)$")


@pytest.fixture
def dagster(tmp_path: Path) -> Iterator[DagsterDev]:
    with dagster_dev(tmp_path / "dagster_dev") as dev:
        yield dev


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    yield page
    context.close()


@contextmanager
def screenshot_on_failure(page: Page, path: Path) -> Iterator[None]:
    """On an error, save what the browser shows to ``path`` and name it in the error."""
    try:
        yield
    except BaseException as error:
        with suppress(Exception):  # a dead page must not hide the error itself
            page.screenshot(path=path, full_page=True)
            error.add_note(f"screenshot of the page at the failure: {path}")
        raise


@pytest.mark.timeout(240)
def test_materialize_one_partition_in_the_ui_and_every_check_passes(
    dagster: DagsterDev, page: Page, tmp_path: Path
):
    with screenshot_on_failure(page, tmp_path / "failure.png"):
        materialize_and_check(dagster, page, recent_partition())


def materialize_and_check(dagster: DagsterDev, page: Page, partition: str) -> None:
    """The scenario of the test, step by step (see the module docstring)."""

    # The asset graph shows the five assets (and any other the definitions have).
    assets = dagster.asset_keys()
    assert set(ASSETS) <= set(assets), assets
    open_asset_graph(page, dagster.url)
    graph = page.locator("foreignObject")
    for asset in assets:
        expect(graph.get_by_text(asset, exact=True)).to_be_visible()

    # Nothing selected: "Materialize all…" opens the launch dialog for every asset.
    page.get_by_role("button", name=re.compile(r"Materialize all")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"materialize {len(assets)} assets")
    partitions = dialog.get_by_role("textbox").first
    partitions.fill(partition)
    partitions.press("Enter")
    expect(dialog).to_contain_text("1 partition")
    dialog.get_by_role("button", name="Launch 1 run", exact=True).click()

    # The toast links the run; its page shows the status as the run goes on.
    toast = page.get_by_text(re.compile(r"^Launched run "))
    expect(toast).to_be_visible()
    page.get_by_role("button", name="View", exact=True).or_(
        page.get_by_role("link", name="View")
    ).first.click()
    expect(page).to_have_url(RUN_URL)
    match = RUN_URL.search(page.url)
    assert match is not None
    run_id = match[1]
    status = page.get_by_text(FINAL_STATUS).first
    expect(status).to_be_visible(timeout=RUN_TIMEOUT_MS)
    assert status.inner_text() == "Success", f"run {run_id}: {status.inner_text()}"
    expect(page.get_by_text(f"partition: {partition}").first).to_be_visible()

    # The same run through GraphQL: succeeded, the partition asked for, every asset.
    run = dagster.run(run_id)
    assert run["status"] == "SUCCESS"
    assert {"key": "dagster/partition", "value": partition} in run["tags"]
    assert sorted("/".join(key["path"]) for key in run["assetSelection"]) == assets

    # Every asset check of the definitions was evaluated in this run, and passed.
    defined = dagster.defined_checks()
    evaluations = dagster.check_evaluations(run_id)
    expected = {(asset, check) for asset, checks in defined.items() for check in checks}
    assert {(e.asset, e.check) for e in evaluations} == expected
    assert len(evaluations) == len(expected), f"a check was evaluated twice: {evaluations}"
    failed = [e for e in evaluations if not e.success]
    assert not failed, f"checks that did not pass in run {run_id}: {failed}"
    assert all(e.partition in (partition, None) for e in evaluations), evaluations
    for key, execution in dagster.latest_check_executions().items():
        assert execution is not None, f"check {key} has no execution"
        assert (execution["runId"], execution["status"]) == (run_id, "SUCCEEDED"), (key, execution)

    if not defined:
        return  # the definitions have no checks: nothing to show
    # The checks tab of the asset with the most checks lists each one as succeeded.
    asset = max(defined, key=lambda name: (len(defined[name]), name == "worklog_replica"))
    page.goto(f"{dagster.url}/assets/{asset}?view=checks")
    expect(page.get_by_text(f"Checks ({len(defined[asset])})", exact=True)).to_be_visible()
    for check in defined[asset]:
        # Each row holds the check's name (its `title`, as the row may shorten it) and its status.
        row = page.locator(f'[title="{check}"]').locator("xpath=..")
        expect(row).to_contain_text("Succeeded")
    # The detail of one check: its latest execution passed, on the partition of this run.
    page.goto(f"{dagster.url}/assets/{asset}?view=checks&checkDetail={defined[asset][0]}")
    expect(page.get_by_text("Latest execution", exact=True)).to_be_visible()
    expect(page.get_by_text("Passed", exact=True).first).to_be_visible()
    expect(page.get_by_text(partition, exact=True).first).to_be_visible()
