"""The adopter insights as a page people read: forest plots of the odds ratios (SVG drawn here, no script, no
CDN), the tables behind them, the themes with their phrases, the groups, the list with its fairness audit, the
simulation study, and the caveats. Every value from the data is escaped: it is text, never markup."""

from __future__ import annotations

import math
from html import escape

import polars as pl

from lake.insights.contract import COHORTS
from lake.insights.effects import WITHOUT_PREFERENCES

CAVEATS = (
    "Observational, not causal: these are associations among households that adopted, not what makes a "
    "household adopt a child of a cohort.",
    "Small numbers: every odds ratio comes with its 95% interval; a wide interval means the data cannot say much. "
    "Cells with fewer than 5 households are marked 'too few to say'.",
    "Many comparisons: q-values control the false-discovery rate across every characteristic and cohort; read "
    "'more likely' and 'less likely' only where q < 0.05.",
    "Stated preferences are nearly the outcome, so the main model leaves them out; the model with them is shown "
    "beside it.",
    "Protected characteristics are analysed because recruitment targeting needs them, and are never used to rank "
    "households.",
    "The list supports a family finder's judgement. It decides nothing, and it cannot see what matters most: the "
    "child's own needs and the family's readiness now.",
)

PLOT_KEY = (
    "Filled squares: an association found (q &lt; 0.05). Open squares: no clear difference. "
    "Circles: too few households to say. * protected characteristic."
)
_W, _ROW, _LEFT, _RIGHT = 780, 22, 300, 140
_LO, _HI = 0.1, 20.0


def _x(odds_ratio: float) -> float:
    span = math.log(_HI) - math.log(_LO)
    v = min(max(odds_ratio, _LO), _HI)
    return _LEFT + (math.log(v) - math.log(_LO)) / span * (_W - _LEFT - _RIGHT)


def forest_plot(effects: pl.DataFrame, cohort: str, title: str, model: str = WITHOUT_PREFERENCES) -> str:
    """One cohort's odds ratios with their 95% intervals on a log scale, 1 marked; found effects filled."""
    rows = effects.filter((pl.col("cohort") == cohort) & (pl.col("model") == model))
    height = 40 + _ROW * rows.height + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{_W}" height="{height}" '
        f'viewBox="0 0 {_W} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<text x="4" y="16" font-weight="bold">{escape(title)}</text>',
    ]
    one = _x(1.0)
    parts.append(
        f'<line x1="{one:.1f}" y1="28" x2="{one:.1f}" y2="{height - 24}" stroke="#888" stroke-dasharray="4 3"/>'
    )
    for tick in (0.1, 0.25, 0.5, 1, 2, 4, 10, 20):
        parts.append(f'<text x="{_x(tick):.1f}" y="{height - 8}" text-anchor="middle" fill="#444">{tick:g}</text>')
    for i, r in enumerate(rows.iter_rows(named=True)):
        y = 40 + i * _ROW
        label = r["label"] + (" *" if r["protected"] else "")
        parts.append(f'<text x="4" y="{y + 4}">{escape(label)}</text>')
        if r["odds_ratio"] is None or not math.isfinite(r["odds_ratio"]):
            parts.append(f'<text x="{_LEFT}" y="{y + 4}" fill="#666">no estimate</text>')
            continue
        low, high = r["ci_low"], r["ci_high"]
        if low is not None and high is not None and math.isfinite(low) and math.isfinite(high):
            parts.append(
                f'<line x1="{_x(low):.1f}" y1="{y}" x2="{_x(high):.1f}" y2="{y}" stroke="#0072B2" stroke-width="2"/>'
            )
        found = r["finding"] in ("more likely", "less likely")
        fill = "#0072B2" if found else "white"
        shape = "rect" if not r["too_small"] else "circle"
        if shape == "rect":
            parts.append(
                f'<rect x="{_x(r["odds_ratio"]) - 5:.1f}" y="{y - 5}" width="10" height="10" fill="{fill}" stroke="#0072B2"/>'
            )
        else:
            parts.append(f'<circle cx="{_x(r["odds_ratio"]):.1f}" cy="{y}" r="4" fill="white" stroke="#999"/>')
        words = f"{r['odds_ratio']:.2f} ({low:.2f}–{high:.2f})" if low is not None else f"{r['odds_ratio']:.2f}"
        parts.append(f'<text x="{_W - _RIGHT + 6}" y="{y + 4}" fill="#222">{escape(words)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def table_html(frame: pl.DataFrame, columns: dict[str, str], fmt: dict[str, str] | None = None) -> str:
    fmt = fmt or {}
    head = "".join(f"<th>{escape(label)}</th>" for label in columns.values())
    body = []
    for r in frame.iter_rows(named=True):
        cells = []
        for c in columns:
            v = r[c]
            text = "" if v is None else (format(v, fmt[c]) if c in fmt and isinstance(v, int | float) else str(v))
            cells.append(f"<td>{escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="cl-table"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


EFFECT_COLUMNS = {
    "label": "characteristic",
    "source": "from",
    "protected": "protected",
    "households_with": "households with it",
    "adopted_with": "of whom adopted",
    "odds_ratio": "odds ratio",
    "ci_low": "95% low",
    "ci_high": "95% high",
    "p_value": "p",
    "q_value": "q",
    "finding": "finding",
}
EFFECT_FORMATS = {"odds_ratio": ".2f", "ci_low": ".2f", "ci_high": ".2f", "p_value": ".3g", "q_value": ".3g"}


CANDIDATE_COLUMNS = {
    "rank": "rank",
    "household_id": "household",
    "estimate": "estimate",
    "estimate_low": "95% low",
    "estimate_high": "95% high",
    "reasons": "why",
    "times_listed_before": "listed before",
}
FAIRNESS_COLUMNS = {
    "characteristic": "protected characteristic",
    "pool_share": "share in pool",
    "list_share": "share in list",
    "ratio": "ratio",
    "p_value": "chance of a gap this size",
    "flag": "flag",
}


def candidates_table(candidates: pl.DataFrame, with_cohort: bool = False) -> str:
    columns = {"cohort": "cohort", **CANDIDATE_COLUMNS} if with_cohort else CANDIDATE_COLUMNS
    return table_html(candidates, columns, {"estimate": ".2f", "estimate_low": ".2f", "estimate_high": ".2f"})


def fairness_table(fairness: pl.DataFrame, with_cohort: bool = False) -> str:
    columns = {"cohort": "cohort", **FAIRNESS_COLUMNS} if with_cohort else FAIRNESS_COLUMNS
    return table_html(fairness, columns, {"pool_share": ".0%", "list_share": ".0%", "ratio": ".2f", "p_value": ".2f"})


def themes_table(themes: pl.DataFrame) -> str:
    return table_html(
        themes,
        {
            "label": "theme",
            "households": "households",
            "examples": "typical phrases",
            "borderline": "phrases that only just matched",
        },
    )


def groups_table(groups: pl.DataFrame) -> str:
    if not groups.height:
        return "<p>No groups: the households do not fall into distinct kinds (HDBSCAN found no dense groups).</p>"
    return table_html(
        groups,
        {
            "cluster": "group",
            "households": "households",
            "stability": "stability",
            "reading": "reading",
            "description": "what sets it apart",
            "adopted_share": "adopted",
        },
        {"stability": ".2f"},
    )


def effects_section(effects: pl.DataFrame) -> str:
    """Forest plots and tables for every cohort, both models."""
    out = []
    for cohort in COHORTS:
        title = f"Adopting {cohort.label}: odds ratios, 95% profile-likelihood intervals"
        out.append(f"<h3>{escape('Adopting ' + cohort.label)}</h3>")
        out.append(
            f'<figure data-cohort="{escape(cohort.name)}">{forest_plot(effects, cohort.name, title)}'
            "<figcaption>Filled squares: an association found (q &lt; 0.05). Open squares: no clear "
            "difference. Circles: too few households to say. * protected characteristic.</figcaption></figure>"
        )
        for model in (WITHOUT_PREFERENCES, "with stated preferences"):
            part = effects.filter((pl.col("cohort") == cohort.name) & (pl.col("model") == model))
            out.append(
                f"<details><summary>{escape('Table: ' + model)}</summary>{table_html(part, EFFECT_COLUMNS, EFFECT_FORMATS)}</details>"
            )
    return "".join(out)


def html_report(insights, simulation_markdown: str = "") -> str:
    """The whole report as one self-contained HTML page."""
    s = insights.summary
    facts = (
        f"{s.get('households', '?')} approved households: {s.get('matched', '?')} matched, "
        f"{s.get('waiting', '?')} waiting. Associations found: {s.get('associations_found', '?')} of "
        f"{s.get('tests', '?')} tested; too few households to say: {s.get('too_small', '?')}."
        if s
        else ""
    )
    sections = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Adopter insights</title>",
        "<style>body{font-family:sans-serif;max-width:1000px;margin:1em auto;color:#111}table{border-collapse:collapse;"
        "font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}figure{margin:0}</style></head><body>",
        "<h1>Adopter insights</h1>",
        f"<p>{escape(facts)}</p>",
        "<h2>Read this first</h2><ul>" + "".join(f"<li>{escape(c)}</li>" for c in CAVEATS) + "</ul>",
        "<h2>Who adopts the children who wait longest</h2>",
        effects_section(insights.effects),
        "<h2>Themes read from the prospective adopter reports</h2>",
        themes_table(insights.themes),
        "<h2>Kinds of household (description only)</h2>",
        groups_table(insights.groups),
        "<h2>Approved households not yet matched, for each waiting cohort</h2>",
        candidates_table(insights.candidates, with_cohort=True),
        "<h3>Fairness audit of the list against the pool</h3>",
        fairness_table(insights.fairness, with_cohort=True),
    ]
    if simulation_markdown:
        sections.append(f"<h2>How far to trust it: the simulation study</h2><pre>{escape(simulation_markdown)}</pre>")
    sections.append("</body></html>")
    return "".join(sections)
