"""``journey inapp secret`` and ``journey inapp token``: the secret customers' tokens are signed with, and a token."""

from __future__ import annotations

import pytest

from engine.accounts import user_of_token
from engine.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out.strip(), err


@pytest.fixture
def database(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    return db_url


def test_the_secret_is_made_once_printed_alone_and_rotated_on_request(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, first, advice = run(capsys, "inapp", "secret")
    _, again, _ = run(capsys, "inapp", "secret")
    _, rotated, rotated_advice = run(capsys, "inapp", "secret", "--rotate")

    assert status == 0
    assert first == again != rotated
    assert len(first) >= 40
    assert first not in advice
    assert "a new secret (there was none)" in advice
    assert "the old one no longer signs valid tokens" in rotated_advice


def test_a_token_is_signed_with_the_current_secret_and_refused_without_one(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "inapp", "token", "ada")
    assert status == 1
    assert "there is no in-app secret yet" in err

    _, secret, _ = run(capsys, "inapp", "secret")
    status, token, _ = run(capsys, "inapp", "token", "ada", "--ttl", "PT5M")

    assert status == 0
    assert user_of_token(secret, token) == "ada"


def test_a_bad_lifetime_is_refused_naming_it(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["inapp", "token", "ada", "--ttl", "an hour"])

    assert exited.value.code == 2
    assert "'an hour' is not an ISO 8601 duration" in capsys.readouterr().err
