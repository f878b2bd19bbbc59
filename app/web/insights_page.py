"""Adopter insights for an adoption agency: who adopts the children who wait longest (forest plots with their
intervals, both models, the themes read from the reports and what they caught), and for family finders the
approved households not yet matched, with the reasons in words, how often each was listed before, and the
list's fairness audit. Everything is read through the query service, which checks the role and audits it."""

from __future__ import annotations

import panel as pn
import polars as pl

from app.service import AccessDenied
from app.web.render import esc, html_pane
from app.web.shell import Context
from lake.insights.contract import COHORTS
from lake.insights.effects import WITH_PREFERENCES, WITHOUT_PREFERENCES
from lake.insights.report import (
    CAVEATS,
    EFFECT_COLUMNS,
    EFFECT_FORMATS,
    PLOT_KEY,
    candidates_table,
    fairness_table,
    forest_plot,
    groups_table,
    table_html,
    themes_table,
)

COHORT_WORDS = {c.label.capitalize(): c.name for c in COHORTS}


class AdopterInsightsPage(pn.viewable.Viewer):
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
        self.cohort = pn.widgets.RadioButtonGroup(
            name="Waiting cohort", options=list(COHORT_WORDS), value=next(iter(COHORT_WORDS)), button_type="primary"
        )
        self.model = pn.widgets.RadioButtonGroup(
            name="Model",
            options={"Without stated preferences": WITHOUT_PREFERENCES, "With stated preferences": WITH_PREFERENCES},
            value=WITHOUT_PREFERENCES,
        )
        self._plot = html_pane("", sizing_mode="stretch_width")
        self._list = html_pane("", sizing_mode="stretch_width")
        self.cohort.param.watch(lambda _e: self._render(), "value")
        self.model.param.watch(lambda _e: self._render(), "value")
        caveats = "".join(f"<li>{esc(c)}</li>" for c in CAVEATS)
        themes, groups = themes_table(self.insights.themes), groups_table(self.insights.groups)
        self._layout = pn.Column(
            html_pane(
                "<h1>Adopter insights</h1>"
                f'<section aria-label="Read this first" class="cl-caveats"><h2>Read this first</h2><ul>{caveats}</ul></section>'
            ),
            pn.Row(self.cohort, self.model),
            self._plot,
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
        cohort = COHORT_WORDS[self.cohort.value]
        effects = self.insights.effects
        title = (
            f"Adopting {self.cohort.value.lower()}: odds ratios, 95% profile-likelihood intervals ({self.model.value})"
        )
        rows = effects.filter((pl.col("cohort") == cohort) & (pl.col("model") == self.model.value))
        self._plot.object = (
            f'<figure data-testid="forest-plot" data-cohort="{esc(cohort)}">'
            f"{forest_plot(effects, cohort, title, self.model.value)}<figcaption>{PLOT_KEY}</figcaption></figure>"
            f'<details><summary>The numbers behind the plot</summary><div data-testid="effects">'
            f"{table_html(rows, EFFECT_COLUMNS, EFFECT_FORMATS)}</div></details>"
        )
        if not self.ctx.session.role.reads_adopter_list:
            self._list.object = "<p>The list of approved households is for family finders.</p>"
            return
        listed = self.insights.candidates.filter(pl.col("cohort") == cohort)
        fairness = self.insights.fairness.filter(pl.col("cohort") == cohort)
        self._list.object = (
            f"<h2>Approved households not yet matched, open to {esc(self.cohort.value.lower())}</h2>"
            "<p>Ranked by the estimated chance that such a household adopts such a child, from characteristics "
            "that are not protected and the report themes. The band is the estimate's 95% interval. "
            "A household listed many times before may need a conversation, not another listing.</p>"
            f'<div data-testid="candidates">{candidates_table(listed)}</div>'
            "<h3>Fairness audit: the list against the pool it came from</h3>"
            f'<div data-testid="fairness">{fairness_table(fairness)}</div>'
        )
