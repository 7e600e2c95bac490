"""Admin: intake write keys and API bearer tokens. A secret is shown once, when it is created; lists show prefixes."""

from __future__ import annotations

import dataclasses

import reflex as rx

from engine.accounts import (
    Action,
    IssuedSecret,
    SecretNotFoundError,
    SecretSummary,
    create_api_token,
    create_write_key,
    list_api_tokens,
    list_write_keys,
    revoke_api_token,
    revoke_write_key,
)
from engine.store import Role, session_scope
from journey_builder.auth import acting, requires, viewing
from journey_builder.components.layout import field
from journey_builder.pages.admin_shell import admin_page, confirm, when

ROLES = [role.value for role in Role]


@dataclasses.dataclass(frozen=True)
class SecretRow:
    id: int
    name: str
    prefix: str
    role: str
    created: str
    last_used: str
    revoked: str
    active: bool


def _row(summary: SecretSummary) -> SecretRow:
    return SecretRow(
        id=summary.id,
        name=summary.name,
        prefix=summary.prefix + "…",
        role=summary.role or "",
        created=when(summary.created_at),
        last_used=when(summary.last_used_at, "never"),
        revoked=when(summary.revoked_at, ""),
        active=summary.revoked_at is None,
    )


class KeysState(rx.State):
    write_keys: list[SecretRow] = rx.field(default_factory=list)
    api_tokens: list[SecretRow] = rx.field(default_factory=list)
    # The secret just created: held only until the admin dismisses it or leaves the page.
    new_secret: str = ""
    new_secret_label: str = ""

    def _refresh(self) -> None:
        with session_scope() as session:
            self.write_keys = [_row(key) for key in list_write_keys(session=session)]
            self.api_tokens = [_row(token) for token in list_api_tokens(session=session)]

    def _show(self, issued: IssuedSecret, kind: str) -> rx.event.EventSpec:
        self.new_secret, self.new_secret_label = issued.secret, f"{kind} “{issued.name}”"
        self._refresh()
        return rx.toast.success(f"Created the {kind} “{issued.name}”: copy it now, it is not shown again.")

    @rx.event
    @viewing(Action.MANAGE_KEYS)
    def load(self) -> None:
        self.new_secret = self.new_secret_label = ""
        self._refresh()

    @rx.event
    @viewing(Action.MANAGE_KEYS)
    def dismiss_secret(self) -> None:
        self.new_secret = self.new_secret_label = ""

    @rx.event
    @requires(Action.MANAGE_KEYS)
    def create_write_key(self, form: dict[str, str]) -> rx.event.EventSpec:
        with session_scope() as session:
            issued = create_write_key(session=session, name=form.get("name", "").strip(), actor=acting().email)
        return self._show(issued, "write key")

    @rx.event
    @requires(Action.MANAGE_KEYS)
    def create_api_token(self, form: dict[str, str]) -> rx.event.EventSpec:
        try:
            role = Role(form.get("role", ""))
        except ValueError:
            return rx.toast.error(f"Role: choose one of {', '.join(ROLES)}.")
        with session_scope() as session:
            issued = create_api_token(
                session=session, name=form.get("name", "").strip(), role=role, actor=acting().email
            )
        return self._show(issued, "API token")

    @rx.event
    @requires(Action.MANAGE_KEYS)
    def revoke_write_key(self, key_id: int) -> rx.event.EventSpec:
        try:
            with session_scope() as session:
                revoked = revoke_write_key(session=session, key_id=key_id, actor=acting().email)
        except SecretNotFoundError as error:
            return rx.toast.error(str(error))
        self._refresh()
        return rx.toast.success(f"Revoked the write key “{revoked.name}”: intake refuses it from now on.")

    @rx.event
    @requires(Action.MANAGE_KEYS)
    def revoke_api_token(self, token_id: int) -> rx.event.EventSpec:
        try:
            with session_scope() as session:
                revoked = revoke_api_token(session=session, token_id=token_id, actor=acting().email)
        except SecretNotFoundError as error:
            return rx.toast.error(str(error))
        self._refresh()
        return rx.toast.success(f"Revoked the API token “{revoked.name}”: the API refuses it from now on.")


def _new_secret() -> rx.Component:
    return rx.cond(
        KeysState.new_secret != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("key-round")),
            rx.vstack(
                rx.text(
                    "Your new ",
                    KeysState.new_secret_label,
                    ". Copy it now: only its prefix is kept, so it cannot be shown again.",
                    weight="medium",
                    size="2",
                ),
                rx.hstack(
                    rx.code(KeysState.new_secret, size="3", variant="outline", data_testid="new-secret"),
                    rx.button(
                        rx.icon("copy", size=14),
                        "Copy",
                        size="1",
                        on_click=[rx.set_clipboard(KeysState.new_secret), rx.toast.info("Copied.")],
                    ),
                    rx.button("Done", size="1", variant="soft", color_scheme="gray", on_click=KeysState.dismiss_secret),
                    align="center",
                    spacing="2",
                    wrap="wrap",
                ),
                spacing="2",
            ),
            color_scheme="green",
            width="100%",
        ),
    )


def _status(row: rx.Var[SecretRow]) -> rx.Component:
    return rx.cond(
        row.active,
        rx.badge("active", color_scheme="green", variant="soft"),
        rx.badge("revoked " + row.revoked, color_scheme="gray", variant="soft"),
    )


def _revoke(row: rx.Var[SecretRow], kind: str, on_confirm: rx.event.EventSpec) -> rx.Component:
    return rx.cond(
        row.active,
        confirm(
            rx.button("Revoke", size="1", variant="soft", color_scheme="red"),
            f"Revoke this {kind}?",
            "Everything still using “" + row.name + "” is refused from now on. This cannot be undone.",
            "Revoke",
            on_confirm,
        ),
    )


def _write_keys() -> rx.Component:
    return rx.card(
        rx.heading("Write keys", size="4"),
        rx.text(
            "Event intake (/v1/track, identify, page, batch) authenticates with these.", size="2", color_scheme="gray"
        ),
        rx.form(
            rx.hstack(
                field(
                    "Name",
                    rx.input(name="name", required=True, placeholder="e.g. Web shop", width="16em"),
                    width="auto",
                ),
                rx.button("Create write key", type="submit"),
                align="end",
                spacing="3",
            ),
            on_submit=KeysState.create_write_key,
            reset_on_submit=True,
            margin_y="12px",
        ),
        rx.table.root(
            rx.table.header(
                rx.table.row(*[rx.table.column_header_cell(h) for h in ("Name", "Prefix", "Created", "Status", "")])
            ),
            rx.table.body(
                rx.foreach(
                    KeysState.write_keys,
                    lambda row: rx.table.row(
                        rx.table.row_header_cell(row.name),
                        rx.table.cell(rx.code(row.prefix)),
                        rx.table.cell(row.created),
                        rx.table.cell(_status(row)),
                        rx.table.cell(_revoke(row, "write key", KeysState.revoke_write_key(row.id))),
                        align="center",
                        data_testid="write-key-row",
                    ),
                )
            ),
            variant="ghost",
            size="2",
            width="100%",
        ),
        size="3",
        width="100%",
    )


def _api_tokens() -> rx.Component:
    return rx.card(
        rx.heading("API tokens", size="4"),
        rx.text(
            "The /api routes take these as bearer tokens; each acts with its role's rights.",
            size="2",
            color_scheme="gray",
        ),
        rx.form(
            rx.hstack(
                field(
                    "Name",
                    rx.input(name="name", required=True, placeholder="e.g. Deploy script", width="16em"),
                    width="auto",
                ),
                field("Role", rx.select(ROLES, name="role", default_value=Role.MARKETER.value), width="auto"),
                rx.button("Create API token", type="submit"),
                align="end",
                spacing="3",
            ),
            on_submit=KeysState.create_api_token,
            reset_on_submit=True,
            margin_y="12px",
        ),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(h)
                        for h in ("Name", "Prefix", "Role", "Created", "Last used", "Status", "")
                    ]
                )
            ),
            rx.table.body(
                rx.foreach(
                    KeysState.api_tokens,
                    lambda row: rx.table.row(
                        rx.table.row_header_cell(row.name),
                        rx.table.cell(rx.code(row.prefix)),
                        rx.table.cell(row.role),
                        rx.table.cell(row.created),
                        rx.table.cell(row.last_used),
                        rx.table.cell(_status(row)),
                        rx.table.cell(_revoke(row, "API token", KeysState.revoke_api_token(row.id))),
                        align="center",
                        data_testid="api-token-row",
                    ),
                )
            ),
            variant="ghost",
            size="2",
            width="100%",
        ),
        size="3",
        width="100%",
    )


def keys_page() -> rx.Component:
    return admin_page(
        "Keys and tokens",
        "Secrets that let other systems in. Each is shown once, when created; revoke one you no longer trust.",
        "Keys and tokens",
        _new_secret(),
        _write_keys(),
        _api_tokens(),
    )
