"""The ecomap on screen: ECharts (shipped with Panel, no CDN) drawing positions computed in Python, filters in
Panel widgets (kinds, confidence, dates, hidden nodes), a node chooser and node table for the keyboard and screen
readers, the mentions behind a node with a way to open each at its span, expansion to other children, PNG /
GraphML / JSON export, and a link that restores the same view.

It takes its data and actions as arguments (nodes, and callables for mentions, expansion and opening a source),
so the same view draws a child's map from the service and a synthetic 5,000-node map in the benchmark."""

from __future__ import annotations

import datetime as dt
import io
import json
import urllib.parse
from collections.abc import Callable

import panel as pn
import param

from app.ecomap import (
    BAND_STYLE,
    BANDS,
    KIND_STYLE,
    KINDS,
    Filters,
    Node,
    children_as_nodes,
    echarts_option,
    to_graphml,
    to_json,
    visible,
)
from app.web.render import SOURCE_WORDS, esc, html_pane

TABLE_ROWS = 200  # the node table lists the most-mentioned; the chooser reaches every node


def key_html() -> str:
    """The colour key: each kind with its shape drawn (SVG) and named, each band with its line and ring named."""
    shapes = {
        "circle": '<circle cx="7" cy="7" r="6"/>',
        "rect": '<rect x="1" y="1" width="12" height="12"/>',
        "triangle": '<polygon points="7,1 13,13 1,13"/>',
        "diamond": '<polygon points="7,0 14,7 7,14 0,7"/>',
        "roundRect": '<rect x="1" y="1" width="12" height="12" rx="3"/>',
    }
    kinds = "".join(
        f'<li><svg width="14" height="14" aria-hidden="true" fill="{colour}">{shapes[symbol]}</svg> {esc(words)}</li>'
        for colour, symbol, words in KIND_STYLE.values()
    )
    dash = {"solid": "", "dashed": ' stroke-dasharray="5,3"', "dotted": ' stroke-dasharray="1,3"'}
    bands = "".join(
        f'<li><svg width="30" height="8" aria-hidden="true"><line x1="0" y1="4" x2="30" y2="4" stroke="#333"'
        f' stroke-width="2"{dash[line]}/></svg> {esc(words)}</li>'
        for _radius, line, words in BAND_STYLE.values()
    )
    return (
        '<section class="cl-key" aria-label="Key"><b>Key</b> — the child is the black pin in the middle.'
        f'<ul style="list-style:none;padding-left:0;columns:2">{kinds}</ul><b>Confidence</b>'
        f'<ul style="list-style:none;padding-left:0">{bands}</ul></section>'
    )


def _date_or_none(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _download(label: str, filename: str, text: Callable[[], str]) -> pn.widgets.FileDownload:
    """A button that downloads what ``text()`` returns when pressed (made then, for what is drawn then)."""
    return pn.widgets.FileDownload(
        callback=lambda: io.BytesIO(text().encode("utf-8")), filename=filename, label=label, embed=False, width=180
    )


class EcomapView(pn.viewable.Viewer):
    kinds = param.ListSelector(default=list(KINDS), objects=list(KINDS))
    bands = param.ListSelector(default=list(BANDS), objects=list(BANDS))
    seen_from = param.String(default="", doc="YYYY-MM-DD")
    seen_to = param.String(default="", doc="YYYY-MM-DD")
    hidden = param.List(default=[])
    expanded = param.List(default=[])
    selected = param.String(default="")

    def __init__(
        self,
        child_id: str,
        child_label: str,
        nodes: list[Node],
        mentions: Callable[[str], list[dict]] | None = None,
        expand: Callable[[str], list[dict]] | None = None,
        open_source: Callable[..., None] | None = None,
        link_base: str = "/child",
        **params,
    ):
        super().__init__(**params)
        self.child_id, self.child_label, self.nodes = child_id, child_label, nodes
        self._mentions, self._expand, self._open = mentions, expand, open_source
        self._expansions: dict[str, list[Node]] = {}
        self.link_base = link_base
        self._by_id = {n.node_id: n for n in nodes}

        # The filter widgets are made from their parameters and stay linked to them both ways, so the link to this
        # view (``pn.state.location.sync`` sets the parameters) shows in the widgets. ``description=None``: a
        # parameter's doc is no tooltip.
        self._kinds = pn.widgets.CheckButtonGroup.from_param(self.param.kinds, name="Kinds shown", options=list(KINDS))
        self._bands = pn.widgets.CheckButtonGroup.from_param(
            self.param.bands, name="Confidence shown", options=list(BANDS)
        )
        self._from = pn.widgets.TextInput.from_param(
            self.param.seen_from, name="Seen from", placeholder="YYYY-MM-DD", width=150, description=None
        )
        self._to = pn.widgets.TextInput.from_param(
            self.param.seen_to, name="Seen to", placeholder="YYYY-MM-DD", width=150, description=None
        )
        self._chooser = pn.widgets.Select(name="Node", options=self._choices(), width=380)
        self._show = pn.widgets.Button(name="Show mentions", width=140)
        self._hide = pn.widgets.Button(name="Hide this node", width=140)
        self._around = pn.widgets.Button(name="Other children around them", width=220, disabled=expand is None)
        # The hidden box offers only the hidden nodes, by name. Its options must change before its value does (the
        # widget drops a value it has no option for), so their watcher is registered before the widget's link.
        self.param.watch(self._name_hidden, ["hidden", "expanded"])
        self._hidden = pn.widgets.MultiChoice.from_param(
            self.param.hidden, name="Hidden nodes (remove to show again)", options={}, width=380
        )
        self._name_hidden()
        self._unhide = pn.widgets.Button(name="Show all hidden nodes", width=200)
        self._graphml = _download("Download GraphML", f"ecomap-{child_id}.graphml", self.graphml)
        self._json = _download("Download JSON", f"ecomap-{child_id}.json", self.json)
        self._link = pn.widgets.TextInput(name="Link to this view", value="", sizing_mode="stretch_width")
        self._count = html_pane("", sizing_mode="stretch_width")
        self._chart = pn.pane.ECharts({}, height=620, sizing_mode="stretch_width", renderer="canvas")
        self._chart.on_event("click", self._clicked, "series.graph")
        self._table = html_pane("", sizing_mode="stretch_width")
        self._mention_list = pn.Column(sizing_mode="stretch_width")

        self._show.on_click(lambda _e: setattr(self, "selected", self._chooser.value or ""))
        self._hide.on_click(lambda _e: self.hide(self._chooser.value))
        self._around.on_click(lambda _e: self.expand(self._chooser.value))
        self._unhide.on_click(lambda _e: setattr(self, "hidden", []))
        self.param.watch(self._redraw, ["kinds", "bands", "seen_from", "seen_to", "hidden", "expanded"])
        self.param.watch(self._show_mentions, ["selected"])

        self._layout = pn.Column(
            html_pane(f"<h2>Ecomap of {esc(child_label)}</h2>"),
            pn.Row(self._kinds, self._bands, self._from, self._to),
            pn.Row(self._chooser, self._show, self._hide, self._around, align="end"),
            pn.Row(self._hidden, self._unhide),
            self._count,
            pn.Row(self._chart, html_pane(key_html(), width=330), sizing_mode="stretch_width"),
            pn.Row(self._graphml, self._json, html_pane("PNG: the camera icon at the top right of the map.")),
            self._link,
            html_pane("<h3>Mentions of the chosen node</h3>"),
            self._mention_list,
            html_pane("<h3>Nodes shown (most mentioned first)</h3>"),
            self._table,
            sizing_mode="stretch_width",
        )
        self._redraw()

    def __panel__(self):
        return self._layout

    # ---- state ----------------------------------------------------------------------------------------------
    def filters(self) -> Filters:
        return Filters(
            kinds=list(self.kinds),
            bands=list(self.bands),
            seen_from=_date_or_none(self.seen_from),
            seen_to=_date_or_none(self.seen_to),
            hidden=list(self.hidden),
        )

    def all_nodes(self) -> list[Node]:
        extra = [n for node_id in self.expanded for n in self._expansions.get(node_id, [])]
        return self.nodes + extra

    def shown(self) -> list[Node]:
        return visible(self.all_nodes(), self.filters())

    def _choices(self) -> dict[str, str]:
        out: dict[str, str] = {"(choose a node)": ""}
        for n in sorted(self.all_nodes(), key=lambda n: (-n.mentions, n.label)):
            words = f"{n.label} · {n.kind}" + (f" · {n.relation}" if n.relation else "")
            out[words if words not in out else f"{words} · {n.node_id}"] = n.node_id
        return out

    def hide(self, node_id: str | None):
        if node_id and node_id not in self.hidden:
            self.hidden = [*self.hidden, node_id]

    def expand(self, node_id: str | None):
        if not node_id or self._expand is None or node_id in self.expanded:
            return
        self._expansions[node_id] = children_as_nodes(node_id, self._expand(node_id))
        for n in self._expansions[node_id]:
            self._by_id.setdefault(n.node_id, n)
        self._chooser.options = self._choices()
        self.expanded = [*self.expanded, node_id]

    def graphml(self) -> str:
        """What is drawn now, as GraphML."""
        return to_graphml(self.child_id, self.child_label, self.shown())

    def json(self) -> str:
        """What is drawn now, with the filters, as JSON."""
        return to_json(self.child_id, self.child_label, self.shown(), self.filters())

    def link(self) -> str:
        """A link that opens this child's ecomap with the same filters (``pn.state.location.sync`` reads it)."""
        query = {"id": self.child_id, "tab": "ecomap"}
        if list(self.kinds) != list(KINDS):
            query["kinds"] = json.dumps(list(self.kinds))
        if list(self.bands) != list(BANDS):
            query["bands"] = json.dumps(list(self.bands))
        for name in ("seen_from", "seen_to"):
            if getattr(self, name):
                query[name] = getattr(self, name)
        if self.hidden:
            query["hidden"] = json.dumps(list(self.hidden))
        return f"{self.link_base}?{urllib.parse.urlencode(query)}"

    # ---- drawing -----------------------------------------------------------------------------------------------
    def _name_hidden(self, *_events):
        self._hidden.options = {self._by_id[h].label if h in self._by_id else h: h for h in self.hidden}

    def _redraw(self, *_events):
        nodes = self.shown()
        self._chart.object = echarts_option(self.child_id, self.child_label, nodes)
        self._count.object = (
            f'<p role="status" data-testid="node-count">Showing {len(nodes)} of {len(self.all_nodes())} nodes'
            f" around {esc(self.child_label)}.</p>"
        )
        rows = "".join(
            f"<tr><td>{esc(n.label)}</td><td>{esc(n.kind)}</td><td>{esc(n.relation)}</td><td>{esc(n.band)}</td>"
            f"<td>{n.mentions}</td><td>{esc(n.first_seen)}</td><td>{esc(n.last_seen)}</td></tr>"
            for n in sorted(nodes, key=lambda n: (-n.mentions, n.label))[:TABLE_ROWS]
        )
        self._table.object = (
            '<table class="cl-table" data-testid="node-table"><caption class="cl-muted">Up to '
            f"{TABLE_ROWS} nodes</caption><thead><tr><th>name</th><th>kind</th><th>relationship</th>"
            "<th>confidence</th><th>mentions</th><th>first seen</th><th>last seen</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
        self._link.value = self.link()

    def _clicked(self, event):
        data = event.data if isinstance(event.data, dict) else {}
        node_id = (data.get("data") or {}).get("id") or data.get("id")
        if node_id and node_id in self._by_id:
            self._chooser.value = node_id
            self.selected = node_id

    def _show_mentions(self, *_events):
        node = self._by_id.get(self.selected)
        if node is None:
            self._mention_list[:] = []
            return
        head = html_pane(
            f'<p data-testid="selected-node"><b>{esc(node.describe())}</b></p>'
            + (f"<p>Recorded: {esc(', '.join(node.source_ids))}</p>" if node.evidence == "recorded" else ""),
            sizing_mode="stretch_width",
        )
        found = self._mentions(node.node_id) if (self._mentions and node.kind != "child") else []
        items = [head]
        if not found and node.kind != "child":
            items.append(html_pane('<p class="cl-muted">No mentions in the text: a recorded relationship.</p>'))
        for m in found:
            where = SOURCE_WORDS.get(m["source_type"], m["source_type"])
            page = f" page {m['page']}" if m["source_type"] == "document_page" else ""
            markup = (
                f'<div class="cl-hit" data-testid="mention"><b>{esc(where)}{page}</b> · '
                f"dated <b>{esc(m.get('mention_date'), 'not given')}</b> (the record's event date, else its"
                f" recording date) · found by {esc(m.get('method'))}"
                f"<div>{m.get('snippet_html') or esc(m.get('mention_text'))}</div></div>"
            )
            button = pn.widgets.Button(name="Open at the mention", width=180, disabled=self._open is None)
            button.on_click(
                lambda _e, m=m: self._open(m["source_type"], m["source_id"], m["page"], [(m["start"], m["end"])])
            )
            items.append(pn.Column(html_pane(markup, sizing_mode="stretch_width"), button))
        self._mention_list[:] = items
