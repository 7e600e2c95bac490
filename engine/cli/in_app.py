"""``journey inapp``: the workspace's secret that customers' tokens are signed with, and a token for trying the
inbox out (the customer's backend mints its own, with any JWT library)."""

from __future__ import annotations

import argparse
import sys

from engine.accounts import DEFAULT_TOKEN_LIFETIME, in_app_secret, mint_token
from engine.cli.common import CommandFailedError, actor
from engine.map import DurationFormatError, format_duration, parse_duration
from engine.store import USER_ID_LENGTH, current_in_app_secret, session_scope


def secret_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rotate",
        action="store_true",
        help="make a new secret: tokens signed with the old one stop working at once",
    )


def secret_command(args: argparse.Namespace) -> int:
    with session_scope() as session:
        secret, new = in_app_secret(session=session, actor=actor(), rotate=args.rotate)
    # The secret alone on stdout, so `$(journey inapp secret)` captures it; the advice goes to stderr.
    print(secret)
    what = "a new secret (the old one no longer signs valid tokens)" if args.rotate else "the secret"
    if new and not args.rotate:
        what = "a new secret (there was none)"
    print(
        f"{what} for in-app tokens. Keep it on your backend only: it signs each signed-in customer's token "
        "(a JWT, HS256, sub = user id, exp = end); see docs/in-app.md.",
        file=sys.stderr,
    )
    return 0


def _user_id(text: str) -> str:
    if not text or len(text) > USER_ID_LENGTH:
        raise argparse.ArgumentTypeError(f"a user id has 1 to {USER_ID_LENGTH} characters, got {len(text)}")
    return text


def _lifetime(text: str) -> str:
    try:
        parse_duration(text)
    except DurationFormatError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def token_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("user_id", type=_user_id, help="the customer's user id (as the intake knows them)")
    parser.add_argument(
        "--ttl",
        type=_lifetime,
        default=format_duration(DEFAULT_TOKEN_LIFETIME),
        help="how long the token works, ISO 8601 (default %(default)s)",
    )


def token_command(args: argparse.Namespace) -> int:
    with session_scope() as session:
        secret = current_in_app_secret(session)
    if secret is None:
        raise CommandFailedError("there is no in-app secret yet: make it with `journey inapp secret`")
    print(mint_token(secret, args.user_id, lifetime=parse_duration(args.ttl)))
    return 0
