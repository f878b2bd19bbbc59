"""The one Dagster resource: caselake's settings, as a run sees them."""

import json
from pathlib import Path

import dagster as dg

from lake.settings import Settings
from lake.storage.delta import Lake

# Set on a run whose extract failed its own checks (recorded in landing/extracts), so the sensor waits for the
# extract to be delivered again instead of retrying it as it would a run lost for another reason.
EXTRACT_FAILED_TAG = "caselake/extract_failed"


class LakehouseResource(dg.ConfigurableResource):
    """:class:`lake.settings.Settings` read from the environment when a run starts, with the overrides a run's
    config (or the CLI's runner) gives: the lake root and its storage options, the landing folder, the warehouse."""

    lake_uri: str = ""
    storage_options_json: str = ""
    landing_dir: str = ""
    warehouse_dir: str = ""

    def settings(self) -> Settings:
        options = json.loads(self.storage_options_json) if self.storage_options_json else None
        return Settings.from_env().replace(
            lake_uri=self.lake_uri,
            storage_options=options,
            landing_dir=self.landing_dir,
            warehouse_dir=self.warehouse_dir,
        )

    def lake(self) -> Lake:
        return self.settings().lake()

    def landing(self) -> Path:
        return self.settings().landing()

    def warehouse(self) -> Path:
        """The folder of ``caselake.duckdb``, where dbt builds the marts."""
        return self.settings().warehouse()
