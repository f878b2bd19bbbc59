"""What a piece of work used: wall and CPU time (its own and its worker processes'), peak memory, time in
models, rows read and written, bytes written and items processed.

One meter is active at a time, around one Dagster step (``assets.metering`` opens it; the in-process and the
multiprocess executors both run one step per process at a time). The library reports to it from the few
places that know a figure — every Delta commit (:mod:`lake.storage.delta`), every model call that is timed
already, the LanceDB writes — through the ``record_*`` functions, which do nothing when no meter is open, so
the library runs the same outside Dagster. The meter is module-global rather than a context variable because
worker threads (an OCR timeout watcher, torch's pools) report too, and they do not inherit a context.
"""

from __future__ import annotations

import resource
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psutil

SAMPLE_EVERY_S = 0.1  # memory is sampled; a peak shorter than this between samples can be missed


@dataclass(frozen=True)
class Write:
    """One commit of one table: where, which version it made, what it wrote."""

    store: str  # "delta", "lancedb", "duckdb"
    table: str  # as the asset is keyed: layer/name for Delta ("enterprise/child"), "lancedb/<name>", a dbt model
    version: int | None
    operation: str  # "append", "overwrite", "merge", "delete", "create", "optimize", "vacuum"
    rows: int  # rows in the files the commit added (a merge counts the rows of the files it rewrote)
    bytes: int  # bytes of the files the commit added


@dataclass
class Usage:
    """What the metered work used, filled in while it runs and finished when the meter closes."""

    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process, every thread
    worker_cpu_seconds: float = 0.0  # its child processes (worker pools, LibreOffice, dbt) and its Ray tasks
    remote_cpu_seconds: float = 0.0  # of which its tasks on Ray workers, as they reported it
    peak_memory_bytes: int = 0  # resident memory of this process and its children together, sampled
    model_seconds: Counter[str] = field(default_factory=Counter)  # by model kind: ocr, layout, ner, embedding, ...
    rows_read: int = 0
    items: Counter[str] = field(default_factory=Counter)  # by unit: documents, notes, pages, chunks, ...
    writes: list[Write] = field(default_factory=list)

    @property
    def rows_written(self) -> int:
        return sum(w.rows for w in self.writes)

    @property
    def bytes_written(self) -> int:
        return sum(w.bytes for w in self.writes)

    @property
    def total_cpu_seconds(self) -> float:
        return self.cpu_seconds + self.worker_cpu_seconds


_lock = threading.Lock()
_active: Usage | None = None
_labels: dict[str, str] = {}


def labels() -> dict[str, str]:
    """The open meter's labels (the Dagster run and step), which every Delta commit carries."""
    return dict(_labels)


def record_model_seconds(kind: str, seconds: float) -> None:
    """Time spent inside a model (OCR, layout, NER, embedding, training), added to the open meter."""
    if _active is not None and seconds > 0:
        with _lock:
            _active.model_seconds[kind] += seconds


def record_items(unit: str, count: int) -> None:
    """Items the work processed (documents read, text items read, chunks embedded), by unit."""
    if _active is not None and count:
        with _lock:
            _active.items[unit] += count


def record_remote_cpu(seconds: float) -> None:
    """CPU a Ray worker spent on this step's tasks (it reports it: its process is not a child of this one)."""
    if _active is not None and seconds > 0:
        with _lock:
            _active.remote_cpu_seconds += seconds


def record_rows_read(count: int) -> None:
    if _active is not None and count:
        with _lock:
            _active.rows_read += count


def record_write(write: Write) -> None:
    if _active is not None:
        with _lock:
            _active.writes.append(write)


def metering() -> bool:
    """Whether a meter is open (a writer can skip measuring what nobody records)."""
    return _active is not None


class _MemorySampler(threading.Thread):
    """Samples the resident memory of this process and its children, and the CPU of children still alive."""

    def __init__(self) -> None:
        super().__init__(name="caselake-meter", daemon=True)
        self.me = psutil.Process()
        self.peak = 0
        self.child_cpu: dict[int, float] = {}  # pid -> CPU seconds last seen, for children not yet reaped
        self.child_cpu_at_start = self._children_cpu()
        self.stop = threading.Event()

    def _children(self) -> list[psutil.Process]:
        try:
            return self.me.children(recursive=True)
        except psutil.Error:
            return []

    def _children_cpu(self) -> dict[int, float]:
        seen = {}
        for child in self._children():
            try:
                t = child.cpu_times()
                seen[child.pid] = t.user + t.system
            except psutil.Error:
                continue
        return seen

    def sample(self) -> None:
        total = 0
        for proc in (self.me, *self._children()):
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
        self.peak = max(self.peak, total)
        self.child_cpu.update(self._children_cpu())

    def run(self) -> None:
        while not self.stop.wait(SAMPLE_EVERY_S):
            self.sample()

    def finish(self) -> tuple[int, float]:
        """The peak, and the CPU of children alive at the end that the kernel has not yet counted as reaped."""
        self.stop.set()
        self.join()
        self.sample()
        alive = self._children_cpu()
        unreaped = sum(cpu - self.child_cpu_at_start.get(pid, 0.0) for pid, cpu in alive.items())
        return self.peak, max(0.0, unreaped)


@contextmanager
def meter(**labels: str) -> Iterator[Usage]:
    """Open a meter around a piece of work; the :class:`Usage` is complete when the block exits (also when it
    raises). ``labels`` (``run_id=..., step=...``) are written into every Delta commit made meanwhile. Meters
    do not nest: an inner one reports into the outer and yields its usage."""
    global _active
    if _active is not None:
        yield _active
        return
    usage = Usage()
    sampler = _MemorySampler()
    sampler.sample()
    self0, children0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with _lock:
        _active = usage
        _labels.update(labels)
    sampler.start()
    try:
        yield usage
    finally:
        with _lock:
            _active = None
            _labels.clear()
        usage.wall_seconds = time.perf_counter() - t0
        self1, children1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        peak, unreaped = sampler.finish()
        usage.cpu_seconds = (self1.ru_utime - self0.ru_utime) + (self1.ru_stime - self0.ru_stime)
        reaped = (children1.ru_utime - children0.ru_utime) + (children1.ru_stime - children0.ru_stime)
        usage.worker_cpu_seconds = reaped + unreaped + usage.remote_cpu_seconds
        usage.peak_memory_bytes = peak
