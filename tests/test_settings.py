"""One settings object: every variable parsed, documented, and read nowhere else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lake.settings import DEFAULT_DATA_ROOT, ENVIRONMENT, REPO_ROOT, Settings

CODE = [
    p for d in ("lake", "assets", "orchestration", "synth", "evaluation", "app") for p in (REPO_ROOT / d).rglob("*.py")
]


def test_defaults_live_under_one_data_root_whatever_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    s = Settings.from_env({})
    assert s.data_root == DEFAULT_DATA_ROOT == REPO_ROOT / "lake" / "data"
    assert s.lake().root == str(DEFAULT_DATA_ROOT / "delta")
    assert s.landing() == DEFAULT_DATA_ROOT / "landing"
    assert s.warehouse() == DEFAULT_DATA_ROOT
    assert s.dagster_home_dir() == DEFAULT_DATA_ROOT / "dagster_home"
    assert s.lancedb() == f"{DEFAULT_DATA_ROOT}/delta/lancedb"


def test_every_variable_is_parsed_into_its_field():
    env = {
        "CASELAKE_DATA_ROOT": "/srv/caselake",
        "CASELAKE_LAKE_URI": "s3://council/lake",
        "CASELAKE_STORAGE_OPTIONS": '{"AWS_REGION": "eu-west-2"}',
        "CASELAKE_TEXT_WORKERS": "8",
        "CASELAKE_ENTITY_INT8": "off",
        "CASELAKE_RESOLUTION_THRESHOLD": "0.5",
        "CASELAKE_RESOLUTION_EM": "0",
        "CASELAKE_VECTOR_INDEX_ROWS": "5000",
        "CASELAKE_AUDIT_DB": "/var/audit/caselake.sqlite",
        "DAGSTER_HOME": "/srv/dagster",
    }
    s = Settings.from_env(env)
    assert s.lake().root == "s3://council/lake" and s.lake().storage_options == {"AWS_REGION": "eu-west-2"}
    assert s.landing() == Path("/srv/caselake/landing"), "unset places follow the data root"
    assert s.lancedb() == "s3://council/lake/lancedb"
    assert s.documents.workers == 8 and s.documents.timeout_s == 120.0
    assert s.entities.int8 is False and s.resolution.threshold == 0.5 and s.resolution.em is False
    assert s.dagster_home_dir() == Path("/srv/dagster")
    assert s.search.vector_index_rows == 5000 and s.audit_db() == Path("/var/audit/caselake.sqlite")
    assert s.users_file() == Path("/srv/caselake/users.json")
    assert s.replace(landing_dir="", lake_uri="/x").landing() == Path("/srv/caselake/landing"), "empty keeps"


@pytest.mark.parametrize(
    ("var", "value"),
    [("CASELAKE_TEXT_WORKERS", "two"), ("CASELAKE_ENTITY_INT8", "maybe"), ("CASELAKE_STORAGE_OPTIONS", "[1]")],
)
def test_a_malformed_variable_is_a_clear_error_naming_it(var, value):
    with pytest.raises(ValueError, match=var):
        Settings.from_env({var: value})


def test_every_variable_is_documented():
    doc = (REPO_ROOT / "docs" / "settings.md").read_text()
    missing = [var for var in ENVIRONMENT if f"`{var}`" not in doc]
    assert not missing, missing


def test_no_module_reads_a_caselake_variable_but_the_settings():
    reads = re.compile(r"environ(?:\.get)?[\[(]\s*[\"']CASELAKE_|getenv\(\s*[\"']CASELAKE_")
    offenders = [str(p.relative_to(REPO_ROOT)) for p in CODE if reads.search(p.read_text())]
    assert offenders == [], offenders
