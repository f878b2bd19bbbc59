"""The one place that decides where heavy work runs: each function gives the local way unless the settings
name a Ray cluster (``CASELAKE_RAY_ADDRESS``), and then the Ray way with the same interface.

- :func:`document_reader`: a pool whose ``map(jobs)`` yields each job's outcome.
- :func:`entity_extractor`: an object with ``extract(texts)``, ``model_id`` and ``model_version``.
- :func:`embedder`: an object with ``encode(texts)``.

The last two are context managers: on Ray their actors (each holding its model) stay up for the whole stage
and stop at its end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from lake import ray_pool
from lake.compute.batches import TextWorker, in_batches, run_batches
from lake.settings import Settings

EMBED_BATCH = 128  # chunks per task


def on_ray(settings: Settings) -> bool:
    if settings.compute.on_ray:
        ray_pool.connect(settings.compute.ray_address)
        return True
    return False


def document_reader(settings: Settings, extraction, workers: int):
    """Where files are read: ``workers`` local processes, or the cluster's actors."""
    from lake.documents.pipeline import ExtractionPool

    if not on_ray(settings):
        return ExtractionPool(extraction, workers)
    from lake.documents.on_ray import RayExtractionPool

    c = settings.compute
    return RayExtractionPool(
        extraction, workers=c.ray_workers, cpus_per_worker=c.ray_cpus_per_worker, retries=c.ray_retries
    )


def _pool(settings: Settings, make, method: str) -> ray_pool.ActorPool:
    c = settings.compute
    return ray_pool.ActorPool(
        TextWorker,
        (make, method),
        size=ray_pool.pool_size(c.ray_cpus_per_worker, c.ray_workers),
        cpus=c.ray_cpus_per_worker,
        timeout_s=c.ray_task_timeout_s,
        retries=c.ray_retries,
    )


@dataclass
class RayEntityExtractor:
    """:class:`lake.entities.extraction.EntityExtractor`'s interface, the model running in the actors."""

    pool: ray_pool.ActorPool
    model_id: str
    model_version: str

    def extract_batches(self, batches: list[list[str]]) -> Iterator[tuple[int, list, float]]:
        """As :meth:`EntityExtractor.extract_batches`, the batches spread over the actors."""
        return run_batches(self.pool, batches, "entity extraction")


def _load_extractor(model: str, settings) -> object:
    from lake.entities.extraction import EntityExtractor

    return EntityExtractor.load(model, settings)


@contextmanager
def entity_extractor(settings: Settings, model: str | Path) -> Iterator[object]:
    """The GLiNER ``model`` (a directory every node can read: built into the image or on a shared volume)."""
    from lake.entities.extraction import EntityExtractor, model_identity

    if not on_ray(settings):
        yield EntityExtractor.load(model, settings.entities)
        return
    # Each actor runs torch on the CPUs it reserved: more threads than that only contend.
    threads = max(1, int(settings.compute.ray_cpus_per_worker))
    entities = dataclasses.replace(settings.entities, threads=threads)
    model_id, version = model_identity(model, entities.int8)
    with _pool(settings, partial(_load_extractor, str(model), entities), "extract") as pool:
        yield RayEntityExtractor(pool, model_id, version)


@dataclass
class RayEmbedder:
    """:class:`lake.embedding.Embedder`'s ``encode``, the model running in the actors."""

    pool: ray_pool.ActorPool

    @property
    def batch(self) -> int:
        """Texts the index hands over per call: enough to keep every actor busy."""
        return EMBED_BATCH * self.pool.size * 2

    def encode(self, texts: list[str]) -> np.ndarray:
        from lake.embedding import DIMENSIONS

        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for k, vectors, _ in run_batches(self.pool, in_batches(texts, EMBED_BATCH), "embedding"):
            out[k * EMBED_BATCH : k * EMBED_BATCH + len(vectors)] = np.asarray(vectors, dtype=np.float32)
        return out


def _load_embedder(search) -> object:
    from lake.embedding import Embedder

    return Embedder(search)


@contextmanager
def embedder(settings: Settings) -> Iterator[object]:
    from lake.embedding import Embedder

    if not on_ray(settings):
        yield Embedder(settings.search)
        return
    threads = max(1, int(settings.compute.ray_cpus_per_worker))
    search = dataclasses.replace(settings.search, threads=threads)
    with _pool(settings, partial(_load_embedder, search), "encode") as pool:
        yield RayEmbedder(pool)
