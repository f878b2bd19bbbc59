"""The search page: one box, results most relevant first (or newest / oldest first), the active filters as
removable chips, and a preview in place. The query runs in the service with the user's scope inside it.

The search (words, filters, sort, page) is kept in the URL, so a reload, a shared link or Back from a child's
page comes back to the same results; a child the query names shows as a chip that lifts that scope."""

from __future__ import annotations

import datetime as dt
import time

import panel as pn
import param

from app.service import AccessDenied
from app.web.preview import Preview
from app.web.render import SOURCE_WORDS, child_text, child_words, dates_html, esc, html_pane
from app.web.shell import Context
from lake.contracts.codes import CIN_FACTOR, STRENGTH, factor_meaning
from lake.search.query import Hit, InvalidRequest, SearchFilters, SearchRequest

PAGE_SIZE = 20
# parameter -> its name in the URL (``pn.state.location.sync``)
URL_STATE = {
    "text": "q",
    "sort": "sort",
    "child": "child",
    "source_types": "kind",
    "item_types": "type",
    "event_from": "from",
    "event_to": "to",
    "factor": "factor",
    "page": "page",
    "read_names": "names",
}
SORTS = {"Most relevant first": "relevance", "Newest first": "newest", "Oldest first": "oldest"}
FACTORS = {"Any factor or strength": ""} | {
    f"{code} · {factor_meaning(code)}": code for code in [*CIN_FACTOR, *(f"S:{s}" for s in STRENGTH)]
}
REASON_WORDS = {"words": "the words", "meaning": "the meaning", "person": "a resolved person", "type": "the type"}


def why(hit: Hit) -> str:
    """Why a hit matched, in words (the reasons come from the search module)."""
    out = []
    for reason in hit.reasons:
        head, _, rest = reason.partition(":")
        out.append(REASON_WORDS.get(head.strip(), head.strip()) + (f": {rest.strip()}" if rest else ""))
    return "; ".join(out) or "—"


def _date(text: str) -> dt.date | None:
    """A typed date, or none; the service refuses anything that is not one (and the page shows why)."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"{text!r} is not a date (YYYY-MM-DD)") from None


CLICK_AFTER_BLUR_S = 1.0  # a Search click this soon after the box's change searched is that same search


class SearchPage(pn.viewable.Viewer):
    text = param.String(default="")
    sort = param.Selector(default="relevance", objects=list(SORTS.values()))
    child = param.String(default="")
    source_types = param.List(default=[])
    item_types = param.List(default=[])
    event_from = param.String(default="", doc="YYYY-MM-DD")
    event_to = param.String(default="", doc="YYYY-MM-DD")
    factor = param.String(default="", doc="A CIN census factor code or a strength the records state as current")
    page = param.Integer(default=1, bounds=(1, None))
    read_names = param.Boolean(default=True, doc="Scope the search to a child the words name")

    def __init__(self, ctx: Context, **params):
        super().__init__(**params)
        self.ctx = ctx
        self.preview = Preview(ctx)
        profiles = ctx.profiles()
        options = ctx.service.search_options(ctx.session)
        # the types as a reader names them: "Safety plan" stands for the "safety plan" documents and the
        # "Safety Planning" notes (what the filter sends is every type under the label)
        self._type_groups: dict[str, tuple[str, ...]] = options.get("type_groups") or {
            t: (t,) for t in options["item_types"]
        }
        if pn.state.location is not None:
            # before the widgets and watchers: a link (or Back) opens the search it names, searched once
            pn.state.location.sync(self, URL_STATE)
        self._child_options = {"Any child": ""} | {
            child_text(p, cid): cid for cid, p in sorted(profiles.items(), key=lambda kv: (kv[1]["name"] or "", kv[0]))
        }
        self._box = pn.widgets.TextInput(
            name="Search the records", placeholder="e.g. safety plan Jordan Smith", sizing_mode="stretch_width"
        )
        self._go = pn.widgets.Button(name="Search", button_type="primary", width=100, align="end")
        # Each filter widget is made from its parameter and stays linked to it both ways, so a chip's ✕ (which
        # clears the parameter) clears the widget too. ``description=None``: a parameter's doc is no tooltip.
        self._sort = pn.widgets.RadioButtonGroup.from_param(self.param.sort, name="Order", options=SORTS)
        self._child = pn.widgets.Select.from_param(
            self.param.child, name="Child", options=self._child_options, width=320
        )
        self._sources = pn.widgets.CheckButtonGroup.from_param(
            self.param.source_types,
            name="Kind of record",
            options={SOURCE_WORDS[s]: s for s in options["source_types"]},
            align="end",
        )
        self._types = pn.widgets.MultiChoice.from_param(
            self.param.item_types, name="Type", options=list(self._type_groups), width=320
        )
        self._from = pn.widgets.TextInput.from_param(
            self.param.event_from, name="Event date from", placeholder="YYYY-MM-DD", width=160, description=None
        )
        self._to = pn.widgets.TextInput.from_param(
            self.param.event_to, name="Event date to", placeholder="YYYY-MM-DD", width=160, description=None
        )
        self._factor = pn.widgets.Select.from_param(
            self.param.factor, name="Concern or strength stated", options=FACTORS, width=320, description=None
        )
        self._chips = pn.Row(sizing_mode="stretch_width")
        self._status = html_pane("", sizing_mode="stretch_width")
        self._results = pn.Column(sizing_mode="stretch_width")
        self._previous = pn.widgets.Button(name="Previous page", width=140, visible=False)
        self._next = pn.widgets.Button(name="Next page", width=140, visible=False)
        self._previous.on_click(lambda _e: setattr(self, "page", max(1, self.page - 1)))
        self._next.on_click(lambda _e: setattr(self, "page", self.page + 1))
        self._box.value = self.text
        self._box_searched_at = -1.0
        self._scoped: list[str] = []
        self._go.on_click(lambda _e: self._press_search())
        self._box.param.watch(lambda _e: self._take_box(), "value")
        # a new search starts at its first page and reads the names again; a new sort keeps the set, from page 1
        self.param.watch(
            self._new_search,
            ["text", "sort", "child", "source_types", "item_types", "event_from", "event_to", "factor"],
        )
        self.param.watch(self._run, ["page", "read_names"])
        self._layout = pn.Row(
            pn.Column(
                html_pane("<h1>Search</h1>"),
                pn.Row(self._box, self._go, sizing_mode="stretch_width"),
                self._sort,
                # Wraps onto a second line: the five filters are wider than this column beside the preview, and in
                # a row the dates ran under the preview (unreachable at 1500 px).
                pn.FlexBox(
                    self._child,
                    self._sources,
                    self._types,
                    self._from,
                    self._to,
                    self._factor,
                    flex_wrap="wrap",
                    align_items="flex-end",
                    sizing_mode="stretch_width",
                ),
                self._chips,
                self._status,
                self._results,
                pn.Row(self._previous, self._next),
                sizing_mode="stretch_width",
            ),
            pn.Column(self.preview, width=620, styles={"position": "sticky", "top": "0", "align-self": "flex-start"}),
            sizing_mode="stretch_width",
        )
        self._run()

    def __panel__(self):
        return self._layout

    def _new_search(self, *events):
        """A new search starts at its first page (and, for new words, reads their names again): one search, run by
        the watcher of whichever of those changes, else here. (Several events come together from a batch: *Clear
        all filters*.)"""
        reset = {"page": 1} | ({"read_names": True} if any(e.name == "text" for e in events) else {})
        if any(getattr(self, k) != v for k, v in reset.items()):
            self.param.update(reset)
        else:
            self._run()

    def _take_box(self):
        """The box's words changed (Enter, or the box losing focus): search them."""
        if self.text != self._box.value:
            self.text = self._box.value  # the watcher on ``text`` runs the search, once
        else:
            self._run()
        # from when that search is shown: on a busy server it can take longer than the gap to the click
        self._box_searched_at = time.monotonic()

    def _press_search(self):
        """The Search button. A click first takes focus from the box, whose change has just searched these
        words: that was this click's search (it was run, and audited, twice). Pressed again later, it searches
        again."""
        if self.text == self._box.value and time.monotonic() - self._box_searched_at < CLICK_AFTER_BLUR_S:
            return
        self._take_box()

    # ---- the filters as chips ----------------------------------------------------------------------------
    def _filters(self) -> SearchFilters:
        return SearchFilters(
            child_ids=(self.child,) if self.child else (),
            event_from=_date(self.event_from),
            event_to=_date(self.event_to),
            source_types=tuple(self.source_types),
            item_types=tuple(t for label in self.item_types for t in self._type_groups.get(label, (label,))),
            factor=self.factor or None,
        )

    def _chip(self, words: str, clear) -> pn.widgets.Button:
        button = pn.widgets.Button(name=f"{words} ✕", button_type="light", description="Remove this filter")
        button.on_click(lambda _e: clear())
        return button

    def _render_chips(self, scoped: list[str] = ()):
        chips = []
        for cid in scoped:
            label = next((k for k, v in self._child_options.items() if v == cid), cid)
            chips.append(self._chip(f"Child named in the words: {label}", lambda: setattr(self, "read_names", False)))
        if self.child:
            label = next((k for k, v in self._child_options.items() if v == self.child), self.child)
            chips.append(self._chip(f"Child: {label}", lambda: setattr(self, "child", "")))
        for s in self.source_types:
            chips.append(self._chip(f"Kind: {SOURCE_WORDS.get(s, s)}", lambda s=s: self._drop("source_types", s)))
        for t in self.item_types:
            chips.append(self._chip(f"Type: {t}", lambda t=t: self._drop("item_types", t)))
        if self.event_from:
            chips.append(self._chip(f"Event from {self.event_from}", lambda: setattr(self, "event_from", "")))
        if self.event_to:
            chips.append(self._chip(f"Event to {self.event_to}", lambda: setattr(self, "event_to", "")))
        if self.factor:
            chips.append(self._chip(f"Stated: {self.factor}", lambda: setattr(self, "factor", "")))
        if chips and (len(chips) > len(scoped) or self.child):
            clear = pn.widgets.Button(name="Clear all filters", button_type="warning")
            clear.on_click(lambda _e: self._clear_all())
            chips = [*chips, clear]
        self._chips[:] = [html_pane("<b>Active filters:</b>"), *chips] if chips else []

    def _drop(self, name: str, value: str):
        setattr(self, name, [v for v in getattr(self, name) if v != value])

    def _clear_all(self):
        with param.parameterized.batch_call_watchers(self):
            self.param.update(child="", source_types=[], item_types=[], event_from="", event_to="", factor="")

    # ---- searching ---------------------------------------------------------------------------------------
    def _run(self, *_events):
        # the child chips the last search's words gave stay until this one says otherwise (redrawn without them,
        # a page read mid-search would see them gone)
        self._render_chips(self._scoped if self.read_names else [])
        try:
            filters = self._filters()
        except InvalidRequest as exc:
            self._status.object = f'<p role="alert">{esc(exc)}</p>'
            self._results[:] = []
            return
        self._previous.visible = self._next.visible = False
        if not self.text.strip() and filters == SearchFilters() and self.sort == "relevance":
            self._status.object = '<p class="cl-muted">Type words, a name or a type of record, or choose filters.</p>'
            self._results[:] = []
            return
        request = SearchRequest(
            text=self.text,
            sort=self.sort,
            filters=filters,
            limit=PAGE_SIZE,
            offset=(self.page - 1) * PAGE_SIZE,
            read_names=self.read_names,
        )
        try:
            result = self.ctx.service.search(self.ctx.session, request)
        except (InvalidRequest, AccessDenied) as exc:
            self._status.object = f'<p role="alert">{esc(exc)}</p>'
            self._results[:] = []
            return
        self._scoped = result.scoped
        self._render_chips(result.scoped)
        people = "".join(f"<li>{esc(p)}</li>" for p in result.people)
        order = next(k for k, v in SORTS.items() if v == self.sort).lower()
        if self.sort != "relevance":
            order += " (by each record's own date, else the date it was recorded)"
        if result.types:
            named = [label for label, members in self._type_groups.items() if set(members) & set(result.types)]
            order += "; " + ", ".join(named or result.types) + " first, documents before notes"
        first = (self.page - 1) * PAGE_SIZE
        shown = f"{first + 1}–{first + len(result.hits)} of {result.total}" if result.hits else "0"
        read_as = "".join(f"<li>{esc(r)}</li>" for r in result.read_as)
        self._status.object = (
            f'<p role="status" data-testid="result-count">{result.total} results, {esc(order)}. Showing {shown}.</p>'
            + (
                '<p role="status" data-testid="nothing-close"><b>Nothing close to this.</b> No record holds these '
                "words or is near them in meaning; the nearest are below.</p>"
                if result.weak
                else ""
            )
            + (f'<p>Names read from the words:</p><ul data-testid="read-as">{read_as}</ul>' if read_as else "")
            + (f"<p>People found by name:</p><ul>{people}</ul>" if people else "")
        )
        self._results[:] = [self._card(first + i, hit) for i, hit in enumerate(result.hits)]
        self._previous.visible = self.page > 1
        self._next.visible = first + len(result.hits) < result.total

    def _card(self, rank: int, hit: Hit) -> pn.Column:
        who = child_words(self.ctx.profiles().get(hit.child_id), hit.child_id)
        page = f" · page {hit.page}" if hit.source_type == "document_page" else ""
        title = f" · {esc(hit.title)}" if hit.title and hit.title != hit.item_type else ""
        markup = f"""<article class="cl-hit" data-testid="hit" data-source="{esc(hit.source_type)}:{esc(hit.record_id)}">
<h3>{rank + 1}. {esc(SOURCE_WORDS.get(hit.source_type, hit.source_type))} · {esc(hit.item_type)}
{title}{page}</h3>
<div>Child: <a href="/child?id={esc(hit.child_id)}" data-testid="hit-child">{who}</a></div>
<div data-testid="hit-date">Dated <b>{esc(hit.date, "not given")}</b> ({esc(hit.date_basis)})</div>
<div>{dates_html(hit.event_date, hit.recorded_date)} · author {esc(hit.author, "unknown")}</div>
<div>{hit.snippet_html}</div>
<div class="cl-why">Matched on {esc(why(hit))}</div></article>"""
        open_button = pn.widgets.Button(name="Preview", description=f"Preview result {rank + 1}", width=100)
        open_button.on_click(
            lambda _e: self.preview.show(hit.source_type, hit.source_id, hit.page, list(hit.highlights))
        )
        return pn.Column(html_pane(markup, sizing_mode="stretch_width"), open_button, sizing_mode="stretch_width")
