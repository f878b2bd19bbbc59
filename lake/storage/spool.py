"""Spools: rows on their way to the lake, written to Parquet in a scratch folder a batch at a time and read back
a file at a time, so that a step's memory is set by its batch, not by its input (decision 0038)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pyarrow

from lake.storage.delta import RowStream


class Spool:
    """Frames written to Parquet files in a scratch folder as they are made, read back a file at a time."""

    def __init__(self, folder: Path, schema: dict[str, pl.DataType] | None = None):
        self.folder = folder
        self.schema = schema  # None: the first frame written sets it
        self.files: list[Path] = []
        self.rows = 0

    def write(self, frame: pl.DataFrame) -> None:
        if frame.is_empty():
            return
        if self.schema is None:
            self.schema = dict(frame.schema)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{len(self.files):06d}.parquet"
        frame.select(list(self.schema)).write_parquet(path)
        self.files.append(path)
        self.rows += frame.height

    def frames(self) -> Iterator[pl.DataFrame]:
        for path in self.files:
            yield pl.read_parquet(path, memory_map=False)

    def scan(self) -> pl.LazyFrame:
        return pl.scan_parquet(self.files) if self.files else pl.LazyFrame(schema=self.schema)

    def each(self, select: Callable[[pl.DataFrame], pl.DataFrame]) -> pl.DataFrame:
        """What ``select`` keeps of each file, together: a file in memory at a time (the result must be small)."""
        # Copied out: a frame filtered from a file still holds the file's whole string buffers (polars' string
        # views point into them), so keeping the views would keep every file read.
        kept = [pl.from_arrow(select(frame).to_arrow()) for frame in self.frames()]
        return pl.concat(kept) if kept else select(pl.DataFrame(schema=self.schema))

    def stream(self, transform: Callable[[pl.DataFrame], pl.DataFrame] | None = None) -> RowStream:
        """The rows as Arrow batches for a Delta writer, each file read as the writer takes it."""
        change = transform or (lambda frame: frame)
        schema = change(pl.DataFrame(schema=self.schema)).to_arrow().schema

        def batches() -> Iterator[pyarrow.RecordBatch]:
            for frame in self.frames():
                yield from change(frame).to_arrow().cast(schema).to_batches()

        return RowStream(schema, batches, self.rows)

    def discard(self) -> None:
        for path in self.files:
            path.unlink(missing_ok=True)
        self.files, self.rows = [], 0
