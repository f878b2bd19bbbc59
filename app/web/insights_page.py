"""Adopter insights for an adoption agency, written for the family finder who acts on it: first, in plain words
and percentages, what the adopters of the children who wait longest have in common and what to do with it; for
the chosen cohort the same per characteristic, with the technical detail (forest plots for both models, odds
ratios, intervals, q-values, the method) in a disclosure closed until asked for; for family finders the approved
households not yet matched, whose reasons are only what the page calls a difference, how often each was listed
before, and the list's fairness audit; the themes read from the reports and what they caught. Everything is read
through the query service, which checks the role and audits it."""

from __future__ import annotations

import panel as pn
import param
import polars as pl

from app.service import AccessDenied
from app.web.render import esc, html_pane
from app.web.shell import Context
from lake.insights.contract import COHORTS
from lake.insights.report import (
    CAVEATS,
    candidates_table,
    cohort_findings,
    fairness_table,
    groups_table,
    in_brief,
    technical_detail,
    themes_table,
)

COHORT_WORDS = {c.label.capitalize(): c.name for c in COHORTS}


class AdopterInsightsPage(pn.viewable.Viewer):
    cohort = param.Selector(default=next(iter(COHORT_WORDS.values())), objects=list(COHORT_WORDS.values()))

    def __init__(self, ctx: Context, **params):
        super().__init__(**params)
        self.ctx = ctx
        try:
            self.insights = ctx.service.adopter_insights(ctx.session)
        except AccessDenied:
            self._layout = html_pane('<p role="alert">Adopter insights are not available to your role.</p>')
            return
        if self.insights is None:
            self._layout = html_pane(
                '<p role="status">No adopter analysis yet: it runs after the marts are built '
                "(<code>caselake insights adopters</code>, or the <code>analyse_adopters</code> job).</p>"
            )
            return
        self._cohort = pn.widgets.RadioButtonGroup.from_param(
            self.param.cohort, name="Waiting cohort", options=COHORT_WORDS, button_type="primary"
        )
        self._findings = html_pane("", sizing_mode="stretch_width")
        self._list = html_pane("", sizing_mode="stretch_width")
        self.param.watch(lambda _e: self._render(), "cohort")
        caveats = "".join(f"<li>{esc(c)}</li>" for c in CAVEATS)
        themes, groups = themes_table(self.insights.themes), groups_table(self.insights.groups)
        self._layout = pn.Column(
            html_pane(
                f"<h1>Adopter insights</h1>{in_brief(self.insights.effects)}"
                '<section aria-label="Before you act on it" class="cl-caveats">'
                f"<h2>Before you act on it</h2><ul>{caveats}</ul></section>",
                sizing_mode="stretch_width",
            ),
            self._cohort,
            self._findings,
            self._list,
            html_pane(
                f"<h2>Themes read from the prospective adopter reports</h2>{themes}"
                f"<h2>Kinds of household (description only)</h2>{groups}",
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )
        self._render()

    def __panel__(self):
        return self._layout

    def _render(self) -> None:
        cohort = self.cohort
        words = next(c.label for c in COHORTS if c.name == cohort)
        effects = self.insights.effects
        self._findings.object = cohort_findings(effects, cohort) + technical_detail(effects, cohort)
        if not self.ctx.session.role.reads_adopter_list:
            self._list.object = "<p>The list of approved households is for family finders.</p>"
            return
        listed = self.insights.candidates.filter(pl.col("cohort") == cohort)
        fairness = self.insights.fairness.filter(pl.col("cohort") == cohort)
        self._list.object = (
            f"<h2>Approved households not yet matched, open to {esc(words)}</h2>"
            "<p>Ranked by the estimated chance that such a household adopts such a child, from characteristics "
            "that are not protected and the report themes; the chance could be as low or as high as the two "
            "columns beside it. The reasons name only what the table above calls a difference. "
            "A household listed many times before may need a conversation, not another listing.</p>"
            f'<div data-testid="candidates">{candidates_table(listed)}</div>'
            "<h3>Fairness audit: the list against the pool it came from</h3>"
            f'<div data-testid="fairness">{fairness_table(fairness)}</div>'
        )
