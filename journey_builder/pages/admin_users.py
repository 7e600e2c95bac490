"""Admin: the people who sign in, their roles, and new accounts with an initial password."""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx

from engine.accounts import (
    PASSWORD_MIN,
    AccountError,
    Action,
    change_password,
    create_user,
    list_users,
    remove_user,
    set_role,
)
from engine.store import Role, session_scope, utc_now
from journey_builder.auth import acting, requires, viewing
from journey_builder.components.layout import field
from journey_builder.pages.admin_shell import admin_page, confirm, error_callout, when
from journey_builder.pages.sign_in import sentence

ROLES = [role.value for role in Role]


@dataclasses.dataclass(frozen=True)
class UserRow:
    id: int
    email: str
    name: str
    role: str
    created: str
    last_sign_in: str
    locked: bool
    is_me: bool


def _create(email: str, name: str, role: str, password: str, actor: str) -> None:
    with session_scope() as session:
        create_user(session=session, email=email, name=name, role=Role(role), password=password, actor=actor)


def _set_password(user_id: int, password: str, actor: str) -> None:
    with session_scope() as session:
        change_password(session=session, user_id=user_id, password=password, actor=actor)


class UsersState(rx.State):
    rows: list[UserRow] = rx.field(default_factory=list)
    error: str = ""
    # A new key remounts the create form, clearing it after a success but not after a refusal.
    form_key: int = 0
    password_error: str = ""

    def _refresh(self) -> None:
        me, now = acting().user_id, utc_now()
        with session_scope() as session:
            users = list_users(session=session)
        self.rows = [
            UserRow(
                id=u.id,
                email=u.email,
                name=u.name,
                role=u.role.value,
                created=when(u.created_at),
                last_sign_in=when(u.last_sign_in_at, "never"),
                locked=u.locked_until is not None and u.locked_until > now,
                is_me=u.id == me,
            )
            for u in users
        ]

    @rx.event
    @viewing(Action.MANAGE_USERS)
    def load(self) -> None:
        self.error = self.password_error = ""
        self._refresh()

    @rx.event
    @requires(Action.MANAGE_USERS)
    async def create_user(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        email = form.get("email", "")
        try:
            await asyncio.to_thread(
                _create, email, form.get("name", ""), form.get("role", ""), form.get("password", ""), acting().email
            )
        except (AccountError, ValueError) as error:
            self.error = sentence(str(error))
            return None
        self.error, self.form_key = "", self.form_key + 1
        self._refresh()
        return rx.toast.success(f"{email.strip().lower()} can sign in now.")

    @rx.event
    @requires(Action.MANAGE_USERS)
    def change_role(self, user_id: int, role: str) -> rx.event.EventSpec:
        try:
            with session_scope() as session:
                set_role(session=session, user_id=user_id, role=Role(role), actor=acting().email)
        except AccountError as error:
            self._refresh()
            return rx.toast.error(sentence(str(error)))
        self._refresh()
        return rx.toast.success(f"Role changed to {role}.")

    @rx.event
    @requires(Action.MANAGE_USERS)
    def remove_user(self, user_id: int) -> rx.event.EventSpec:
        try:
            with session_scope() as session:
                remove_user(session=session, user_id=user_id, actor=acting().email)
        except AccountError as error:
            return rx.toast.error(sentence(str(error)))
        self._refresh()
        return rx.toast.success("Removed; their sessions have ended.")

    @rx.event
    @requires(Action.MANAGE_USERS)
    async def set_password(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        try:
            await asyncio.to_thread(
                _set_password, int(form.get("user_id", "0")), form.get("password", ""), acting().email
            )
        except AccountError as error:
            self.password_error = sentence(str(error))
            return None
        self.password_error = ""
        self._refresh()
        return rx.toast.success("Password set; the lock-out is lifted and their other sessions have ended.")


def _create_form() -> rx.Component:
    return rx.card(
        rx.heading("Add someone", size="4", margin_bottom="8px"),
        rx.form(
            rx.vstack(
                rx.hstack(
                    field("Email", rx.input(name="email", type="email", required=True, width="100%")),
                    field("Name", rx.input(name="name", width="100%")),
                    field("Role", rx.select(ROLES, name="role", default_value=Role.DESIGNER.value, width="100%")),
                    field(
                        f"Initial password ({PASSWORD_MIN}+ characters)",
                        rx.input(
                            name="password",
                            type="password",
                            auto_complete="new-password",
                            required=True,
                            min_length=PASSWORD_MIN,
                            width="100%",
                        ),
                    ),
                    spacing="3",
                    width="100%",
                    align="end",
                ),
                error_callout(UsersState.error),
                rx.button("Create account", type="submit"),
                spacing="3",
                width="100%",
            ),
            on_submit=UsersState.create_user,
            key=UsersState.form_key.to_string(),
            width="100%",
        ),
        size="3",
        width="100%",
    )


def _password_dialog(row: rx.Var[UserRow]) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(rx.button("Set password", size="1", variant="soft", color_scheme="gray")),
        rx.dialog.content(
            rx.dialog.title("Set a new password"),
            rx.dialog.description(
                "For " + row.email + ". It also lifts a lock-out and ends their other sessions.", size="2"
            ),
            rx.form(
                rx.vstack(
                    rx.el.input(type="hidden", name="user_id", value=row.id.to_string()),
                    rx.input(
                        name="password",
                        type="password",
                        auto_complete="new-password",
                        required=True,
                        min_length=PASSWORD_MIN,
                        placeholder=f"At least {PASSWORD_MIN} characters",
                        width="100%",
                    ),
                    error_callout(UsersState.password_error),
                    rx.hstack(
                        rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray", type="button")),
                        rx.button("Set password", type="submit"),
                        justify="end",
                        spacing="3",
                        width="100%",
                    ),
                    spacing="3",
                    margin_top="12px",
                ),
                on_submit=UsersState.set_password,
                reset_on_submit=True,
            ),
        ),
    )


def _row(row: rx.Var[UserRow]) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.text(row.email, weight="medium"),
                rx.text(row.name, size="1", color_scheme="gray"),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.select(
                ROLES,
                value=row.role,
                on_change=lambda role: UsersState.change_role(row.id, role),
                size="1",
                aria_label="Role of " + row.email,
            )
        ),
        rx.table.cell(rx.text(row.last_sign_in, size="2")),
        rx.table.cell(rx.text(row.created, size="2", color_scheme="gray")),
        rx.table.cell(
            rx.hstack(
                rx.cond(row.locked, rx.badge("locked out", color_scheme="red", variant="soft")),
                rx.cond(row.is_me, rx.badge("you", variant="soft")),
                spacing="1",
            )
        ),
        rx.table.cell(
            rx.hstack(
                _password_dialog(row),
                # Removing yourself is left to another admin: it would end this very session.
                rx.cond(
                    ~row.is_me,
                    confirm(
                        rx.button("Remove", size="1", variant="soft", color_scheme="red"),
                        "Remove this account?",
                        row.email + " will no longer be able to sign in, and their open sessions end now.",
                        "Remove",
                        UsersState.remove_user(row.id),
                    ),
                ),
                spacing="2",
            )
        ),
        align="center",
        data_testid="user-row",
    )


def users_page() -> rx.Component:
    return admin_page(
        "Users and roles",
        "Who can sign in, and what each may do: designers draw, marketers run journeys, executives watch.",
        "Users",
        _create_form(),
        rx.card(
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[rx.table.column_header_cell(h) for h in ("Person", "Role", "Last sign-in", "Created", "", "")]
                    )
                ),
                rx.table.body(rx.foreach(UsersState.rows, _row)),
                variant="ghost",
                size="2",
                width="100%",
            ),
            size="3",
            width="100%",
        ),
    )
