"""Hard scans read against their truth (``caselake eval documents --hard``, the documents benchmark, the tests).

A set of pages is made by ``synth.scans`` (a kind of damage a page) and read through the same worker pool and
extractor as the documents asset. Scored per page, then per kind:

- printed text: character error rate (edits over truth characters, whitespace collapsed) and word error rate
  (jiwer) against the typed lines only; lines marked handwritten and the unreadable-page marker are not text,
  and ``[unclear]`` is taken off the line it marks (the guess behind it is still scored);
- handwriting: a truth note is *flagged* when a handwritten flag's box meets its box; a flag that meets no
  note is a printed line flagged by mistake (rate over the page's printed lines);
- orientation: a turned page is read the right way up when the reader turned it back exactly;
- speed: seconds a page in the worker, and per engine.

The scored part is ``split="eval"`` at a held-out seed: fonts, handwriting, sentences and margin phrases the
reader was never tuned on. ``tuning=True`` scores the part it was tuned on, for the comparison.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import polars as pl

from lake.documents.formats import ExtractionSettings
from lake.documents.ocr import HANDWRITTEN_MARK, UNCLEAR_MARK, UNREADABLE_MARK
from lake.documents.pipeline import extract_files

EVAL_SEED, TUNING_SEED = 2027, 11
GOALS = {"cer": 0.02, "wer": 0.05, "handwriting_flagged": 0.95, "printed_flagged": 0.02, "seconds_per_page": 3.0}


def printed_text(page_text: str) -> str:
    """The page's text as read, less what the reader marked as not text."""
    lines = []
    for line in page_text.split("\n"):
        if line.strip() in (HANDWRITTEN_MARK, UNREADABLE_MARK):
            continue
        lines.append(line.removeprefix(f"{UNCLEAR_MARK} "))
    return " ".join(" ".join(lines).split())


def _meets(a: list[float], b: list[float]) -> bool:
    return not (a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1])


def score_page(truth: dict, page: dict | None, seconds: float) -> dict:
    """One page's figures (``page`` is the extractor's first page, or None when the file failed)."""
    import jiwer
    from rapidfuzz.distance import Levenshtein

    reference = " ".join(truth["printed"].split())
    hypothesis = printed_text(page["text"]) if page else ""
    notes = [h["box"] for h in json.loads(truth["handwritten"])]
    flags = [f["box"] for f in (page or {}).get("flags", []) if f["kind"] == "handwritten"]
    engines = (page or {}).get("engine_seconds", {})
    return {
        "page_id": truth["page_id"],
        "kind": truth["kind"],
        "truth_chars": len(reference),
        "edits": Levenshtein.distance(reference, hypothesis),
        "truth_words": len(reference.split()),
        "word_errors": round(jiwer.wer(reference, hypothesis) * len(reference.split()))
        if hypothesis
        else len(reference.split()),
        "printed_lines": len(truth["printed"].split("\n")),
        "notes": len(notes),
        "notes_flagged": sum(any(_meets(n, f) for f in flags) for n in notes),
        "false_flags": sum(not any(_meets(n, f) for n in notes) for f in flags),
        "unclear_lines": sum(f["kind"] == "unclear" for f in (page or {}).get("flags", [])),
        "rotated": truth["rotation"] != 0,
        "upright": page is not None and (truth["rotation"] + page.get("rotation", 0)) % 360 == 0,
        "reading": (page or {}).get("reading", "failed"),
        "seconds": seconds,
        "tesseract_s": engines.get("tesseract", 0.0),
        "easyocr_s": engines.get("easyocr", 0.0),
        "prepare_s": engines.get("prepare", 0.0),
    }


def evaluate(
    *,
    tuning: bool = False,
    per_kind: int = 3,
    seed: int | None = None,
    workers: int = 2,
    settings: ExtractionSettings | None = None,
    keep: Path | None = None,
) -> pl.DataFrame:
    """Make the set, read it through the extraction pool, and score every page (one row a page)."""
    from synth.scans import make_set

    split = "train" if tuning else "eval"
    seed = seed if seed is not None else (TUNING_SEED if tuning else EVAL_SEED)
    with tempfile.TemporaryDirectory(prefix="caselake-hard-") as tmp:
        out = keep or Path(tmp)
        pages = {p.page_id: p.truth() for p in make_set(out, seed=seed, split=split, per_kind=per_kind)}
        by_file = {str(out / t["file_name"]): t for t in pages.values()}
        rows = []
        reader = settings or ExtractionSettings()
        for result in extract_files([Path(f) for f in by_file], reader, workers=workers):
            truth = by_file[result["file"]]
            page = result["pages"][0] if result.get("pages") else None
            rows.append(score_page(truth, page, result.get("seconds", 0.0)))
    return pl.DataFrame(rows).sort("page_id")


def by_kind(pages: pl.DataFrame) -> pl.DataFrame:
    return (
        pages.group_by("kind")
        .agg(
            pl.len().alias("pages"),
            (pl.col("edits").sum() / pl.col("truth_chars").sum()).alias("cer"),
            (pl.col("word_errors").sum() / pl.col("truth_words").sum()).alias("wer"),
            pl.col("notes").sum(),
            pl.col("notes_flagged").sum(),
            pl.col("false_flags").sum(),
            pl.col("unclear_lines").sum(),
            (pl.col("reading") == "unreadable").sum().alias("unreadable"),
            pl.col("seconds").mean().alias("s_per_page"),
        )
        .sort("kind")
    )


def summary(pages: pl.DataFrame) -> dict[str, float]:
    rotated = pages.filter(pl.col("rotated"))
    return {
        "pages": pages.height,
        "cer": pages["edits"].sum() / max(1, pages["truth_chars"].sum()),
        "wer": pages["word_errors"].sum() / max(1, pages["truth_words"].sum()),
        "handwriting_flagged": pages["notes_flagged"].sum() / max(1, pages["notes"].sum()),
        "notes": int(pages["notes"].sum()),
        "printed_flagged": pages["false_flags"].sum() / max(1, pages["printed_lines"].sum()),
        "upright": rotated["upright"].sum() / max(1, rotated.height),
        "turned_by_mistake": int(pages.filter(~pl.col("rotated") & ~pl.col("upright")).height),
        "seconds_per_page": float(pages["seconds"].mean()),
        "tesseract_s_per_page": float(pages["tesseract_s"].mean()),
        "easyocr_s_per_page": float(pages["easyocr_s"].mean()),
        "prepare_s_per_page": float(pages["prepare_s"].mean()),
    }


def report(pages: pl.DataFrame) -> str:
    s = summary(pages)

    def verdict(name: str, value: float, higher_is_better: bool = False) -> str:
        goal = GOALS[name]
        met = value >= goal if higher_is_better else value <= goal
        return f"(goal {'≥' if higher_is_better else '≤'} {goal:g}: {'met' if met else 'NOT met'})"

    with pl.Config(tbl_rows=40, tbl_cols=12, float_precision=3, tbl_width_chars=160):
        table = str(by_kind(pages))
    return "\n".join(
        [
            table,
            f"pages {s['pages']}: printed CER {s['cer']:.4f} {verdict('cer', s['cer'])}, "
            f"WER {s['wer']:.4f} {verdict('wer', s['wer'])}",
            f"handwritten notes flagged {s['handwriting_flagged']:.3f} of {s['notes']} "
            f"{verdict('handwriting_flagged', s['handwriting_flagged'], True)}; printed lines flagged by mistake "
            f"{s['printed_flagged']:.4f} {verdict('printed_flagged', s['printed_flagged'])}",
            f"turned pages read upright {s['upright']:.3f} (goal 1.0); upright pages turned by mistake "
            f"{s['turned_by_mistake']}",
            f"seconds a page {s['seconds_per_page']:.2f} {verdict('seconds_per_page', s['seconds_per_page'])}: "
            f"cleaning {s['prepare_s_per_page']:.2f}, tesseract {s['tesseract_s_per_page']:.2f}, "
            f"easyocr {s['easyocr_s_per_page']:.2f}",
        ]
    )


# ---- fitting the handwriting flag (tuning part only) --------------------------------------------------------------
HANDWRITING_FEATURES = [
    "tesseract_conf",
    "easyocr_conf",
    "agreement",
    "height_ratio",
    "outside_body",
    "slope",
    "ink_density",
]


def line_examples(per_kind: int = 6, seed: int = TUNING_SEED) -> pl.DataFrame:
    """Every line the reader finds on the tuning part, its features, and whether it meets a handwritten note.

    Each page image is made as the extractor makes it (a PDF page at its scan's own resolution, then limited in
    size), so the model learns from the lines the pipeline reads."""
    import pypdfium2 as pdfium
    from PIL import Image

    from lake.documents.formats import ExtractionSettings, TextExtractor, _render_pdf_page
    from lake.documents.ocr import PageReader, _limit_image
    from synth.scans import make_set

    rows = []
    settings = ExtractionSettings()
    reader = PageReader(easyocr_reader=TextExtractor(settings).reader)
    with tempfile.TemporaryDirectory(prefix="caselake-hard-") as tmp:
        for page in make_set(Path(tmp), seed=seed, split="train", per_kind=per_kind):
            path = Path(tmp) / page.file_name
            image = (
                _render_pdf_page(pdfium.PdfDocument(path)[0], settings.pdf_render_dpi)
                if path.suffix == ".pdf"
                else Image.open(path)
            )
            reading = reader.read(_limit_image(image, settings.ocr_max_side))
            w, h = reading.size
            for line in reading.lines:
                box = [line.box[0] / w, line.box[1] / h, line.box[2] / w, line.box[3] / h]
                rows.append(
                    {
                        "page_id": page.page_id,
                        "kind": page.kind,
                        "handwritten": any(_meets(box, n["box"]) for n in page.handwritten),
                        **{name: float(line.features[name]) for name in HANDWRITING_FEATURES},
                    }
                )
    return pl.DataFrame(rows)


def fit_handwriting(examples: pl.DataFrame, c: float = 1.0, threshold: float = 0.9) -> dict:
    """A balanced logistic regression on the tuning lines (C and threshold chosen by 5-fold grouped
    cross-validation on the same part: 9 configurations, decision 0034). Lines neither engine read are left out,
    as the reader calls them noise before it asks this model."""
    from sklearn.linear_model import LogisticRegression

    from lake.documents.ocr import NOISE_BELOW, feature_vector

    usable = examples.filter((pl.col("tesseract_conf") >= NOISE_BELOW) | (pl.col("easyocr_conf") >= NOISE_BELOW))
    x = [feature_vector(r, HANDWRITING_FEATURES) for r in usable.iter_rows(named=True)]
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(x, usable["handwritten"].to_numpy())
    return {
        "features": HANDWRITING_FEATURES,
        "coefficients": [round(float(v), 6) for v in model.coef_[0]],
        "intercept": round(float(model.intercept_[0]), 6),
        "threshold": threshold,
        "fitted_on": f"hard-scan tuning part, seed {TUNING_SEED}, {usable.height} lines, "
        f"{int(usable['handwritten'].sum())} handwritten",
    }


HANDWRITING_GRID = [(c, t) for c in (0.3, 1.0, 3.0) for t in (0.5, 0.7, 0.9)]


def cross_validate_handwriting(examples: pl.DataFrame, folds: int = 5) -> pl.DataFrame:
    """Each configuration of :data:`HANDWRITING_GRID` scored by ``folds``-fold cross-validation grouped by page
    on the tuning lines: handwritten lines flagged (recall) and printed lines flagged (false)."""
    from lake.documents.ocr import NOISE_BELOW, handwriting_score

    # Lines neither engine read are noise to the reader before it asks the model: left out here too.
    examples = examples.filter((pl.col("tesseract_conf") >= NOISE_BELOW) | (pl.col("easyocr_conf") >= NOISE_BELOW))
    pages = sorted(examples["page_id"].unique())
    fold_of = {p: i % folds for i, p in enumerate(pages)}
    examples = examples.with_columns(pl.col("page_id").replace_strict(fold_of).alias("fold"))
    rows = []
    for c, threshold in HANDWRITING_GRID:
        hits = misses = false = printed = 0
        for k in range(folds):
            model = fit_handwriting(examples.filter(pl.col("fold") != k), c, threshold)
            for r in examples.filter(pl.col("fold") == k).iter_rows(named=True):
                flagged = handwriting_score(r, model) >= threshold
                if r["handwritten"]:
                    hits, misses = hits + flagged, misses + (not flagged)
                else:
                    false, printed = false + flagged, printed + 1
        rows.append(
            {"c": c, "threshold": threshold, "recall": hits / max(1, hits + misses), "false": false, "printed": printed}
        )
    return pl.DataFrame(rows)


def choose_handwriting(scores: pl.DataFrame, false_rate: float = 0.005) -> dict:
    """The configuration with the best recall among those flagging at most ``false_rate`` of printed lines
    (fewer false flags, then the higher threshold, then the more regularised fit break a tie)."""
    ok = scores.filter(pl.col("false") <= false_rate * pl.col("printed"))
    return ok.sort(["recall", "false", "threshold", "c"], descending=[True, False, True, False]).row(0, named=True)
