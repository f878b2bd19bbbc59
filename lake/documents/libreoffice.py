"""LibreOffice headless conversions, in batches, robustly.

Two facts found by real runs shape this module (decision 0007):
- two conversions sharing one user profile silently lose files, so every concurrent run gets its own;
- one run given thousands of files stops converting partway without an error, so runs stay short
  (``chunk`` files each) and whatever is still missing afterwards is converted again.

Used by the document pipeline (legacy ``.doc`` to DOCX, for docling) and by the synthetic council
(DOCX to ``.doc``).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


class LibreOfficeMissing(RuntimeError):
    """soffice is not installed."""


def soffice_path() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        raise LibreOfficeMissing("LibreOffice (soffice) is not installed: run scripts/install-system-deps.sh")
    return found


def version() -> str:
    try:
        out = subprocess.run([soffice_path(), "--version"], capture_output=True, text=True, timeout=60).stdout
    except (LibreOfficeMissing, subprocess.SubprocessError, OSError):
        return "libreoffice unavailable"
    return " ".join(out.split()[:2]) or "libreoffice"


def convert(
    files: list[Path],
    out_dir: Path,
    target: str,
    *,
    workers: int = 2,
    chunk: int = 200,
    attempts: int = 3,
    timeout_s: float | None = None,
) -> dict[Path, Path]:
    """Convert ``files`` into ``out_dir`` (``target`` is soffice's ``--convert-to`` filter, e.g.
    ``"docx"`` or ``"doc:MS Word 97"``); return source -> converted file for each one converted.

    Files still missing after ``attempts`` passes are left out of the result: the caller decides
    whether that is an error. A run past ``timeout_s`` (default: 60 s + 2 s a file) is killed.
    """
    soffice = soffice_path()
    suffix = "." + target.split(":", 1)[0]
    out_dir.mkdir(parents=True, exist_ok=True)

    def converted(f: Path) -> Path:
        return out_dir / f"{f.stem}{suffix}"

    pending = list(files)
    for _ in range(attempts):
        if not pending:
            break
        _batches(soffice, pending, out_dir, target, workers, chunk, timeout_s)
        pending = [f for f in pending if not converted(f).exists()]
    return {f: converted(f) for f in files if converted(f).exists()}


def _batches(
    soffice: str, files: list[Path], out_dir: Path, target: str, workers: int, chunk: int, timeout_s: float | None
) -> None:
    """``workers`` soffice runs at a time, each on ``chunk`` files with a profile of its own slot."""
    chunks = [files[i : i + chunk] for i in range(0, len(files), chunk)]
    with tempfile.TemporaryDirectory(prefix="caselake-lo-") as tmp:
        running: list[tuple[subprocess.Popen, float]] = []
        for n, batch in enumerate(chunks):
            if len(running) == workers:
                _wait(*running.pop(0))
            profile = Path(tmp) / f"profile{n % workers}"
            cmd = [
                soffice,
                f"-env:UserInstallation=file://{profile}",
                "--headless",
                "--norestore",
                "--convert-to",
                target,
                "--outdir",
                str(out_dir),
                *map(str, batch),
            ]
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
            running.append((proc, timeout_s if timeout_s is not None else 60 + 2 * len(batch)))
        for proc, limit in running:
            _wait(proc, limit)


def _wait(proc: subprocess.Popen, timeout_s: float) -> None:
    """Wait for one run; a hung run is killed (its files then count as not converted)."""
    try:
        proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
