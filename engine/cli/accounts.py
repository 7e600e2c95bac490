"""``journey user``, ``key`` and ``token``: users, ingestion write keys and API bearer tokens."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence

from engine.accounts import (
    PASSWORD_MIN,
    AccountError,
    SecretNotFoundError,
    SecretSummary,
    create_api_token,
    create_user,
    create_write_key,
    list_api_tokens,
    list_users,
    list_write_keys,
    revoke_api_token,
    revoke_write_key,
)
from engine.cli.common import PROG, CommandFailedError, actor, table, when
from engine.store import Role, session_scope, utc_now

# --- secrets -------------------------------------------------------------------------------------

NAME_LENGTH = 200


def _secret_name(text: str) -> str:
    name = text.strip()
    if not name or len(name) > NAME_LENGTH:
        raise argparse.ArgumentTypeError(f"a name needs 1 to {NAME_LENGTH} characters, got {len(name)}")
    return name


def name_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", type=_secret_name, help="what the secret is for (shown in lists, not secret)")


def key_create_command(args: argparse.Namespace) -> int:
    with session_scope() as session:
        issued = create_write_key(session=session, name=args.name, actor=actor())
    # The secret alone on stdout, so `$(journey key create site)` captures it; the advice goes to
    # stderr and does not repeat it, so a logged stderr leaks nothing.
    print(issued.secret)
    print(
        f"write key {issued.id} ({issued.name}) created; it is shown only this once. Use it as a Segment "
        f"library's write key, or send it as the HTTP Basic username with an empty password: "
        f"`curl -u <key>: http://<server>/v1/track ...`",
        file=sys.stderr,
    )
    return 0


def token_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--role", type=Role, choices=list(Role), required=True, help="what the token may do")
    name_argument(parser)


def token_create_command(args: argparse.Namespace) -> int:
    with session_scope() as session:
        issued = create_api_token(session=session, name=args.name, role=args.role, actor=actor())
    print(issued.secret)
    print(
        f"API token {issued.id} ({issued.name}, {args.role.value}) created; it is shown only this once. "
        f"Send it as the header `Authorization: Bearer <token>`.",
        file=sys.stderr,
    )
    return 0


def _secret_rows(summaries: Sequence[SecretSummary], *, with_role: bool) -> list[list[str]]:
    rows = []
    for item in summaries:
        # The prefix is what the holder of a secret can match against; "…" says the rest is not shown.
        row = [str(item.id), item.prefix + "…", item.name, when(item.created_at)]
        if with_role:
            row += [item.role or "-", when(item.last_used_at)]
        rows.append([*row, f"revoked {when(item.revoked_at)}" if item.revoked_at else "active"])
    return rows


def key_list_command(_: argparse.Namespace) -> int:
    with session_scope() as session:
        keys = list_write_keys(session=session)
    if not keys:
        print(f"no write keys; create one with `{PROG} key create NAME`")
        return 0
    print(table(["id", "prefix", "name", "created", "status"], _secret_rows(keys, with_role=False)))
    return 0


def token_list_command(_: argparse.Namespace) -> int:
    with session_scope() as session:
        tokens = list_api_tokens(session=session)
    if not tokens:
        print(f"no API tokens; create one with `{PROG} token create NAME --role ROLE`")
        return 0
    headers = ["id", "prefix", "name", "created", "role", "last used", "status"]
    print(table(headers, _secret_rows(tokens, with_role=True)))
    return 0


def secret_id_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("secret_id", type=int, metavar="ID", help="the id shown by the list command")


def _print_revoked(kind: str, summary: SecretSummary) -> None:
    print(f"{kind} {summary.id} ({summary.name}, {summary.prefix}…) revoked {when(summary.revoked_at)}")


def key_revoke_command(args: argparse.Namespace) -> int:
    try:
        with session_scope() as session:
            summary = revoke_write_key(session=session, key_id=args.secret_id, actor=actor())
    except SecretNotFoundError as error:
        raise CommandFailedError(str(error)) from None
    _print_revoked("write key", summary)
    return 0


def token_revoke_command(args: argparse.Namespace) -> int:
    try:
        with session_scope() as session:
            summary = revoke_api_token(session=session, token_id=args.secret_id, actor=actor())
    except SecretNotFoundError as error:
        raise CommandFailedError(str(error)) from None
    _print_revoked("API token", summary)
    return 0


# --- users ---------------------------------------------------------------------------------------


def user_create_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--email", required=True, help="what the user signs in with")
    parser.add_argument("--role", type=Role, choices=list(Role), required=True, help="what the user may do")
    parser.add_argument("--name", default="", help="the name shown in the app (default: none)")
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of asking for it twice",
    )


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # The first line without its line ending: `echo "$PASSWORD" | journey user create ...` works.
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    password = getpass.getpass(f"Password (at least {PASSWORD_MIN} characters): ")
    if getpass.getpass("The same password again: ") != password:
        raise CommandFailedError("the two passwords differ; nothing was created")
    return password


def user_create_command(args: argparse.Namespace) -> int:
    password = _read_password(args.password_stdin)
    try:
        with session_scope() as session:
            identity = create_user(
                session=session,
                email=args.email,
                password=password,
                role=args.role,
                name=args.name,
                actor=actor(),
            )
    except AccountError as error:
        raise CommandFailedError(f"{error}; nothing was created") from None
    print(f"created user {identity.user_id}: {identity.email} ({identity.role.value})")
    return 0


def user_list_command(_: argparse.Namespace) -> int:
    with session_scope() as session:
        users = list_users(session=session)
    if not users:
        print(f"no users; create the first admin with `{PROG} user create --email EMAIL --role admin`")
        return 0
    rows = [
        [
            str(user.id),
            user.email,
            user.role.value,
            user.name or "-",
            when(user.last_sign_in_at),
            f"until {when(user.locked_until)}" if user.locked_until and user.locked_until > utc_now() else "-",
        ]
        for user in users
    ]
    print(table(["id", "email", "role", "name", "last sign-in", "locked"], rows))
    return 0
