"""``caselake users``: the users file the app and ``caselake search`` sign in against."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestration.cli.common import console, fail, read_settings

users_app = typer.Typer(help="The users file: logins, roles, worker ids, hashed passwords.", no_args_is_help=True)


@users_app.command("add")
def users_add(
    login: Annotated[str, typer.Argument(help="The login (lower case).")],
    role: Annotated[
        str,
        typer.Option(
            help="social_worker, team_manager, iro, auditor, analyst, admin, family_finder or disclosure_officer."
        ),
    ],
    name: Annotated[str, typer.Option(help="The person's name, as the app shows it.")],
    worker: Annotated[str | None, typer.Option(help="The case-management worker id (case readers need one).")] = None,
    oidc_only: Annotated[
        bool, typer.Option("--oidc-only", help="No password: signs in through the identity provider.")
    ] = False,
    replace: Annotated[bool, typer.Option(help="Replace an existing login.")] = False,
) -> None:
    """Add a login (asks for its password twice unless --oidc-only)."""
    from app.users import UserError, UserStore

    password = None if oidc_only else typer.prompt("password", hide_input=True, confirmation_prompt=True, err=True)
    settings = read_settings()
    try:
        user = UserStore(settings.users_file()).add(login, role, name, password, worker, replace=replace)
    except (UserError, ValueError) as exc:
        fail(str(exc), 2)
    console.print(f"added {user.login} ({user.role})")
    if replace:
        _end_sessions(settings, login, "login replaced")


@users_app.command("disable")
def users_disable(login: Annotated[str, typer.Argument(help="The login to disable.")]) -> None:
    """Disable a login: it can no longer sign in, and every app session it has open ends now."""
    from app.users import UserError, UserStore

    settings = read_settings()
    try:
        UserStore(settings.users_file()).set_disabled(login, True)
    except UserError as exc:
        fail(str(exc), 2)
    _end_sessions(settings, login, "login disabled")


@users_app.command("enable")
def users_enable(login: Annotated[str, typer.Argument(help="The login to enable again.")]) -> None:
    """Enable a disabled login (it signs in afresh: its old sessions stay ended)."""
    from app.users import UserError, UserStore

    try:
        UserStore(read_settings().users_file()).set_disabled(login, False)
    except UserError as exc:
        fail(str(exc), 2)
    console.print(f"enabled {login}")


def _end_sessions(settings, login: str, reason: str) -> None:
    """End the login's open app sessions (every process sees it at its next call) and audit it."""
    from app.audit import Action, AuditEvent, AuditLog
    from app.sessions import SessionStore

    ended = SessionStore(settings.sessions_db()).end_login(login, reason)
    AuditLog(settings.audit_db()).record(
        AuditEvent(
            login,
            "",
            Action.LOGOUT,
            request={"every_session": True, "via": "cli"},
            result={"sessions": ended},
            detail=reason,
        )
    )
    console.print(f"{login}: {ended} open app session(s) ended ({reason})")


@users_app.command("list")
def users_list() -> None:
    """The logins, their roles and worker ids (never the hashes)."""
    from app.users import UserStore

    for user in UserStore(read_settings().users_file()).list():
        print(
            f"{user.login:<24} {user.role!s:<14} {user.worker_id or '-':<10} {user.name}{'  (disabled)' if user.disabled else ''}"
        )


@users_app.command("demo")
def users_demo() -> None:
    """Make (once) and print a demo login for every role, for the synthetic council only."""
    from app.demo import demo_logins

    settings = read_settings()
    for login, role, worker, password in demo_logins(settings.lake(), settings.users_file()):
        print(f"  {login:<22} password {password:<18} {role:<14} {worker}")
