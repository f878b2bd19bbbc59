"""Dagster resources: where the lake and the landing zone are."""

import json
import os
from pathlib import Path

import dagster as dg

from lake.landing import landing_root
from lake.storage import DEFAULT_DATA_ROOT, Lake


class LakeResource(dg.ConfigurableResource):
    """The lake root (local path or object-store URI), its storage options, and the landing folder.

    Defaults come from the environment (``CASELAKE_LAKE_URI``, ``CASELAKE_STORAGE_OPTIONS``,
    ``CASELAKE_LANDING_DIR``), falling back to the embedded default under ``lake/data``.
    """

    lake_uri: str = ""
    storage_options_json: str = ""
    landing_dir: str = ""
    warehouse_dir: str = ""

    def lake(self) -> Lake:
        env = Lake.from_env()
        options = json.loads(self.storage_options_json) if self.storage_options_json else env.storage_options
        return Lake(self.lake_uri or env.root, options)

    def landing(self) -> Path:
        return Path(self.landing_dir) if self.landing_dir else landing_root()

    def warehouse(self) -> Path:
        """The folder of ``caselake.duckdb``, where dbt builds the marts (``CASELAKE_WAREHOUSE_DIR``)."""
        return Path(self.warehouse_dir or os.environ.get("CASELAKE_WAREHOUSE_DIR", str(DEFAULT_DATA_ROOT)))
