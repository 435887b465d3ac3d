"""Author resolution, rule by rule (DESIGN section 2)."""

from __future__ import annotations

from replication.authors import AuthorRule, ParkReason, User, resolve_author

ANA = User("712020:ana", "atlassian", True, "ana@client.example", "Ana", "Europe/Oslo")


def _twin(**changes: object) -> User:
    fields = {
        "account_id": "712020:ana",
        "account_type": "atlassian",
        "active": True,
        "email": "ana@client.example",
    }
    return User(**(fields | changes))  # type: ignore[arg-type]


def test_the_same_account_with_the_same_email_resolves_first():
    resolution = resolve_author(ANA.account_id, ANA, _twin(email="ANA@client.example"), [])
    assert resolution.rule is AuthorRule.SAME_ACCOUNT
    assert resolution.destination is not None


def test_an_exact_email_match_in_any_case_resolves_another_account():
    other = _twin(account_id="557058:ana", email="Ana@Client.Example")
    prefix = _twin(account_id="557058:ana-au", email="ana@client.example.au")
    resolution = resolve_author(ANA.account_id, ANA, None, [other, prefix])
    assert resolution.rule is AuthorRule.EMAIL_MATCH
    assert resolution.destination == other


def test_two_people_with_the_address_are_ambiguous_but_a_customer_does_not_count():
    customer = _twin(account_id="qm:ana", account_type="customer")
    assert resolve_author(ANA.account_id, ANA, None, [customer]).park_reason is ParkReason.NO_DESTINATION_USER
    two = [_twin(account_id="a"), _twin(account_id="b", email="ANA@CLIENT.EXAMPLE")]
    assert resolve_author(ANA.account_id, ANA, None, two).park_reason is ParkReason.AMBIGUOUS_EMAIL


def test_unresolvable_authors_are_parked_with_their_reason():
    app = User("app:1", "app", True, None, "Automation for Jira")
    hidden = User("712020:h", "atlassian", True, None)
    assert resolve_author("gone", None, None, []).park_reason is ParkReason.DELETED_USER
    assert resolve_author(app.account_id, app, None, []).park_reason is ParkReason.APP_ACCOUNT
    assert resolve_author(hidden.account_id, hidden, None, []).park_reason is ParkReason.EMAIL_HIDDEN
    assert resolve_author(ANA.account_id, ANA, _twin(email=None), []).park_reason is ParkReason.EMAIL_HIDDEN
    inactive = resolve_author(ANA.account_id, ANA, _twin(active=False), [])
    assert inactive.park_reason is ParkReason.INACTIVE_DESTINATION_USER
    assert resolve_author(ANA.account_id, ANA, None, []).park_reason is ParkReason.NO_DESTINATION_USER


def test_an_override_wins_and_is_checked_on_the_destination():
    target = User("712020:elsewhere", "atlassian", True, "a@us.example")
    hidden = User("712020:h", "atlassian", True, None)
    assert resolve_author(hidden.account_id, hidden, None, [], override=target).rule is AuthorRule.OVERRIDE
    missing = resolve_author(hidden.account_id, hidden, None, [], override="712020:nobody")
    assert missing.park_reason is ParkReason.NO_DESTINATION_USER
    asleep = User("712020:elsewhere", "atlassian", False, "a@us.example")
    assert resolve_author(ANA.account_id, ANA, None, [], override=asleep).park_reason is (
        ParkReason.INACTIVE_DESTINATION_USER
    )


def test_a_fallback_author_is_used_only_when_configured_and_names_the_reason():
    fallback = User("712020:team", "atlassian", True, "team@us.example")
    resolution = resolve_author("gone", None, None, [], fallback=fallback)
    assert resolution.rule is AuthorRule.FALLBACK
    assert resolution.destination == fallback
    assert resolution.detail == "unresolved: deleted_user"
    assert resolve_author(ANA.account_id, ANA, _twin(), [], fallback=fallback).rule is AuthorRule.SAME_ACCOUNT
