"""The sync's own logic, free of Dagster (extract, directories, transform, the ledger, lineage);
may import resources only.

Assets in ``assets/`` call into these modules; the pure rules (author resolution, issue mapping,
payloads) are plain functions with unit tests.
"""
