from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session

from engine.accounts import (
    SYSTEM_ACTOR,
    AccessDeniedError,
    SecretNotFoundError,
    create_api_token,
    create_write_key,
    list_api_tokens,
    list_write_keys,
    revoke_api_token,
    revoke_write_key,
    verify_api_token,
    verify_write_key,
)
from engine.store import Role, audit
from tests.engine_factories import NOW


def stored_rows(session: Session, table: str) -> str:
    """Every stored value of a table as one string, to search for a secret."""
    return repr(session.execute(text(f"SELECT * FROM {table}")).all())


def test_a_write_key_verifies_and_only_its_hash_is_stored(session: Session) -> None:
    issued = create_write_key(session=session, name="storefront")

    key = verify_write_key(session=session, secret=issued.secret)

    assert issued.secret.startswith("wk_")
    assert len(issued.secret) > 30
    assert (key.id, key.name, key.prefix) == (issued.id, "storefront", issued.secret[:8])
    assert issued.secret not in stored_rows(session, "write_key")
    assert issued.secret[8:] not in stored_rows(session, "write_key")


def test_two_write_keys_are_different(session: Session) -> None:
    first = create_write_key(session=session, name="a")
    second = create_write_key(session=session, name="b")

    assert first.secret != second.secret
    assert verify_write_key(session=session, secret=second.secret).name == "b"


@pytest.mark.parametrize("secret", ["", "wk_guess", "jb_not-a-write-key"])
def test_an_unknown_write_key_is_refused(session: Session, secret: str) -> None:
    create_write_key(session=session, name="storefront")

    with pytest.raises(AccessDeniedError, match="unknown or revoked write key"):
        verify_write_key(session=session, secret=secret)


def test_a_revoked_write_key_is_refused(session: Session) -> None:
    issued = create_write_key(session=session, name="storefront")
    kept = create_write_key(session=session, name="app")

    revoke_write_key(session=session, key_id=issued.id)

    with pytest.raises(AccessDeniedError, match="unknown or revoked write key"):
        verify_write_key(session=session, secret=issued.secret)
    assert verify_write_key(session=session, secret=kept.secret).name == "app"


def test_an_api_token_verifies_with_its_role_and_records_its_use(session: Session) -> None:
    issued = create_api_token(session=session, name="ci", role=Role.MARKETER)

    token = verify_api_token(session=session, secret=issued.secret, now=NOW)
    session.flush()

    assert issued.secret.startswith("jb_")
    assert (token.name, token.role, token.last_used_at) == ("ci", "marketer", NOW)
    assert issued.secret not in stored_rows(session, "api_token")
    assert issued.secret[8:] not in stored_rows(session, "api_token")


def test_a_revoked_api_token_is_refused(session: Session) -> None:
    issued = create_api_token(session=session, name="ci", role=Role.ADMIN)

    revoke_api_token(session=session, token_id=issued.id, now=NOW)

    with pytest.raises(AccessDeniedError, match="unknown or revoked API token"):
        verify_api_token(session=session, secret=issued.secret, now=NOW + timedelta(seconds=1))


def test_a_write_key_is_not_an_api_token(session: Session) -> None:
    key = create_write_key(session=session, name="storefront")
    token = create_api_token(session=session, name="ci", role=Role.ADMIN)

    with pytest.raises(AccessDeniedError):
        verify_api_token(session=session, secret=key.secret)
    with pytest.raises(AccessDeniedError):
        verify_write_key(session=session, secret=token.secret)


def test_lists_show_names_and_prefixes_never_the_secrets(session: Session) -> None:
    key = create_write_key(session=session, name="storefront")
    token = create_api_token(session=session, name="ci", role=Role.MARKETER)
    verify_api_token(session=session, secret=token.secret, now=NOW)

    [key_summary] = list_write_keys(session=session)
    [token_summary] = list_api_tokens(session=session)

    assert (key_summary.id, key_summary.name, key_summary.prefix, key_summary.role) == (
        key.id,
        "storefront",
        key.secret[:8],
        None,
    )
    assert (token_summary.name, token_summary.prefix, token_summary.role, token_summary.last_used_at) == (
        "ci",
        token.secret[:8],
        "marketer",
        NOW,
    )
    assert key.secret[8:] not in repr(key_summary)
    assert token.secret[8:] not in repr(token_summary)


def test_revoked_secrets_stay_listed_newest_first_with_the_time_of_revocation(session: Session) -> None:
    old = create_write_key(session=session, name="old", actor="ann@example.com")
    new = create_write_key(session=session, name="new")
    token = create_api_token(session=session, name="ci", role=Role.ADMIN)

    revoked_key = revoke_write_key(session=session, key_id=old.id, now=NOW, actor="ann@example.com")
    revoked_token = revoke_api_token(session=session, token_id=token.id, now=NOW, actor="ann@example.com")

    assert [(k.id, k.revoked_at) for k in list_write_keys(session=session)] == [(new.id, None), (old.id, NOW)]
    assert [(t.id, t.revoked_at) for t in list_api_tokens(session=session)] == [(token.id, NOW)]
    assert (revoked_key.name, revoked_key.revoked_at, revoked_token.name, revoked_token.revoked_at) == (
        "old",
        NOW,
        "ci",
        NOW,
    )


def test_revoking_twice_keeps_the_first_time_and_is_audited_once(session: Session) -> None:
    key = create_write_key(session=session, name="storefront")
    token = create_api_token(session=session, name="ci", role=Role.ADMIN)

    for at in (NOW, NOW + timedelta(hours=1)):
        assert revoke_write_key(session=session, key_id=key.id, now=at).revoked_at == NOW
        assert revoke_api_token(session=session, token_id=token.id, now=at).revoked_at == NOW

    assert len(audit.entries(session=session, action="key.revoke")) == 1
    assert len(audit.entries(session=session, action="token.revoke")) == 1


def test_revoking_an_unknown_id_names_it(session: Session) -> None:
    with pytest.raises(SecretNotFoundError, match=r"^there is no write key with id 404$"):
        revoke_write_key(session=session, key_id=404)
    with pytest.raises(SecretNotFoundError, match=r"^there is no API token with id 404$"):
        revoke_api_token(session=session, token_id=404)


def test_creating_and_revoking_secrets_is_audited_without_the_secrets(session: Session) -> None:
    key = create_write_key(session=session, name="storefront", actor="ann@example.com")
    token = create_api_token(session=session, name="ci", role=Role.MARKETER, actor="bob@example.com")
    revoke_write_key(session=session, key_id=key.id, actor="bob@example.com")
    revoke_api_token(session=session, token_id=token.id, actor="ann@example.com")
    unattributed = create_write_key(session=session, name="unattributed")

    trail = [(e.action, e.actor, e.detail) for e in reversed(audit.entries(session=session))]

    assert trail == [
        ("key.create", "ann@example.com", {"key_id": key.id, "name": "storefront", "prefix": key.secret[:8]}),
        (
            "token.create",
            "bob@example.com",
            {"token_id": token.id, "name": "ci", "prefix": token.secret[:8], "role": "marketer"},
        ),
        ("key.revoke", "bob@example.com", {"key_id": key.id, "name": "storefront", "prefix": key.secret[:8]}),
        (
            "token.revoke",
            "ann@example.com",
            {"token_id": token.id, "name": "ci", "prefix": token.secret[:8], "role": "marketer"},
        ),
        (
            "key.create",
            SYSTEM_ACTOR,
            {"key_id": unattributed.id, "name": "unattributed", "prefix": unattributed.secret[:8]},
        ),
    ]
    assert key.secret[8:] not in repr(trail)
    assert token.secret[8:] not in repr(trail)
