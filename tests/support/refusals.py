"""Definite refusals from the destination, as a site produces them after the preflight passed: an
author's destination account deactivated after tempo-sync cached it as active."""

from __future__ import annotations

from typing import Any

from tests.support.sync import SyncHarness


def deactivate_synced_authors(harness: SyncHarness) -> list[dict[str, Any]]:
    """Deactivate, on the destination, the accounts of the authors synced so far; the directory
    cache still holds them as active, so their next worklogs are refused one by one. Returns the
    accounts as they were, for ``reactivate``."""
    synced = {account for (account,) in harness.query(
        "select distinct destination_author_account_id from replica.worklogs where status = 'ready'"
    )}  # fmt: skip
    with harness.sandbox.admin() as admin:
        accounts = [a for a in admin.accounts("destination") if a["account_id"] in synced]
        for account in accounts:
            admin.put_user("destination", **{**account, "active": False})
    return accounts


def reactivate(harness: SyncHarness, accounts: list[dict[str, Any]]) -> None:
    with harness.sandbox.admin() as admin:
        for account in accounts:
            admin.put_user("destination", **account)
