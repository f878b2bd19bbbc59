"""A pool of Ray actors that each load their models once, with a deadline per task and no task lost.

Ray's own ``ray.util.ActorPool`` hands tasks to actors but has no deadline and no recovery: a task on a killed
worker raises, and a task that hangs holds its actor for ever. :class:`ActorPool` keeps one task in flight per
actor and answers every task exactly once:

- ``ok``: the method returned; its value comes back.
- ``timeout``: no answer within ``timeout_s`` of the task reaching its actor (an actor's start-up, which loads
  the models, is not charged to a task). The actor is killed and replaced; the task is not tried again (a file
  that hangs a parser hangs it the next time too).
- ``crashed``: the actor's process died (killed, out of memory, its node lost). The actor is replaced and the
  task tried again on another, up to ``retries`` times, then answered ``crashed``.
- ``failed``: the method raised; the exception's type and message come back (the task's own fault, not
  retried).

The caller writes the results: workers never commit to the lake, so there is one committer and no race on a
Delta commit. Actors are spread over the nodes (``SPREAD``) and reserve ``cpus`` each, so the pool's size is
what the cluster holds (:func:`pool_size`) unless a setting says otherwise.

The pool knows nothing of what its actors run: the documents' reader (:mod:`lake.documents.on_ray`) and the
model actors of :mod:`lake.compute` build on it, so it sits below every capability.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

OK, TIMEOUT, CRASHED, FAILED = "ok", "timeout", "crashed", "failed"
STARTUP_TIMEOUT_S = 900.0  # loading docling + EasyOCR on a cold node can take minutes
MAX_FAILED_STARTS = 3  # actors in a row that die while starting: the pool gives up (a broken image, no model)


class WorkersCannotStart(RuntimeError):
    """Actors die or hang while loading: a cluster or image problem, not a task's."""


@dataclass(frozen=True)
class Answer:
    index: int  # the task's position in the input
    status: str  # OK, TIMEOUT, CRASHED or FAILED
    value: Any = None  # the method's return value (OK) or a one-line reason
    attempts: int = 1


def connect(address: str, namespace: str = "caselake") -> None:
    """Join the Ray cluster at ``address`` ("auto", "ray://head:10001", or "local" for a Ray on this machine)
    unless this process has joined one already (a test's cluster, or an earlier step)."""
    import ray

    if ray.is_initialized():
        return
    # `uv run` makes Ray rebuild the driver's virtual environment on every worker; a cluster's workers run
    # the cluster's image (docs/deployment.md), and a local one this same environment.
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    ray.init(
        address=None if address == "local" else address,
        namespace=namespace,
        include_dashboard=False,
        log_to_driver=False,  # workers' logs stay on their nodes: text from the records must not reach ours
        logging_level="WARNING",
    )


def pool_size(cpus_per_worker: float, workers: int = 0) -> int:
    """``workers`` when set, else as many actors as the cluster's CPUs hold."""
    import ray

    if workers > 0:
        return workers
    return max(1, int(ray.cluster_resources().get("CPU", 1) // cpus_per_worker))


class _Slot:
    """One actor and what it is doing: starting (``pending`` is its ready call), idle, or running a task."""

    def __init__(self, handle, ready_ref):
        self.handle = handle
        self.pending = ready_ref
        self.starting = True
        self.index: int | None = None
        self.pid: int | None = None
        self.since = time.monotonic()


class ActorPool:
    """``size`` actors of ``actor_class`` (a plain class whose ``ready()`` returns :func:`whoami`; made
    remote here) built with ``init_args``. They start on the first :meth:`map` and stay up for the next until
    :meth:`close` (or the end of a ``with`` block)."""

    def __init__(
        self,
        actor_class: type,
        init_args: tuple = (),
        *,
        size: int,
        cpus: float = 1.0,
        timeout_s: float = 600.0,
        retries: int = 1,
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
    ):
        import ray

        self.remote_class = ray.remote(num_cpus=cpus, max_restarts=0, max_task_retries=0)(actor_class)
        self.init_args = init_args
        self.size = max(1, size)
        self.timeout_s = timeout_s
        self.retries = retries
        self.startup_timeout_s = startup_timeout_s
        self.slots: list[_Slot] = []
        self.failed_starts = 0
        self.replaced = 0  # actors replaced after a crash or a timeout, for the run's metadata
        self.nodes: set[str] = set()  # the nodes its actors ran on

    # -- actors ---------------------------------------------------------------------------------------------
    def _start(self) -> _Slot:
        handle = self.remote_class.options(scheduling_strategy="SPREAD").remote(*self.init_args)
        return _Slot(handle, handle.ready.remote())

    def _replace(self, slot: _Slot) -> None:
        import ray

        ray.kill(slot.handle, no_restart=True)
        self.slots[self.slots.index(slot)] = self._start()
        self.replaced += 1

    def __enter__(self) -> ActorPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        import ray

        for slot in self.slots:
            ray.kill(slot.handle, no_restart=True)
        self.slots = []

    def pids(self, idle: bool = False) -> list[int]:
        """The process ids of the actors that have started (a test kills one); ``idle``: only those running no
        task, so the next task sent to one meets its death."""
        return [s.pid for s in self.slots if not s.starting and s.pid and not (idle and s.pending is not None)]

    # -- the work -------------------------------------------------------------------------------------------
    def map(self, method: str, payloads: Iterable[Callable[[], tuple]] | Iterable[tuple]) -> Iterator[Answer]:
        """Call ``method`` once per payload (a tuple of arguments, or a function making it when the task is
        sent: a file is read only then); answers come back as they finish, each task exactly once."""
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError, WorkerCrashedError

        tasks = list(payloads)
        if not tasks:
            return
        todo = deque(range(len(tasks)))
        attempts = [0] * len(tasks)
        while len(self.slots) < min(self.size, len(tasks)):  # actors stay up between calls, until close()
            self.slots.append(self._start())
        remaining = len(tasks)
        try:
            while remaining:
                for slot in self.slots:  # give every idle actor a task
                    if not slot.starting and slot.pending is None and todo:
                        i = todo.popleft()
                        args = tasks[i]() if callable(tasks[i]) else tasks[i]
                        attempts[i] += 1
                        slot.index, slot.since = i, time.monotonic()
                        slot.pending = getattr(slot.handle, method).remote(*args)
                in_flight = {slot.pending: slot for slot in self.slots if slot.pending is not None}
                done, _ = ray.wait(list(in_flight), num_returns=1, timeout=1.0)
                for ref in done:
                    slot = in_flight[ref]
                    slot.pending = None
                    if slot.starting:
                        try:
                            slot.pid, node = ray.get(ref)
                            self.nodes.add(node)
                            slot.starting, self.failed_starts = False, 0
                        except (RayActorError, WorkerCrashedError, RayTaskError) as exc:
                            self._failed_start(slot, exc)
                        continue
                    i, slot.index = slot.index, None
                    try:
                        value = ray.get(ref)
                    except (RayActorError, WorkerCrashedError) as exc:
                        self._replace(slot)
                        if attempts[i] <= self.retries:
                            todo.appendleft(i)  # tried again first, on another actor
                            continue
                        remaining -= 1
                        yield Answer(i, CRASHED, f"the worker died: {type(exc).__name__}", attempts[i])
                        continue
                    except RayTaskError as exc:
                        remaining -= 1
                        cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                        yield Answer(i, FAILED, f"{type(cause).__name__}: {cause}"[:500], attempts[i])
                        continue
                    remaining -= 1
                    yield Answer(i, OK, value, attempts[i])
                now = time.monotonic()
                for slot in list(self.slots):  # deadlines
                    if slot.pending is None:
                        continue
                    if slot.starting and now - slot.since > self.startup_timeout_s:
                        self._failed_start(slot, GetTimeoutError(f"no start within {self.startup_timeout_s:g} s"))
                    elif not slot.starting and now - slot.since > self.timeout_s:
                        i = slot.index
                        self._replace(slot)
                        remaining -= 1
                        yield Answer(i, TIMEOUT, f"no result within {self.timeout_s:g} s; the worker was stopped")
        except BaseException:
            self.close()  # tasks still in flight must not outlive a failed or abandoned call
            raise

    def _failed_start(self, slot: _Slot, exc: BaseException) -> None:
        self.failed_starts += 1
        if self.failed_starts >= MAX_FAILED_STARTS:
            raise WorkersCannotStart(
                f"{self.failed_starts} Ray workers in a row failed to start: {type(exc).__name__}: {exc}"[:800]
            )
        self._replace(slot)


def whoami() -> tuple[int, str]:
    """(process id, node id) of the calling actor: what its ``ready()`` returns."""
    import ray

    return os.getpid(), ray.get_runtime_context().get_node_id()


def process_cpu_seconds() -> float:
    """This process's CPU time: an actor reports what each task cost it (its node is not ours to measure)."""
    t = os.times()
    return t.user + t.system
