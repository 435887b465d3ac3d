"""What the UI shows for a materialization: table metadata, column schema and lineage, counts, API
calls by endpoint, and a parked-rows preview without raw emails."""

from __future__ import annotations

from datetime import date

import dagster as dg

DAY = date(2025, 3, 5)


def _metadata(result: dg.ExecuteInProcessResult, node: str) -> dict[str, object]:
    (materialization,) = result.asset_materializations_for_node(node)
    return {key: value.value for key, value in materialization.metadata.items()}


def test_materializations_carry_table_metadata_lineage_and_masked_previews(harness):
    result = harness.run(DAY)
    assert result.success
    raw = _metadata(result, "source_worklogs")
    assert raw["dagster/table_name"] == "raw.source_worklogs"
    assert raw["dagster/row_count"] == raw["dagster/partition_row_count"] == 40
    columns = {column.name: column.type for column in raw["dagster/column_schema"].columns}
    assert columns["tempo_worklog_id"] == "bigint"
    assert raw["api_calls"] == {"source GET /4/worklogs": 1, "source POST /4/worklogs/tempo-to-jira": 1}

    replica = _metadata(result, "worklog_replica")
    assert replica["ready"] + replica["parked"] == replica["dagster/partition_row_count"] == 40
    lineage = replica["dagster/column_lineage"].deps_by_column
    assert {dep.asset_key.path[0] for dep in lineage["source_author_email"]} == {"source_directory"}
    assert {dep.column_name for dep in lineage["description"]} == {"description"}
    preview = replica["parked_preview"]
    assert preview.count("\n") == 1 + replica["parked"]  # header, rule and one line per parked row
    emails = [row[0] for row in harness.query(
        "select source_author_email from replica.worklogs"
        " where status = 'parked' and source_author_email is not null"
    )]  # fmt: skip
    assert emails
    assert not any(email in preview for email in emails)
    assert "***@" in preview

    load = _metadata(result, "destination_worklogs")
    assert load["created"] == load["dagster/partition_row_count"] == replica["ready"]
    assert sum(load["api_calls"].values()) >= 1
    assert all(key.startswith("destination ") for key in load["api_calls"])
