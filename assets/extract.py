"""Extract: the source site's worklogs, and the directories of both sites that resolve them."""

import dagster as dg

from assets.pair import Pair, SyncResources
from assets.progress import progress_message
from assets.steps import metered, recorded_step, scope_of, table_metadata
from replication import deletions, directory, extract, preflight
from replication.scope import Scope
from resources.http import RawPage
from resources.jira import JiraClient
from resources.policy import SyncPolicy
from resources.tempo import TempoClient
from resources.warehouse import Warehouse

PAGE_SIZE = 5000  # Tempo v4's largest page
# Pages are staged a batch at a time, on one write connection opened once they have arrived and
# closed before the next request: a connection per page would checkpoint the file on every
# close, which at a million worklogs cost more than reading them. 96 MB is about 24 pages of
# 5000, one DuckDB row group.
STAGE_BATCH_BYTES = 96 * 2**20


def extract_assets(pair: Pair) -> list[dg.AssetsDefinition]:
    """The pair's source worklogs and the directories of both its sites."""

    @dg.asset(key=pair.key("source_worklogs"), group_name=pair.group("extract"), kinds={"tempo", "duckdb"},
              **pair.sync_step)  # fmt: skip
    def source_worklogs(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        """Every Tempo worklog on the source site for the work dates, as Tempo last returned it.

        One row per worklog in `raw.source_worklogs` (typed columns plus the raw JSON), with its
        source Jira worklog id. Records that break Tempo's documented shape are set aside in
        `raw.quarantine` with the reason; the rest of the day goes on. Before the first read, both
        sites' tokens are checked for every permission the sync needs (a preflight that writes
        nothing).
        """
        return _extract(context, pair.resources(context))

    @dg.asset(key=pair.key("source_directory"), group_name=pair.group("extract"), deps=[source_worklogs],
              kinds={"jira", "duckdb"}, **pair.sync_step)  # fmt: skip
    def source_directory(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        """Who the source worklogs' authors are and which issues they are on, as the source Jira says.

        Users (accountId, email, type, active, time zone) and issues (id, key, project, remaining
        estimate) in `directory.users` and `directory.issues`, fetched in batches and reused until
        they expire; lookups behind parked worklogs are repeated on every run.
        """
        resources = pair.resources(context)
        source_jira, policy, warehouse = resources.source_jira, resources.policy, resources.warehouse
        scope = scope_of(context)
        with recorded_step(context, warehouse, "source_directory") as counts, metered(source_jira) as calls:
            result = directory.refresh_source(warehouse, source_jira, policy, scope, context.run.run_id)
            counts.update(needed=result.needed, fetched=result.fetched, api_calls=calls)
        return dg.MaterializeResult(metadata=_directory_metadata(result, calls))

    @dg.asset(key=pair.key("destination_directory"), group_name=pair.group("extract"),
              deps=[source_directory], kinds={"jira", "tempo", "duckdb"}, **pair.sync_step)  # fmt: skip
    def destination_directory(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        """Who the authors are on the destination site and which destination issues their issues map
        to.

        The same accounts looked up by accountId, exact-email searches where that does not settle
        it, the destination issues chosen by the mapping policy, and the destination's Tempo work
        attributes; cached like the source directory.
        """
        resources = pair.resources(context)
        destination_jira, destination_tempo = resources.destination_jira, resources.destination_tempo
        policy, warehouse = resources.policy, resources.warehouse
        scope = scope_of(context)
        tempo = destination_tempo if destination_tempo.token else None
        clients = (destination_jira, destination_tempo) if tempo else (destination_jira,)
        with recorded_step(context, warehouse, "destination_directory") as counts, metered(*clients) as calls:
            result = directory.refresh_destination(
                warehouse, destination_jira, tempo, policy, scope, context.run.run_id
            )
            counts.update(needed=result.needed, fetched=result.fetched, api_calls=calls)
        return dg.MaterializeResult(metadata=_directory_metadata(result, calls))

    return [source_worklogs, source_directory, destination_directory]


def _extract(context: dg.AssetExecutionContext, resources: SyncResources) -> dg.MaterializeResult:
    """Preflight, then the source's worklogs of the work dates staged and published."""
    source_tempo, source_jira = resources.source_tempo, resources.source_jira
    destination_tempo, destination_jira = resources.destination_tempo, resources.destination_jira
    policy, warehouse = resources.policy, resources.warehouse
    scope = scope_of(context)
    clients = (source_jira, source_tempo, destination_jira, destination_tempo)
    with recorded_step(context, warehouse, "preflight") as counts, metered(*clients) as calls:
        counts["api_calls"] = calls
        has_tempo = bool(destination_tempo.token)
        rights = {"destination_tempo": has_tempo, "updates": policy.propagate_updates,
                  "deletes": policy.propagate_deletes}  # fmt: skip
        accesses = preflight.check_sites([
            ("source", source_jira, source_tempo, ()),
            ("destination", destination_jira, destination_tempo if has_tempo else None,
             preflight.jira_keys("destination", **rights)),
        ])  # fmt: skip
        # A right that could not be checked does not stop the run; `tempo-sync run` prints these.
        counts["unchecked"] = preflight.preflight(accesses, **rights)
        for sentence in counts["unchecked"]:
            context.log.warning(f"preflight: {sentence}")
    with warehouse.get_connection() as connection:
        extract.claim_source_site(connection, policy.source_site)
        extract.drop_abandoned_pages(connection)
    read = 0
    with recorded_step(context, warehouse, "extract") as counts, metered(source_tempo) as calls:
        pending: list[tuple[int, RawPage]] = []
        pages = source_tempo.worklog_pages(scope.date_from, scope.date_to, page_size=PAGE_SIZE)
        for number, raw_page in enumerate(pages):
            pending.append((number, raw_page))
            if sum(len(page.body) for _, page in pending) >= STAGE_BATCH_BYTES:
                read += _stage(context, warehouse, scope, pending, read)
                pending.clear()
        read += _stage(context, warehouse, scope, pending, read)
        with warehouse.get_connection() as connection:
            result = extract.publish(connection, context.run.run_id, scope.date_from, scope.date_to)
            unmapped = extract.unmapped_jira_ids(connection, scope.date_from, scope.date_to)
        mapping = source_tempo.jira_worklog_ids(unmapped) if unmapped else {}
        with warehouse.get_connection() as connection:
            extract.record_jira_ids(connection, mapping)
        counts.update(read=result.read, stored=result.stored, quarantined=result.quarantined,
                      vanished=result.vanished, api_calls=calls)  # fmt: skip
    if result.quarantined:
        context.log.warning(f"{result.quarantined} malformed worklog(s) quarantined; see raw.quarantine")
    if policy.propagate_deletes:
        _confirm_deletions(context, warehouse, scope, policy, source_tempo, source_jira)
    return dg.MaterializeResult(
        metadata={
            **table_metadata(warehouse, "raw.source_worklogs", result.stored),
            "quarantined": result.quarantined,
            "vanished_from_source": result.vanished,
            "api_calls": dg.MetadataValue.json(dict(calls)),
        }
    )


def _stage(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    scope: Scope,
    pages: list[tuple[int, RawPage]],
    read_before: int,
) -> int:
    """Stage pages on one write connection; returns how many worklogs they held."""
    if not pages:
        return 0
    with warehouse.get_connection() as connection:
        counts = extract.stage_pages(connection, context.run.run_id, pages, scope.date_from, scope.date_to)
    for (number, _), count in zip(pages, counts, strict=True):
        context.log.info(f"page {number + 1}: {count} worklogs")
    context.log.info(progress_message("extract", read_before + sum(counts), None))
    return sum(counts)


def _directory_metadata(
    result: directory.DirectoryCounts, calls: dict[str, int]
) -> dict[str, dg.MetadataValue]:
    return {
        "needed": dg.MetadataValue.json(result.needed),
        "from_cache": dg.MetadataValue.json(result.cached),
        "fetched": dg.MetadataValue.json(result.fetched),
        "not_found": dg.MetadataValue.json(result.missing),
        "api_calls": dg.MetadataValue.json(dict(calls)),
    }


def _confirm_deletions(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    scope: Scope,
    policy: SyncPolicy,
    source_tempo: TempoClient,
    source_jira: JiraClient,
) -> None:
    """Ask the source about the synced worklogs its listing no longer holds; the deletions it
    confirms are for the load to carry (`[propagate] deletes`)."""
    with (
        recorded_step(context, warehouse, "deletions") as counts,
        metered(source_tempo, source_jira) as calls,
    ):
        with warehouse.get_connection() as connection:
            gone = deletions.vanished(
                connection, scope.date_from, scope.date_to, source_site=policy.source_site
            )
        findings = deletions.confirm(gone, source_tempo, source_jira)
        with warehouse.get_connection() as connection:
            deletions.record(connection, findings, context.run.run_id)
        counts.update(vanished=len(gone), moved_away=len(findings.moved),
                      deleted_on_source=len(findings.deleted), unproven=len(findings.unproven),
                      api_calls=calls)  # fmt: skip
    if findings.moved:
        context.log.info(f"{len(findings.moved)} synced worklog(s) moved to other work dates; the runs"
                         " of those dates carry the move")  # fmt: skip
    if findings.unproven:
        ids = ", ".join(str(row.tempo_worklog_id) for row in findings.unproven[:20])
        context.log.warning(
            f"{len(findings.unproven)} synced worklog(s) are gone from the source's listing and Tempo answers"
            " 404, but the source Jira records no deletion of them (yet: its feed lags a minute); their"
            f" copies are left alone (source Tempo ids {ids}). A token that lost a permission looks the same."
        )
