"""Author resolution (DESIGN section 2): who a source worklog's author is on the destination."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class ParkReason(StrEnum):
    EMAIL_HIDDEN = "email_hidden"
    APP_ACCOUNT = "app_account"
    DELETED_USER = "deleted_user"
    NO_DESTINATION_USER = "no_destination_user"
    INACTIVE_DESTINATION_USER = "inactive_destination_user"
    AMBIGUOUS_EMAIL = "ambiguous_email"
    ISSUE_UNMAPPED = "issue_unmapped"


class AuthorRule(StrEnum):
    OVERRIDE = "override"  # the policy file names the destination account
    SAME_ACCOUNT = "same_account"  # the same accountId, with the same email, exists on the destination
    EMAIL_MATCH = "email_match"  # exactly one destination account has the email (any letter case)
    FALLBACK = "fallback"  # opt-in substitute author; the real author is named in the description


@dataclass(frozen=True)
class User:
    """A Jira account as the directory knows it."""

    account_id: str
    account_type: str
    active: bool
    email: str | None
    display_name: str | None = None
    time_zone: str | None = None

    @property
    def can_log_work(self) -> bool:
        return self.account_type == "atlassian" and self.active


@dataclass(frozen=True)
class Resolution:
    """The outcome for one source author: a destination account, or a reason to park."""

    destination: User | None
    rule: AuthorRule | None
    park_reason: ParkReason | None
    detail: str | None = None


def resolve_author(
    source_account_id: str,
    source: User | None,
    same_account: User | None,
    email_matches: Sequence[User],
    *,
    override: User | str | None = None,
    fallback: User | None = None,
) -> Resolution:
    """Resolve in the documented order: override, same account and email, exact email match.

    ``source`` is None when the source site no longer knows the account (a deleted user).
    ``same_account`` is the destination account with the same accountId, if any.
    ``email_matches`` are destination search results whose email equals the source email, any case.
    ``override`` is the destination account the policy names (or its id, when the destination
    does not know it). ``fallback`` is the opt-in substitute author for anything unresolvable.
    """
    if override is not None:
        resolved = _override(override)
    else:
        resolved = _match(source_account_id, source, same_account, email_matches)
    if resolved.park_reason is None or fallback is None:
        return resolved
    if not fallback.can_log_work:
        return resolved
    return Resolution(fallback, AuthorRule.FALLBACK, None, f"unresolved: {resolved.park_reason}")


def _override(target: User | str) -> Resolution:
    if isinstance(target, str):
        return Resolution(None, None, ParkReason.NO_DESTINATION_USER, f"override target {target} not found")
    if not target.active:
        return Resolution(None, None, ParkReason.INACTIVE_DESTINATION_USER, "override target is inactive")
    if target.account_type != "atlassian":
        return Resolution(None, None, ParkReason.NO_DESTINATION_USER, "override target is not a user account")
    return Resolution(target, AuthorRule.OVERRIDE, None)


def _match(  # noqa: PLR0911 - one return per documented outcome
    account_id: str, source: User | None, same_account: User | None, email_matches: Sequence[User]
) -> Resolution:
    if source is None:
        return Resolution(None, None, ParkReason.DELETED_USER, f"{account_id} is gone from the source site")
    if source.account_type == "app":
        return Resolution(
            None, None, ParkReason.APP_ACCOUNT, f"{source.display_name or account_id} is an app"
        )
    if not source.email:
        return Resolution(None, None, ParkReason.EMAIL_HIDDEN, "the source profile hides the email")
    email = source.email.lower()
    if same_account is not None:
        if not same_account.email:
            return Resolution(None, None, ParkReason.EMAIL_HIDDEN, "the destination profile hides the email")
        if same_account.email.lower() == email:
            if same_account.account_type == "atlassian" and not same_account.active:
                return Resolution(None, None, ParkReason.INACTIVE_DESTINATION_USER, None)
            if same_account.can_log_work:
                return Resolution(same_account, AuthorRule.SAME_ACCOUNT, None)
    users = {user.account_id: user for user in email_matches if user.email and user.email.lower() == email}
    people = [user for user in users.values() if user.account_type == "atlassian"]
    if len(people) > 1:
        return Resolution(None, None, ParkReason.AMBIGUOUS_EMAIL, f"{len(people)} destination accounts")
    if not people:
        return Resolution(None, None, ParkReason.NO_DESTINATION_USER, None)
    (match,) = people
    if not match.active:
        return Resolution(None, None, ParkReason.INACTIVE_DESTINATION_USER, None)
    return Resolution(match, AuthorRule.EMAIL_MATCH, None)
