"""The project's entity model, trained on the synthetic council: the labelled training text, composed from
the generator's train split (templates and name pools the evaluation never uses), and the one way every
caller finds or builds the model (the asset, the CLI, the evaluation, the benchmarks and the tests).

It lives beside the generator, not in ``lake``: the library trains on examples it is given
(:func:`lake.entities.model.build`) and never imports the generator.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from corpus.factors import statements as factor_statements
from corpus.handwritten import LABELS as HANDWRITTEN_LABELS
from corpus.handwritten import notes
from lake.entities.coding import CoderConfig, ensure_coder
from lake.entities.factors import ensure_classifier
from lake.entities.model import MODEL_LABELS, BuildConfig, build, to_examples
from lake.progress import Progress, no_progress
from lake.settings import EntitySettings
from synth.council import SynthOptions, build_world, compose_base


def labelled_texts(children: int, seed: int, split: str) -> Iterator[tuple[str, list[tuple[int, int, str]]]]:
    """The synthetic council's free text (case notes, document pages, form answers) with its true spans,
    composed in memory without rendering any document."""
    # No factor statements: their names and kinship words are not marked, and the entity model's text is the
    # generator's own (corpus/handwritten is where hand-written text teaches it).
    opts = SynthOptions(out=Path("."), children=children, seed=seed, split=split, factor_statements=0.0)
    content = compose_base(build_world(opts), opts, no_progress)
    spans: dict[tuple[str, str, int | None], list[tuple[int, int, str]]] = {}
    for m in content.mentions:
        spans.setdefault((m["source_type"], m["source_id"], m["page"]), []).append((m["start"], m["end"], m["label"]))
    for row in content.rows["case_note"]:
        yield row["note_text"], spans.get(("case_note", row["note_id"], None), [])
    for page in content.pages:
        yield page["text"], spans.get(("document_page", page["document_id"], page["page"]), [])
    for row in content.rows["form_answer"]:
        yield row["answer_text"], spans.get(("form_answer", f"{row['form_id']}:{row['question_code']}", None), [])


def handwritten_examples(cfg: BuildConfig) -> list[dict]:
    """GLiNER examples from the hand-written corpus's training part (never its held-out authors), offering the
    labels the corpus marks: it marks no risk or protective factor (issue 37 has its own statements)."""
    labels = tuple(label for label in MODEL_LABELS if label in HANDWRITTEN_LABELS)
    return [ex for note in notes("train") for ex in to_examples(note.text, list(note.spans), cfg.window_words, labels)]


def training_examples(cfg: BuildConfig) -> list[dict]:
    """GLiNER examples from the train split of the council ``cfg`` names (its children and seed), and the
    hand-written training notes ``cfg.handwritten_weight`` times over."""
    generated = [
        ex
        for text, spans in labelled_texts(cfg.train_children, cfg.train_seed, "train")
        for ex in to_examples(text, spans, cfg.window_words)
    ]
    return generated + handwritten_examples(cfg) * cfg.handwritten_weight


def project_model(settings: EntitySettings, cfg: BuildConfig | None = None, progress: Progress = no_progress) -> Path:
    """The project's own model for ``cfg`` (default: the project's build config), found in the settings'
    cache or trained now (12.5 minutes on 2 cores, once per machine), with its factor classifier."""
    cfg = cfg or BuildConfig()
    progress("examples", 0, 1)
    examples = training_examples(cfg)
    progress("examples", 1, 1)
    model_dir = build(cfg, examples, settings.cache_dir(), progress)
    ensure_classifier(model_dir, examples)  # seconds; a model cached before the classifier existed gets one
    return model_dir


def entity_model(settings: EntitySettings, progress: Progress = no_progress) -> str:
    """The model the extraction uses: the one the settings name (a directory or a hub id), else the project's."""
    return settings.gliner_model or str(project_model(settings, progress=progress))


# ---- the factor coder (issue 37) -------------------------------------------------------------------------------
def factor_training_statements() -> list[tuple[str, list[tuple[str, str]]]]:
    """The hand-written factor statements of the training authors (never the held-out ones), as the coder takes
    them: (text, [(code, status), ...])."""
    return [(s.text, [(lab.code, lab.status) for lab in s.labels]) for s in factor_statements("train")]


def project_factor_coder(settings: EntitySettings, config: CoderConfig | None = None) -> Path:
    """The project's factor coder for ``config`` (default: the project's), found in the settings' cache or
    trained now from the training statements (seconds)."""
    config = config or CoderConfig(features=settings.factor_features)
    return ensure_coder(settings.cache_dir(), factor_training_statements(), config)
