"""Batches of texts through a Ray :class:`~lake.ray_pool.ActorPool`, answers put back in order.

Entity extraction and embedding share this shape: a list of texts in, one result per text out, in the same
order, with the workers' CPU reported to the meter. A batch that does not come back (its worker timed out, or
died more often than the retries allow) fails the whole call, naming the batch by position and size only
(no text): the caller has committed nothing of it, so the next run reads those texts again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from lake import metering, ray_pool


class BatchFailed(RuntimeError):
    """A batch of texts came back from no worker."""


class TextWorker:
    """A Ray actor around a model made once by ``make()``, whose ``method`` ``run(texts)`` calls."""

    def __init__(self, make: Callable[[], Any], method: str):
        self.model = make()
        self.method = method

    def ready(self) -> tuple[int, str]:
        return ray_pool.whoami()

    def run(self, texts: list[str]) -> tuple[list, float, float]:
        """(one result per text, CPU seconds, seconds in the model)."""
        cpu0, t0 = ray_pool.process_cpu_seconds(), time.perf_counter()
        results = list(getattr(self.model, self.method)(texts))
        return results, ray_pool.process_cpu_seconds() - cpu0, time.perf_counter() - t0


def run_batches(pool: ray_pool.ActorPool, batches: list[list[str]], what: str) -> Iterator[tuple[int, list, float]]:
    """Each batch through ``pool``: (batch index, one result per text, seconds in the model), as they finish."""
    for answer in pool.map("run", [(texts,) for texts in batches]):
        if answer.status != ray_pool.OK:
            raise BatchFailed(
                f"{what}: batch {answer.index + 1} of {len(batches)} ({len(batches[answer.index])} texts) "
                f"{answer.status}: {answer.value}"
            )
        results, cpu, seconds = answer.value
        metering.record_remote_cpu(cpu)
        yield answer.index, results, seconds


def in_batches(texts: list[str], size: int) -> list[list[str]]:
    return [texts[s : s + size] for s in range(0, len(texts), size)]
