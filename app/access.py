"""Access rules: which children a user's role lets them see, computed from the lake's own records.

- a **social worker** sees the children any worker of their team is allocated to now, and every child
  they have themselves been involved with;
- a **team manager** sees every child any worker of their team has been involved with, now or before;
- an **IRO** (independent reviewer) sees the children they have been involved with;
- an **auditor**, an **analyst** and an **admin** see no case text at all;
- a child with an access restriction is visible only to the workers it names, whatever the role says:
  the restriction only ever removes a child from a scope, and nothing reveals that it did.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from app.users import Role, User
from lake.storage.delta import ENTERPRISE, Lake

SCOPE_TABLES = ("worker", "involvement", "access_restriction", "child")


@dataclass(frozen=True)
class Scope:
    children: frozenset[str]  # the children whose records this user may read
    team: str | None
    # The children known to the lake that this user may not see. ``app.service.sight`` reads it: one policy for
    # every path that could name a person (the ecomap's nodes, a node's mentions and expansion, the people a search
    # names and its hits, a person filter, a traced fact).
    unseen: frozenset[str] = frozenset()


def _live(lake: Lake, name: str) -> pl.DataFrame | None:
    table = lake.read(ENTERPRISE, name)
    return None if table is None else table.filter(pl.col("_deleted_at").is_null())


def hidden_children(lake: Lake, worker_id: str | None) -> frozenset[str]:
    """Restricted children that do not name this worker."""
    restrictions = _live(lake, "access_restriction")
    if restrictions is None or restrictions.is_empty():
        return frozenset()
    named = set(restrictions.filter(pl.col("worker_id") == (worker_id or ""))["child_id"].to_list())
    return frozenset(set(restrictions["child_id"].to_list()) - named)


def scope_for(lake: Lake, user: User, today: dt.date | None = None) -> Scope:
    today = today or dt.date.today()
    if not user.role.reads_case_text or not user.worker_id:
        return Scope(frozenset(), None)
    workers, involvements = _live(lake, "worker"), _live(lake, "involvement")
    if workers is None or involvements is None:
        return Scope(frozenset(), None)
    me = workers.filter(pl.col("worker_id") == user.worker_id)
    team = me["team"][0] if me.height else None
    team_workers = workers.filter(pl.col("team") == team)["worker_id"].to_list() if team else []
    mine = involvements.filter(pl.col("worker_id") == user.worker_id)
    team_rows = involvements.filter(pl.col("worker_id").is_in(team_workers))
    if user.role == Role.TEAM_MANAGER:
        children = set(team_rows["child_id"].to_list())
    elif user.role == Role.SOCIAL_WORKER:
        ends = pl.col("valid_to").cast(pl.Date, strict=False)
        current = team_rows.filter(ends.is_null() | (ends >= today))
        children = set(current["child_id"].to_list()) | set(mine["child_id"].to_list())
    else:  # IRO
        children = set(mine["child_id"].to_list())
    # A child deleted at source leaves every scope. A child whose own row is missing or quarantined does not:
    # their worker still needs the notes that did land.
    recorded = lake.read(ENTERPRISE, "child")
    if recorded is not None:
        children -= set(recorded.filter(pl.col("_deleted_at").is_not_null())["person_id"].to_list())
    hidden = hidden_children(lake, user.worker_id)
    visible = frozenset(children - hidden)
    # Every child the lake knows of, not only those with a child row: a child whose own row is missing or
    # quarantined is still a child (involvements, a restriction), and must not be named as an adult would be.
    every_child = set(recorded["person_id"].to_list()) if recorded is not None else set()
    every_child |= set(involvements["child_id"].to_list()) | hidden
    return Scope(visible, team, frozenset(every_child - visible))
