"""Documents to text on a Ray cluster: the same reading as :class:`lake.documents.pipeline.ExtractionPool`.

A node of the cluster need not see the council's file store: this process (the driver) reads each file when
its task is sent, and the bytes travel through Ray's object store. Legacy ``.doc`` files are converted to DOCX
first, in batches, by Ray tasks (one LibreOffice start per batch, as locally); a batch that fails leaves its
files to be converted one by one by the reader, as locally. Then actors that keep docling and EasyOCR loaded
read one file at a time under the per-file timeout (:class:`lake.ray_pool.ActorPool`): a file that
hangs is recorded as ``timeout``; a file whose worker died (killed, out of memory, node lost) is tried again
on another worker, then recorded as ``worker_crashed``. Outcomes come back to the caller, which commits.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

from lake import metering, ray_pool
from lake.documents import formats, libreoffice
from lake.documents.formats import DocumentError, ExtractionSettings, FileText
from lake.documents.pipeline import Job, Outcome, is_legacy_doc, read_one

CONVERT_BATCH = 50  # .doc files per LibreOffice run on a worker


class TextReader:
    """A Ray actor: docling and EasyOCR loaded once, then files read one at a time from the bytes sent."""

    def __init__(self, settings: ExtractionSettings):
        # torch's deprecation and pin_memory notices, once per worker and page, drown the worker's log.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch(\.|$)")
        self.work_dir = Path(tempfile.mkdtemp(prefix="caselake-ray-text-"))
        self.extractor = formats.TextExtractor(settings, self.work_dir)
        self.extractor.warm_up()

    def ready(self) -> tuple[int, str]:
        return ray_pool.whoami()

    def read(self, name: str, data: bytes, converted: bytes | None) -> tuple[str, object, float]:
        """(status, payload, CPU seconds this file cost the worker): see :func:`pipeline.read_one`."""
        cpu0 = ray_pool.process_cpu_seconds()
        folder = Path(tempfile.mkdtemp(dir=self.work_dir))
        try:
            path = folder / name
            path.write_bytes(data)
            docx = None
            if converted is not None:
                docx = folder / "converted" / f"{path.stem}.docx"
                docx.parent.mkdir()
                docx.write_bytes(converted)
            status, payload = read_one(self.extractor, path, docx)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return status, payload, ray_pool.process_cpu_seconds() - cpu0


def convert_batch(files: list[tuple[str, bytes]]) -> tuple[dict[str, bytes], float]:
    """A Ray task: ``.doc`` files (name, bytes) to DOCX bytes by name; those LibreOffice missed are left out.
    Returns the CPU seconds LibreOffice took too (it runs as a child of the task's worker)."""
    children0 = os.times().children_user + os.times().children_system
    with tempfile.TemporaryDirectory(prefix="caselake-ray-doc-") as tmp:
        sources = []
        for name, data in files:
            path = Path(tmp) / "in" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            sources.append(path)
        try:
            done = libreoffice.convert(sources, Path(tmp) / "out", "docx", workers=1, chunk=len(files), attempts=1)
        except libreoffice.LibreOfficeMissing:
            done = {}
        result = {src.name: out.read_bytes() for src, out in done.items()}
    return result, os.times().children_user + os.times().children_system - children0


class RayExtractionPool:
    """Reads jobs on the cluster this process has joined (:func:`lake.ray_pool.connect`)."""

    def __init__(
        self,
        settings: ExtractionSettings | None = None,
        *,
        workers: int = 0,
        cpus_per_worker: float = 1.0,
        retries: int = 1,
    ):
        self.settings = settings or ExtractionSettings()
        self.workers, self.cpus, self.retries = workers, cpus_per_worker, retries
        self.pool: ray_pool.ActorPool | None = None  # the running pool (a test finds its workers here)

    def map(self, jobs: list[Job]) -> Iterator[Outcome]:
        readable: list[Job] = []
        for job in jobs:  # what the driver can tell without reading the file
            if job.path is None:
                yield Outcome(job, error=DocumentError(formats.MISSING_FILE, f"{job.file_name} was never landed"))
                continue
            try:
                formats.check_file(job.path, self.settings)
            except DocumentError as exc:
                yield Outcome(job, error=exc)
                continue
            readable.append(job)
        if not readable:
            return
        converted = self._convert_legacy_doc(readable)
        self.pool = ray_pool.ActorPool(
            TextReader,
            (self.settings,),
            size=ray_pool.pool_size(self.cpus, self.workers),
            cpus=self.cpus,
            timeout_s=self.settings.timeout_s,
            retries=self.retries,
        )

        def payload(job: Job):
            return lambda: (job.path.name, job.path.read_bytes(), converted.get(job.document_id))

        with self.pool:
            yield from self._read(readable, payload)

    def _read(self, readable: list[Job], payload) -> Iterator[Outcome]:
        for answer in self.pool.map("read", [payload(job) for job in readable]):
            job = readable[answer.index]
            if answer.status == ray_pool.OK:
                status, body, cpu = answer.value
                metering.record_remote_cpu(cpu)
                if status == "ok":
                    yield Outcome(job, text=FileText.from_dict(body))
                else:
                    yield Outcome(job, error=DocumentError(*body))
            elif answer.status == ray_pool.TIMEOUT:
                yield Outcome(job, error=DocumentError(formats.TIMEOUT, answer.value))
            else:  # the worker died (after retries), or the call itself failed
                yield Outcome(job, error=DocumentError(formats.WORKER_CRASHED, answer.value))

    def _convert_legacy_doc(self, jobs: list[Job]) -> dict[str, bytes]:
        """document id -> DOCX bytes for the ``.doc`` files, converted on the cluster in batches."""
        import ray

        legacy = [j for j in jobs if is_legacy_doc(j.path)]
        by_name: dict[str, list[Job]] = {}
        for job in legacy:
            by_name.setdefault(job.path.name, []).append(job)
        # One LibreOffice run names its output after the input: same-named files go to different batches.
        unique = [js[0] for js in by_name.values()]
        rest = [j for js in by_name.values() for j in js[1:]]
        batches = [unique[i : i + CONVERT_BATCH] for i in range(0, len(unique), CONVERT_BATCH)]
        batches += [[j] for j in rest]
        task = ray.remote(num_cpus=self.cpus, max_retries=self.retries)(convert_batch)
        refs = {task.remote([(j.path.name, j.path.read_bytes()) for j in batch]): batch for batch in batches}
        converted: dict[str, bytes] = {}
        for ref, batch in refs.items():
            try:
                done, cpu = ray.get(ref, timeout=60 + 2 * len(batch) * 2)
            except Exception:  # the reader converts each file alone and names the error
                ray.cancel(ref, force=True)
                continue
            metering.record_remote_cpu(cpu)
            for job in batch:
                if job.path.name in done:
                    converted[job.document_id] = done[job.path.name]
        return converted
