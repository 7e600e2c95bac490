from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session

from engine.access import (
    AccessDeniedError,
    Role,
    create_api_token,
    create_write_key,
    revoke_api_token,
    revoke_write_key,
    verify_api_token,
    verify_write_key,
)
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
