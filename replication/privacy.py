"""Personal data kept out of places that are not the warehouse: Dagster metadata, logs, reports."""

from __future__ import annotations


def mask_email(email: str | None) -> str | None:
    """``ana.lima@example.com`` → ``a***@example.com``: enough to recognise, not to harvest."""
    if not email:
        return email
    local, at, domain = email.partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"
