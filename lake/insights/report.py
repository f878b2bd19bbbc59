"""The adopter insights as a page people read: first, in plain words, what the adopters of the children who wait
longest have in common and what to do with it (percentages, findings in words); then per cohort the same in a
table; the technical detail (forest plots of the odds ratios — SVG drawn here, no script, no CDN — intervals,
q-values, the method) under a collapsed disclosure; the themes with their phrases, the groups, the list with its
fairness audit, the simulation study, and the caveats. The app's page and the HTML report build from the same
pieces here. Every value from the data is escaped: it is text, never markup."""

from __future__ import annotations

import math
from html import escape

import polars as pl

from lake.insights.contract import COHORTS
from lake.insights.effects import (
    CLEAR_FINDINGS,
    FDR,
    MIN_CELL,
    WITH_PREFERENCES,
    WITHOUT_PREFERENCES,
    calls_a_difference,
)

CAVEATS = (
    "These are patterns among the households that adopted, not causes: they say who adopted which children, not "
    "what makes a family able to.",
    "'No clear difference' means this data cannot tell at its size, not that there is no difference. 'Too few "
    "to say' means fewer than 5 households on one side.",
    "Protected characteristics (age, ethnicity, religion or belief, sex, sexual orientation, marriage and civil "
    "partnership; marked *) are shown because recruitment needs to know who adopts which children, and are never "
    "used to rank households.",
    "The list supports a family finder's judgement. It decides nothing, and it cannot see what matters most: the "
    "child's own needs and the family's readiness now.",
)

PLOT_KEY = (
    "Filled squares: a difference (the interval excludes 1 and survives the correction for many comparisons). "
    "Light squares: the interval excludes 1, but the difference could be chance among the things compared. "
    "Open squares: no clear difference (the interval includes 1). Circles: too few households to say. "
    "* protected characteristic."
)
_COULD_BE_CHANCE_FILL = "#A6CEE3"
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
        fill = (
            "#0072B2"
            if r["finding"] in CLEAR_FINDINGS
            else _COULD_BE_CHANCE_FILL
            if calls_a_difference(r["finding"])
            else "white"
        )
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


def percent(share: float) -> str:
    """A share as the percentage people read; never "0%" or "100%" for what is only nearly so."""
    if share is None or not math.isfinite(share):
        return ""
    if 0 < share < 0.005:
        return "under 1%"
    if 0.995 < share < 1:
        return "over 99%"
    return f"{share:.0%}"


def table_html(frame: pl.DataFrame, columns: dict[str, str], fmt: dict | None = None) -> str:
    """A table of text; ``fmt`` maps a column to a format spec or to a function of the value (``percent``)."""
    fmt = fmt or {}
    head = "".join(f"<th>{escape(label)}</th>" for label in columns.values())
    body = []
    for r in frame.iter_rows(named=True):
        cells = []
        for c in columns:
            v, how = r[c], fmt.get(c)
            if v is None:
                text = ""
            elif callable(how) and isinstance(v, int | float):
                text = how(v)
            elif how and isinstance(v, int | float):
                text = format(v, how)
            else:
                text = str(v)
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
    "estimate": "estimated chance",
    "estimate_low": "could be as low as",
    "estimate_high": "or as high as",
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
    return table_html(candidates, columns, {"estimate": percent, "estimate_low": percent, "estimate_high": percent})


def fairness_table(fairness: pl.DataFrame, with_cohort: bool = False) -> str:
    columns = {"cohort": "cohort", **FAIRNESS_COLUMNS} if with_cohort else FAIRNESS_COLUMNS
    return table_html(
        fairness, columns, {"pool_share": percent, "list_share": percent, "ratio": ".2f", "p_value": percent}
    )


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


def _main_rows(effects: pl.DataFrame, cohort: str | None = None) -> pl.DataFrame:
    rows = effects.filter(pl.col("model") == WITHOUT_PREFERENCES)
    return rows if cohort is None else rows.filter(pl.col("cohort") == cohort)


def _shares(r: dict) -> tuple[str, str]:
    """The share of the adopters with the characteristic, and of those without, who adopted such a child."""

    def share(adopted: int, households: int) -> str:
        return f"{percent(adopted / households)} ({adopted} of {households})" if households else "no households"

    return share(r["adopted_with"], r["households_with"]), share(r["adopted_without"], r["households_without"])


def _label(r: dict) -> str:
    return r["label"] + (" *" if r["protected"] else "")


def _difference_order(r: dict) -> tuple:
    """Clear differences first, then those that could be chance, then no clear difference, then too few to
    say; within each, the largest gap in shares first."""
    finding = r["finding"] or ""
    tier = (
        0
        if finding in CLEAR_FINDINGS
        else 1
        if calls_a_difference(finding)
        else 2
        if finding == "no clear difference"
        else 3
    )
    with_, without = r["households_with"], r["households_without"]
    gap = abs(r["adopted_with"] / with_ - r["adopted_without"] / without) if with_ and without else 0.0
    return (tier, -gap, r["label"])


def _brief(lead: str, lists: tuple[tuple[str, list[str]], ...] = (), act: str = "") -> str:
    body = [f"<p>{escape(lead)}</p>"]
    body += [f"<p><b>{escape(heading)}</b></p><ul>{''.join(items)}</ul>" for heading, items in lists if items]
    if act:
        body.append(f"<p><b>What to do with it:</b> {escape(act)}</p>")
    return f'<section data-testid="in-brief" aria-label="In brief">{"".join(body)}</section>'


def in_brief(effects: pl.DataFrame) -> str:
    """The first paragraph: what the adopters of the children who wait longest have in common, in plain words
    and percentages, and what a family finder can do with it. Only what the analysis calls a difference; the
    correction for many comparisons is named where it changes the call."""
    main = _main_rows(effects)
    if not main.height:
        return _brief("No analysis yet.")
    first = main.row(0, named=True)
    adopters = first["households_with"] + first["households_without"]
    if (main["finding"] == "too few to say").all():
        return _brief(
            f"Too few households to say anything yet: {adopters} households have adopted, and every comparison "
            f"has fewer than {MIN_CELL} households on one side. Treat any list below as no more than a prompt."
        )
    differences = sorted(
        (r for r in main.iter_rows(named=True) if calls_a_difference(r["finding"])), key=_difference_order
    )
    if not differences:
        return _brief(
            f"Among the {adopters} households that adopted, this data shows no clear difference between the "
            "adopters of the children who wait longest and other adopters. At this size that means the data "
            "cannot tell, not that there is none: rely on the family finder's judgement."
        )
    labels = {c.name: c.label for c in COHORTS}

    def item(r: dict) -> str:
        with_, without = r["adopted_with"] / r["households_with"], r["adopted_without"] / r["households_without"]
        return (
            f'<li data-finding="{escape(r["finding"])}"><b>{escape("Adopting " + labels[r["cohort"]])}</b>: '
            f"{escape(_label(r))} — {escape(percent(with_))} of the adopters with it adopted such a child, "
            f"against {escape(percent(without))} of those without.</li>"
        )

    clear = [item(r) for r in differences if r["finding"] in CLEAR_FINDINGS]
    chance = [item(r) for r in differences if r["finding"] not in CLEAR_FINDINGS]
    compared = int(main["p_value"].is_not_nan().sum())
    return _brief(
        f"What the adopters of the children who wait longest have in common, among the {adopters} households that "
        "adopted:",
        (
            ("Clear differences:", clear),
            (
                f"Likely differences, but each could be chance among the {compared} things compared (a lead to "
                "check, not a fact):",
                chance,
            ),
        ),
        "when family-finding for one of these children, start with the approved households who share these "
        "characteristics. The list for each cohort below does that, gives only these as its reasons, and never "
        "ranks by a protected characteristic (*). In recruitment, these are the people to reach and the "
        "experience to ask about. Nothing here rules a family in or out: the child's needs and the family's "
        "readiness decide.",
    )


FINDING_COLUMNS = {
    "characteristic": "characteristic",
    "with": "adopted such a child, of the adopters with it",
    "without": "of those without it",
    "finding": "what the data says",
}


def cohort_findings(effects: pl.DataFrame, cohort: str) -> str:
    """One cohort in plain words: each characteristic, the shares with and without it, the finding in words.
    Each row carries whether the report calls it a difference (``data-difference``), which the list's reasons
    are held to."""
    rows = sorted(_main_rows(effects, cohort).iter_rows(named=True), key=_difference_order)
    label = next(c.label for c in COHORTS if c.name == cohort)
    head = "".join(f"<th>{escape(v)}</th>" for v in FINDING_COLUMNS.values())
    body = []
    for r in rows:
        with_, without = _shares(r)
        mark = "yes" if calls_a_difference(r["finding"]) else "no"
        body.append(
            f'<tr data-difference="{mark}"><td>{escape(_label(r))}</td><td>{escape(with_)}</td>'
            f"<td>{escape(without)}</td><td>{escape(r['finding'] or '')}</td></tr>"
        )
    intro = ""
    adopters = rows[0]["households_with"] + rows[0]["households_without"] if rows else 0
    if adopters:
        adopted = rows[0]["adopted_with"] + rows[0]["adopted_without"]
        words = f"Of the {adopters} households that adopted, {adopted} ({percent(adopted / adopters)}) adopted {label}."
        intro = f"<p>{escape(words)}</p>"
    return (
        f"<h2>{escape('Adopting ' + label)}</h2>{intro}"
        f'<table class="cl-table" data-testid="findings" data-cohort="{escape(cohort)}"><thead><tr>{head}</tr>'
        f"</thead><tbody>{''.join(body)}</tbody></table>"
    )


def method_words(effects: pl.DataFrame) -> str:
    compared = _main_rows(effects)["p_value"].is_not_nan().sum()
    return (
        "Each odds ratio comes from one Firth-penalised logistic regression per cohort with every characteristic "
        "in it, so each is adjusted for the others, with its 95% profile-likelihood interval and likelihood-ratio "
        f"p-value. The q-value is the p-value after the Benjamini–Hochberg correction across the {compared} "
        "characteristic × cohort comparisons of a model, which keeps the share of false findings near "
        f"{FDR:.0%}. 'More likely' or 'less likely': the interval excludes 1 and q < {FDR}. "
        "'..., but could be chance among the things compared': the interval excludes 1 but q ≥ "
        f"{FDR} (the correction is what changes the call). 'No clear difference': the interval includes 1. "
        f"'Too few to say': a cell of the 2×2 table has fewer than {MIN_CELL} households. The percentages in the "
        "plain-words table are the raw shares; the findings take the other characteristics into account. The "
        "second model adds the household's stated preference for the cohort, which is nearly the outcome: it is "
        "description, not a target."
    )


def technical_detail(effects: pl.DataFrame, cohort: str) -> str:
    """Odds ratios, intervals, q-values and the method for one cohort, both models, in a disclosure that is
    closed until asked for: the plain words above are what a family finder reads first."""
    label = next(c.label for c in COHORTS if c.name == cohort)
    parts = [
        f'<details data-testid="technical" data-cohort="{escape(cohort)}">'
        "<summary>Technical detail: odds ratios, 95% intervals, q-values and the method</summary>"
        f"<p>{escape(method_words(effects))}</p>"
    ]
    for model in (WITHOUT_PREFERENCES, WITH_PREFERENCES):
        title = f"Adopting {label}: odds ratios, 95% profile-likelihood intervals ({model})"
        testid = "forest-plot" if model == WITHOUT_PREFERENCES else "forest-plot-preferences"
        rows = effects.filter((pl.col("cohort") == cohort) & (pl.col("model") == model))
        parts.append(
            f'<figure data-testid="{testid}" data-cohort="{escape(cohort)}">'
            f"{forest_plot(effects, cohort, title, model)}<figcaption>{PLOT_KEY}</figcaption></figure>"
            f'<div data-testid="effects" data-model="{escape(model)}">'
            f"{table_html(rows, EFFECT_COLUMNS, EFFECT_FORMATS)}</div>"
        )
    parts.append("</details>")
    return "".join(parts)


def html_report(insights, simulation_markdown: str = "") -> str:
    """The whole report as one self-contained HTML page."""
    s = insights.summary
    facts = (
        f"{s.get('households', '?')} approved households: {s.get('matched', '?')} matched, "
        f"{s.get('waiting', '?')} waiting."
        if s
        else ""
    )
    sections = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Adopter insights</title>",
        "<style>body{font-family:sans-serif;max-width:1000px;margin:1em auto;color:#111}table{border-collapse:collapse;"
        "font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}figure{margin:0}</style></head><body>",
        "<h1>Adopter insights</h1>",
        in_brief(insights.effects),
        f"<p>{escape(facts)}</p>",
        "<h2>Before you act on it</h2><ul>" + "".join(f"<li>{escape(c)}</li>" for c in CAVEATS) + "</ul>",
        *(cohort_findings(insights.effects, c.name) + technical_detail(insights.effects, c.name) for c in COHORTS),
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
