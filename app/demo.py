"""Demo logins for the synthetic council: one per role, with workers chosen from the lake so each role shows
what it is for (the social worker's team holds a restricted child that does not name them, so the demo shows a
child they cannot reach). Passwords are random, printed once, and kept (mode 600) in ``demo-logins.txt`` beside
the users file for the next ``make demo``. Never for a real council's data."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import polars as pl

from app.users import Role, UserStore
from lake.storage.delta import ENTERPRISE, Lake


def _live(lake: Lake, table: str) -> pl.DataFrame:
    frame = lake.read(ENTERPRISE, table)
    return pl.DataFrame() if frame is None else frame.filter(pl.col("_deleted_at").is_null())


def demo_workers(lake: Lake) -> dict[Role, str | None]:
    """The worker each demo role signs in as."""
    workers, involvements = _live(lake, "worker"), _live(lake, "involvement")
    restricted = _live(lake, "access_restriction")
    current = involvements.filter(pl.col("valid_to").is_null()).group_by("worker_id").len().sort(["len", "worker_id"])
    busiest = current["worker_id"].to_list()[::-1] or workers["worker_id"].to_list()
    named = set(restricted["worker_id"].to_list()) if restricted.height else set()
    team_of = dict(zip(workers["worker_id"], workers["team"], strict=True))
    restricted_teams = {team_of.get(w) for w in named}
    # the social worker: busiest worker of a team with a restricted child they are not named on, else the busiest
    social = next((w for w in busiest if w not in named and team_of.get(w) in restricted_teams), busiest[0])
    manager = next((w for w in workers["worker_id"] if w != social and team_of.get(w) == team_of.get(social)), social)
    iro = next((w for w in busiest if w not in (social, manager)), social)
    return {
        Role.SOCIAL_WORKER: social,
        Role.TEAM_MANAGER: manager,
        Role.IRO: iro,
        Role.AUDITOR: None,
        Role.ANALYST: None,
        Role.ADMIN: None,
        Role.FAMILY_FINDER: None,
        Role.DISCLOSURE_OFFICER: None,
    }


def demo_logins(lake: Lake, users_file: Path) -> list[tuple[str, str, str | None, str]]:
    """(login, role, worker id, password) for each role; made on the first call, read back on later ones."""
    kept = Path(users_file).with_name("demo-logins.txt")
    if kept.exists():
        return [tuple(line.split("\t")) for line in kept.read_text().splitlines() if line]  # type: ignore[misc]
    store, out = UserStore(users_file), []
    for role, worker in demo_workers(lake).items():
        login, password = f"demo-{role.value.replace('_', '-')}", secrets.token_urlsafe(12)
        store.add(login, role, f"Demo {role.value.replace('_', ' ')}", password, worker, replace=True)
        out.append((login, str(role), worker or "", password))
    kept.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.writelines("\t".join(row) + "\n" for row in out)
    return out
