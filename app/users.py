"""The users file: each login's worker id, role and argon2 password hash.

A JSON file (``CASELAKE_USERS_FILE``, default ``<data_root>/users.json``) the admin keeps with ``caselake users
add/list``. Councils that sign in through their identity provider (``CASELAKE_OIDC_ISSUER``) keep the same
file without passwords: the provider proves who someone is, the file says what they may see.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from lake.storage.private import private_dir

LOGIN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
WORKER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


class Role(StrEnum):
    SOCIAL_WORKER = "social_worker"  # the children their team works with now, and those they worked with
    TEAM_MANAGER = "team_manager"  # every child their team has worked with
    IRO = "iro"  # independent reviewing officer / independent reviewer: the children they review
    AUDITOR = "auditor"  # the audit log, no case text
    ANALYST = "analyst"  # the marts without free text, no case text
    ADMIN = "admin"  # the users file and the audit log, no case text
    FAMILY_FINDER = "family_finder"  # an adoption agency's family finder: the adopter insights and list, no case text
    DISCLOSURE_OFFICER = "disclosure_officer"  # subject access requests: one subject's records, for the bundle

    @property
    def reads_case_text(self) -> bool:
        return self in (Role.SOCIAL_WORKER, Role.TEAM_MANAGER, Role.IRO)

    @property
    def answers_disclosures(self) -> bool:
        """Compiles, reviews and exports subject access bundles; reads a subject's records only through a request."""
        return self == Role.DISCLOSURE_OFFICER

    @property
    def reads_audit(self) -> bool:
        return self in (Role.AUDITOR, Role.ADMIN)

    @property
    def reads_marts(self) -> bool:
        return self in (Role.ANALYST,)

    @property
    def reads_adopter_insights(self) -> bool:
        """Who adopts which children, in aggregate: the effects, themes and groups."""
        return self in (Role.FAMILY_FINDER, Role.ANALYST)

    @property
    def reads_adopter_list(self) -> bool:
        """The approved households not yet matched, by household id, and the list's fairness audit."""
        return self == Role.FAMILY_FINDER


@dataclass(frozen=True)
class User:
    login: str
    role: Role
    worker_id: str | None  # the case-management worker this login is (case readers must have one)
    name: str
    password_hash: str = ""  # argon2id; empty for logins that only sign in through OIDC
    disabled: bool = False

    def public(self) -> dict:
        return {
            "login": self.login,
            "role": str(self.role),
            "worker_id": self.worker_id,
            "name": self.name,
            "disabled": self.disabled,
        }


class UserError(ValueError):
    pass


_hasher = PasswordHasher()


class UserStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._cached: tuple[tuple, dict[str, User]] | None = None

    def _load(self) -> dict[str, User]:
        """The users, read again whenever the file changed (every app call checks its user: no parse per call)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if self._cached is None or self._cached[0] != key:
            raw = json.loads(self.path.read_text())
            self._cached = (key, {u["login"]: User(**{**u, "role": Role(u["role"])}) for u in raw.get("users", [])})
        return dict(self._cached[1])

    def _save(self, users: dict[str, User]) -> None:
        private_dir(self.path.parent)
        data = {"users": [{**asdict(u), "role": str(u.role)} for u in sorted(users.values(), key=lambda u: u.login)]}
        # written whole to a temporary file and renamed, so a reader never sees half a file
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".users.")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def list(self) -> list[User]:
        return sorted(self._load().values(), key=lambda u: u.login)

    def get(self, login: str) -> User | None:
        return self._load().get(login)

    def add(
        self,
        login: str,
        role: Role | str,
        name: str,
        password: str | None,
        worker_id: str | None = None,
        *,
        replace: bool = False,
    ) -> User:
        if not LOGIN.match(login or ""):
            raise UserError(f"login {login!r}: 2-64 lower-case letters, digits, . _ @ -")
        role = Role(role)
        if worker_id is not None and not WORKER_ID.match(worker_id):
            raise UserError(f"worker id {worker_id!r} is not an id")
        if role.reads_case_text and not worker_id:
            raise UserError(f"a {role} login needs the worker id it signs in as (--worker)")
        if password is not None and len(password) < 12:
            raise UserError("a password needs at least 12 characters")
        users = self._load()
        if login in users and not replace:
            raise UserError(f"login {login!r} exists")
        user = User(login, role, worker_id, name, _hasher.hash(password) if password else "")
        users[login] = user
        self._save(users)
        return user

    def set_disabled(self, login: str, disabled: bool = True) -> User:
        users = self._load()
        if login not in users:
            raise UserError(f"no login {login!r}")
        users[login] = replace(users[login], disabled=disabled)
        self._save(users)
        return users[login]

    def authenticate(self, login: str, password: str) -> User | None:
        """The user when the password is theirs, else None (the same answer for an unknown login)."""
        user = self._load().get(login)
        if user is None or user.disabled or not user.password_hash:
            _hasher.hash("x" * 12)  # spend the same time: no telling unknown logins from wrong passwords
            return None
        try:
            _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        return user
