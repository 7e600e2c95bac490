"""Users, passwords, sessions and the sign-in throttle, on SQLite and (where the SQL differs) PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import delete, text
from sqlmodel import Session, select

from engine.accounts import (
    LOCKOUT,
    MAX_FAILURES,
    SESSION_IDLE,
    SESSION_MAX,
    AccountError,
    Identity,
    SignInError,
    change_password,
    create_user,
    has_users,
    identity_for,
    list_users,
    remove_user,
    set_role,
    sign_in,
    sign_out,
)
from engine.journeys import get_journey
from engine.runtime import pause_journey
from engine.store import JourneyVersion, Role, SignInAttempt, User, UserSession, audit, get_engine, session_scope
from tests.engine_factories import NOW, event_trigger, journey_map, publish_and_launch, send

PASSWORD = "correct horse battery"
WRONG = "email or password is wrong, or too many attempts: try again later"
LOCK_WAITERS = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_session(request: pytest.FixtureRequest) -> Iterator[Session]:
    """A session on SQLite or on the shared PostgreSQL database, which starts with no users.

    Sign-ins commit, so on PostgreSQL the users and attempts of earlier tests are cleared first.
    """
    url = request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_url")
    with Session(get_engine(url), expire_on_commit=False) as session:
        session.execute(delete(SignInAttempt))
        session.execute(delete(UserSession))
        session.execute(delete(User))
        session.commit()
        yield session
        session.rollback()


def an_email() -> str:
    return f"user-{uuid.uuid4().hex[:8]}@example.com"


def a_user(session: Session, role: Role = Role.DESIGNER, *, email: str | None = None) -> Identity:
    return create_user(
        session=session, email=email or an_email(), password=PASSWORD, role=role, name="Ann", actor="test"
    )


def fail(session: Session, email: str, times: int) -> list[str]:
    """Sign in with a wrong password ``times`` times at NOW; the refusals' messages."""
    refusals = []
    for _ in range(times):
        with pytest.raises(SignInError) as refused:
            sign_in(session=session, email=email, password="not the password", now=NOW)
        refusals.append(str(refused.value))
    return refusals


# --- signing in --------------------------------------------------------------------------------------


def test_the_right_password_signs_in_and_opens_a_session(any_session: Session) -> None:
    user = a_user(any_session, Role.MARKETER)

    identity, secret = sign_in(session=any_session, email=user.email, password=PASSWORD, now=NOW)

    assert identity == Identity(user_id=user.user_id, email=user.email, name="Ann", role=Role.MARKETER)
    assert secret.startswith("js_")
    assert identity_for(session=any_session, secret=secret, now=NOW) == identity
    [summary] = list_users(session=any_session)
    assert summary.last_sign_in_at == NOW


def test_emails_are_compared_lower_case_and_trimmed(session: Session) -> None:
    user = a_user(session, email="  Ann.Smith@Example.COM ")

    identity, _ = sign_in(session=session, email="ANN.SMITH@example.com ", password=PASSWORD)

    assert user.email == identity.email == "ann.smith@example.com"


def test_a_wrong_password_is_refused_and_opens_no_session(session: Session) -> None:
    user = a_user(session)

    with pytest.raises(SignInError, match=f"^{WRONG}$"):
        sign_in(session=session, email=user.email, password=PASSWORD + "!")

    assert session.exec(select(UserSession)).all() == []


def test_an_unknown_email_gets_the_same_answer_as_a_wrong_password(session: Session) -> None:
    a_user(session)

    with pytest.raises(SignInError) as refused:
        sign_in(session=session, email="nobody@example.com", password=PASSWORD)

    assert str(refused.value) == WRONG


def test_five_failures_lock_the_client_out_even_against_the_right_password(any_session: Session) -> None:
    user = a_user(any_session)

    refusals = fail(any_session, user.email, MAX_FAILURES)

    assert refusals == [WRONG] * MAX_FAILURES
    almost = NOW + LOCKOUT - timedelta(seconds=30)
    with pytest.raises(SignInError, match=f"^{WRONG}$"):
        sign_in(session=any_session, email=user.email, password=PASSWORD, now=almost)
    [summary] = list_users(session=any_session, now=almost)
    assert summary.locked_until == NOW + LOCKOUT

    identity, _ = sign_in(session=any_session, email=user.email, password=PASSWORD, now=NOW + LOCKOUT)
    assert identity.user_id == user.user_id
    assert list_users(session=any_session, now=NOW + LOCKOUT)[0].locked_until is None


def test_another_client_signs_in_while_one_is_locked_out(any_session: Session) -> None:
    user = a_user(any_session)
    for _ in range(MAX_FAILURES):
        with pytest.raises(SignInError):
            sign_in(session=any_session, email=user.email, password="a guess", client="198.51.100.7", now=NOW)

    identity, _ = sign_in(session=any_session, email=user.email, password=PASSWORD, client="203.0.113.5", now=NOW)

    assert identity.user_id == user.user_id


def test_a_success_starts_the_count_of_failures_over(session: Session) -> None:
    user = a_user(session)
    fail(session, user.email, MAX_FAILURES - 1)
    sign_in(session=session, email=user.email, password=PASSWORD, now=NOW)

    assert fail(session, user.email, MAX_FAILURES - 1) == [WRONG] * (MAX_FAILURES - 1)
    sign_in(session=session, email=user.email, password=PASSWORD, now=NOW)


def test_failures_count_although_the_caller_rolls_back(db_url: str) -> None:
    with session_scope(db_url) as session:
        email = a_user(session).email
    for _ in range(MAX_FAILURES):
        # session_scope rolls back when SignInError leaves the block, as in the app's handlers.
        with pytest.raises(SignInError), session_scope(db_url) as session:
            sign_in(session=session, email=email, password="not the password", now=NOW)

    with pytest.raises(SignInError), session_scope(db_url) as session:
        sign_in(session=session, email=email, password=PASSWORD, now=NOW)


def test_failed_sign_ins_of_an_unknown_email_lock_nothing(session: Session) -> None:
    user = a_user(session)

    fail(session, "nobody@example.com", MAX_FAILURES + 1)

    sign_in(session=session, email=user.email, password=PASSWORD, now=NOW)


# --- sessions ----------------------------------------------------------------------------------------


def test_a_session_expires_after_being_idle_too_long(session: Session) -> None:
    user = a_user(session)
    _, used = sign_in(session=session, email=user.email, password=PASSWORD, now=NOW)
    _, forgotten = sign_in(session=session, email=user.email, password=PASSWORD, now=NOW)

    assert identity_for(session=session, secret=used, now=NOW + SESSION_IDLE) is not None
    assert identity_for(session=session, secret=forgotten, now=NOW + SESSION_IDLE + timedelta(seconds=1)) is None


def test_use_keeps_a_session_alive_until_its_absolute_limit(session: Session) -> None:
    user = a_user(session)
    _, secret = sign_in(session=session, email=user.email, password=PASSWORD, now=NOW)
    step = SESSION_IDLE - timedelta(hours=1)

    at = NOW
    while at + step <= NOW + SESSION_MAX:
        at += step
        assert identity_for(session=session, secret=secret, now=at) is not None, at - NOW

    assert identity_for(session=session, secret=secret, now=NOW + SESSION_MAX + timedelta(seconds=1)) is None


def test_use_is_written_at_most_once_a_minute(session: Session) -> None:
    user = a_user(session)
    _, secret = sign_in(session=session, email=user.email, password=PASSWORD, now=NOW)

    def last_seen() -> object:
        session.flush()
        return session.execute(text("SELECT last_seen_at FROM user_session")).scalar_one()

    first = last_seen()
    identity_for(session=session, secret=secret, now=NOW + timedelta(seconds=59))
    assert last_seen() == first
    identity_for(session=session, secret=secret, now=NOW + timedelta(seconds=60))
    assert last_seen() != first


def test_signing_out_ends_only_that_session(session: Session) -> None:
    user = a_user(session)
    _, phone = sign_in(session=session, email=user.email, password=PASSWORD, now=NOW)
    _, laptop = sign_in(session=session, email=user.email, password=PASSWORD, now=NOW)

    sign_out(session=session, secret=phone)
    sign_out(session=session, secret=phone)
    sign_out(session=session, secret="js_never-issued")

    assert identity_for(session=session, secret=phone, now=NOW) is None
    assert identity_for(session=session, secret=laptop, now=NOW) is not None


@pytest.mark.parametrize("secret", ["", "js_never-issued"])
def test_an_unknown_session_is_nobody(session: Session, secret: str) -> None:
    a_user(session)

    assert identity_for(session=session, secret=secret, now=NOW) is None


def test_a_session_sees_a_new_role_at_once(session: Session) -> None:
    a_user(session, Role.ADMIN)
    user = a_user(session, Role.DESIGNER)
    _, secret = sign_in(session=session, email=user.email, password=PASSWORD, now=NOW)

    set_role(session=session, user_id=user.user_id, role=Role.EXECUTIVE, actor="admin@example.com")

    identity = identity_for(session=session, secret=secret, now=NOW)
    assert identity is not None
    assert identity.role is Role.EXECUTIVE


# --- what is stored ----------------------------------------------------------------------------------


def test_passwords_and_session_secrets_are_stored_only_hashed(session: Session) -> None:
    user = a_user(session)
    _, secret = sign_in(session=session, email=user.email, password=PASSWORD, now=NOW)
    session.flush()

    [stored_hash] = session.execute(text("SELECT password_hash FROM user_account")).scalars()
    sessions = repr(session.execute(text("SELECT * FROM user_session")).all())

    assert stored_hash.startswith("$argon2id$")
    assert PASSWORD not in repr(session.execute(text("SELECT * FROM user_account")).all())
    assert secret not in sessions
    assert secret[3:] not in sessions


def test_the_same_password_hashes_differently_for_two_users(session: Session) -> None:
    a_user(session)
    a_user(session)

    hashes = session.execute(text("SELECT password_hash FROM user_account")).scalars().all()

    assert len(set(hashes)) == 2


@pytest.mark.parametrize(
    ("email", "password", "name", "complaint"),
    [
        ("ann", PASSWORD, "", "email: not an email address"),
        ("ann@", PASSWORD, "", "email: not an email address"),
        ("@example.com", PASSWORD, "", "email: not an email address"),
        ("ann smith@example.com", PASSWORD, "", "email: not an email address"),
        ("a" * 250 + "@example.com", PASSWORD, "", "email: at most 254 characters"),
        ("ann@example.com", "eleven char", "", "password: at least 12 characters"),
        ("ann@example.com", "x" * 1025, "", "password: at most 1024 characters"),
        ("ann@example.com", PASSWORD, "n" * 201, "name: at most 200 characters"),
    ],
)
def test_bad_input_names_the_field(session: Session, email: str, password: str, name: str, complaint: str) -> None:
    with pytest.raises(AccountError, match=f"^{complaint}$"):
        create_user(session=session, email=email, password=password, role=Role.ADMIN, name=name, actor="test")

    assert not has_users(session=session)


def test_two_users_cannot_share_an_email(session: Session) -> None:
    a_user(session, email="ann@example.com")

    with pytest.raises(AccountError, match=r"^email: another user has this address$"):
        a_user(session, email="ANN@example.com")


def test_creating_a_user_is_audited(session: Session) -> None:
    user = create_user(session=session, email="ann@example.com", password=PASSWORD, role=Role.ADMIN, actor="cli:root")

    [entry] = audit.entries(session=session, action="user.create")

    assert (entry.actor, entry.journey_id) == ("cli:root", None)
    assert entry.detail == {"user_id": user.user_id, "email": "ann@example.com", "role": "admin"}
    assert PASSWORD not in repr(entry.detail)


# --- listing and roles -------------------------------------------------------------------------------


def test_users_are_listed_by_email_without_the_removed(session: Session) -> None:
    assert not has_users(session=session)
    a_user(session, Role.ADMIN, email="zoe@example.com")
    gone = a_user(session, email="bob@example.com")
    a_user(session, Role.EXECUTIVE, email="ann@example.com")
    remove_user(session=session, user_id=gone.user_id, actor="zoe@example.com")

    users = list_users(session=session)

    assert has_users(session=session)
    assert [(u.email, u.role, u.name, u.last_sign_in_at, u.locked_until) for u in users] == [
        ("ann@example.com", Role.EXECUTIVE, "Ann", None, None),
        ("zoe@example.com", Role.ADMIN, "Ann", None, None),
    ]


def test_the_last_admin_can_be_neither_demoted_nor_removed(any_session: Session) -> None:
    first = a_user(any_session, Role.ADMIN)
    second = a_user(any_session, Role.ADMIN)
    a_user(any_session, Role.MARKETER)

    set_role(session=any_session, user_id=second.user_id, role=Role.MARKETER, actor=first.email)

    with pytest.raises(AccountError, match=r"^role: .* is the last admin; make someone else an admin first$"):
        set_role(session=any_session, user_id=first.user_id, role=Role.DESIGNER, actor=first.email)
    with pytest.raises(AccountError, match=r"^user_id: .* is the last admin"):
        remove_user(session=any_session, user_id=first.user_id, actor=first.email)
    [entry] = audit.entries(session=any_session, action="user.role")
    assert (entry.actor, entry.detail) == (
        first.email,
        {"user_id": second.user_id, "email": second.email, "previous": "admin", "role": "marketer"},
    )


@pytest.mark.postgres
def test_two_admins_demoting_each_other_at_once_leave_one_admin(pg_url: str) -> None:
    with session_scope(pg_url) as session:
        session.execute(delete(UserSession))
        session.execute(delete(User))
        ann, bob = a_user(session, Role.ADMIN), a_user(session, Role.ADMIN)
    outcome: list[BaseException | None] = []

    def demote_ann() -> None:
        try:
            with session_scope(pg_url) as session:
                set_role(session=session, user_id=ann.user_id, role=Role.DESIGNER, actor=bob.email)
            outcome.append(None)
        except AccountError as error:
            outcome.append(error)

    with session_scope(pg_url) as first:
        set_role(session=first, user_id=bob.user_id, role=Role.DESIGNER, actor=ann.email)
        second = threading.Thread(target=demote_ann)
        second.start()
        # Commit only once the other transaction waits for the admins' rows, so both really overlap.
        for _ in range(1000):
            # A connection of its own: a transaction sees pg_stat_activity as it was at its first look.
            with get_engine(pg_url).connect() as watcher:
                waiting = watcher.execute(text(LOCK_WAITERS)).scalar_one()
            if waiting:
                break
            threading.Event().wait(0.01)
        assert waiting, "the second demotion never waited for the first"
    second.join(timeout=30)

    assert [type(error) for error in outcome] == [AccountError]
    with session_scope(pg_url) as session:
        assert [u.email for u in list_users(session=session) if u.role is Role.ADMIN] == [ann.email]


# --- removing users ----------------------------------------------------------------------------------


def test_a_removed_user_is_signed_out_everywhere_and_cannot_sign_in(any_session: Session) -> None:
    admin = a_user(any_session, Role.ADMIN)
    user = a_user(any_session, Role.MARKETER)
    _, secret = sign_in(session=any_session, email=user.email, password=PASSWORD, now=NOW)

    remove_user(session=any_session, user_id=user.user_id, actor=admin.email)

    assert identity_for(session=any_session, secret=secret, now=NOW) is None
    with pytest.raises(SignInError, match=f"^{WRONG}$"):
        sign_in(session=any_session, email=user.email, password=PASSWORD, now=NOW)
    with pytest.raises(AccountError, match=f"^user_id: there is no user with id {user.user_id}$"):
        remove_user(session=any_session, user_id=user.user_id, actor=admin.email)
    [entry] = audit.entries(session=any_session, action="user.remove")
    assert (entry.actor, entry.detail) == (admin.email, {"user_id": user.user_id, "email": user.email})


def test_a_removed_users_email_can_be_given_to_a_new_account(any_session: Session) -> None:
    admin = a_user(any_session, Role.ADMIN)
    old = a_user(any_session, Role.MARKETER, email="sam@example.com")
    remove_user(session=any_session, user_id=old.user_id, actor=admin.email)

    new = create_user(
        session=any_session, email="sam@example.com", password="another good password", role=Role.DESIGNER, actor="t"
    )

    identity, _ = sign_in(session=any_session, email="sam@example.com", password="another good password", now=NOW)
    assert identity == new
    assert new.user_id != old.user_id
    with pytest.raises(AccountError, match=r"^email: another user has this address$"):
        a_user(any_session, email="sam@example.com")


def test_removing_an_author_keeps_their_journeys_versions_and_audit_entries(session: Session) -> None:
    admin = a_user(session, Role.ADMIN)
    author = a_user(session, Role.MARKETER)
    doc = journey_map([event_trigger("signed_up"), send("hello")], [("entry", "hello")])
    journey_id, version_id = publish_and_launch(session, doc, actor=author.email)
    pause_journey(session=session, journey_id=journey_id, actor=author.email)
    trail = [(e.action, e.actor) for e in audit.entries(session=session, journey_id=journey_id)]

    remove_user(session=session, user_id=author.user_id, actor=admin.email)
    session.commit()

    journey = get_journey(session=session, journey_id=journey_id)
    version = session.get(JourneyVersion, version_id)
    assert version is not None
    assert (journey.created_by, version.published_by) == (author.email, author.email)
    assert [(e.action, e.actor) for e in audit.entries(session=session, journey_id=journey_id)] == trail
    assert ("pause", author.email) in trail
    assert [e.action for e in audit.entries(session=session, actor=author.email)] == [a for a, _ in trail]


# --- passwords ---------------------------------------------------------------------------------------


def test_a_new_password_replaces_the_old_lifts_a_lock_and_ends_other_sessions(session: Session) -> None:
    user = a_user(session)
    _, kept = sign_in(session=session, email=user.email, password=PASSWORD, now=NOW)
    _, other = sign_in(session=session, email=user.email, password=PASSWORD, now=NOW)
    fail(session, user.email, MAX_FAILURES)

    change_password(
        session=session, user_id=user.user_id, password="a brand new secret", actor=user.email, keep_secret=kept
    )

    assert identity_for(session=session, secret=kept, now=NOW) is not None
    assert identity_for(session=session, secret=other, now=NOW) is None
    with pytest.raises(SignInError, match=f"^{WRONG}$"):
        sign_in(session=session, email=user.email, password=PASSWORD, now=NOW)
    sign_in(session=session, email=user.email, password="a brand new secret", now=NOW)
    [entry] = audit.entries(session=session, action="user.password")
    assert (entry.actor, entry.detail) == (user.email, {"user_id": user.user_id, "email": user.email})


def test_a_new_password_must_be_long_enough(session: Session) -> None:
    user = a_user(session)

    with pytest.raises(AccountError, match=r"^password: at least 12 characters$"):
        change_password(session=session, user_id=user.user_id, password="short", actor=user.email)

    sign_in(session=session, email=user.email, password=PASSWORD, now=NOW)
