"""Customer tokens for the in-app inbox: a JWT (HS256) signed with the workspace's secret, naming one user id."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from engine.accounts import TokenError, in_app_secret, mint_token, user_of_token, verify_customer_token
from engine.store import AuditEntry
from tests.engine_factories import NOW

SECRET = "s3cret-for-tests"


def _part(value: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def test_a_minted_token_names_its_user_until_it_expires() -> None:
    token = mint_token(SECRET, "ada", lifetime=timedelta(minutes=5), now=NOW)

    assert user_of_token(SECRET, token, now=NOW + timedelta(minutes=4)) == "ada"
    with pytest.raises(TokenError, match="the token has expired"):
        user_of_token(SECRET, token, now=NOW + timedelta(minutes=5))


def test_a_token_signed_with_another_secret_or_altered_is_refused() -> None:
    token = mint_token(SECRET, "ada", now=NOW)
    header, _, signature = token.split(".")
    someone_else = _part({"sub": "grace", "exp": int((NOW + timedelta(hours=1)).timestamp())})

    with pytest.raises(TokenError, match="signature does not match"):
        user_of_token("another-secret", token, now=NOW)
    with pytest.raises(TokenError, match="signature does not match"):
        user_of_token(SECRET, f"{header}.{someone_else}.{signature}", now=NOW)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("not-a-token", "three parts"),
        (f"{_part({'alg': 'none'})}.{_part({'sub': 'ada', 'exp': 9999999999})}.", "must be signed with HS256"),
        ("%%%.a.b", "base64url"),
        (f"{_part({'alg': 'HS256'})}.e30.x" + "x" * 3000, "longer than 2048"),
    ],
)
def test_malformed_tokens_are_refused_saying_why(token: str, reason: str) -> None:
    with pytest.raises(TokenError, match=reason):
        user_of_token(SECRET, token, now=NOW)


def test_a_token_without_user_or_expiry_is_refused() -> None:
    def signed(claims: dict[str, object]) -> str:
        body = f"{_part({'alg': 'HS256', 'typ': 'JWT'})}.{_part(claims)}"
        mac = hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).digest()
        return f"{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"

    with pytest.raises(TokenError, match="sub must be the customer's user id"):
        user_of_token(SECRET, signed({"exp": 9999999999}), now=NOW)
    with pytest.raises(TokenError, match="has no exp"):
        user_of_token(SECRET, signed({"sub": "ada"}), now=NOW)
    assert user_of_token(SECRET, signed({"sub": "ada", "exp": 9999999999}), now=NOW) == "ada"


def test_rotating_the_secret_ends_the_old_tokens_and_is_audited(session: Session) -> None:
    with pytest.raises(TokenError, match="not set up"):
        verify_customer_token(session=session, token=mint_token(SECRET, "ada"))
    first, made = in_app_secret(session=session, actor="admin@example.com")
    again, made_again = in_app_secret(session=session, actor="admin@example.com")
    old = mint_token(first, "ada")

    rotated, _ = in_app_secret(session=session, actor="admin@example.com", rotate=True)

    assert (made, made_again, again) == (True, False, first)
    assert rotated != first
    assert verify_customer_token(session=session, token=mint_token(rotated, "ada")) == "ada"
    with pytest.raises(TokenError, match="signature does not match"):
        verify_customer_token(session=session, token=old)
    actions = [e.action for e in session.exec(select(AuditEntry)).all()]
    assert actions == ["in_app_secret.create", "in_app_secret.rotate"]
