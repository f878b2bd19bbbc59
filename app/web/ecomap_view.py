"""The ecomap on screen: ECharts (shipped with Panel, no CDN) drawing positions computed in Python, filters in
Panel widgets (kinds, confidence, grouping, dates, hidden nodes), a node chooser and node table for the keyboard and
screen readers, the mentions behind a node with a way to open each at its span, expansion to other children, PNG /
GraphML / JSON export, and a link that restores the same view.

Two parts (decision 0043): ``main``, the map filling the width and the height of the window, with the exports, the
hidden nodes and the node table below it; and ``side``, the column beside the map with the filters, the node
chooser and the chosen node's details, so a click's answer shows next to the click. The child page puts ``side``
in its right-hand column, where the preview opens.

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
    GROUPABLE,
    GROUPED_AT_FIRST,
    KIND_STYLE,
    KINDS,
    Filters,
    Node,
    children_as_nodes,
    drawn,
    echarts_option,
    kind_of_group,
    summary,
    to_graphml,
    to_json,
    visible,
)
from app.web.render import SOURCE_WORDS, esc, html_pane

TABLE_ROWS = 200  # the node table lists the most-mentioned; the chooser reaches every node
SIDE_WIDTH = 560  # the column beside the map (the child page's preview column is as wide)
# The map fills the window's height less the header, the child's name and the section buttons above it (about
# 190 px at 14 px text), never shorter than a readable map.
MAP_HEIGHT = "calc(100vh - 200px)"
MAP_MIN_HEIGHT = 440
GROUP_WORDS = {"organisation": "group organisations", "school": "group schools", "address": "group addresses"}
# The PNG is made in the browser from the chart the worker sees (ECharts' own renderer, white behind it).
PNG_JS = """
const view = Bokeh.index.find_one(chart);
const instance = view && view._chart;
if (!instance) { return; }
const link = document.createElement("a");
link.href = instance.getDataURL({type: "png", pixelRatio: 2, backgroundColor: "#fff"});
link.download = filename;
document.body.appendChild(link);
link.click();
link.remove();
"""


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
        callback=lambda: io.BytesIO(text().encode("utf-8")), filename=filename, label=label, embed=False, width=190
    )


def _labelled(words: str, widget) -> pn.Column:
    """A group of toggle buttons under its name (Panel draws no title for a button group; each button names
    itself, so no label element points at a control it does not name)."""
    return pn.Column(html_pane(f'<span class="cl-group-name">{esc(words)}</span>', margin=(0, 5)), widget)


class EcomapView(pn.viewable.Viewer):
    kinds = param.ListSelector(default=list(KINDS), objects=list(KINDS))
    bands = param.ListSelector(default=list(BANDS), objects=list(BANDS))
    grouped = param.ListSelector(default=list(GROUPED_AT_FIRST), objects=list(GROUPABLE))
    seen_from = param.String(default="", doc="YYYY-MM-DD")
    seen_to = param.String(default="", doc="YYYY-MM-DD")
    hidden = param.List(default=[])
    expanded = param.List(default=[])
    selected = param.String(default="")
    reading = param.Boolean(default=False, doc="a mention is open in the preview (the details give way to it)")

    def __init__(
        self,
        child_id: str,
        child_label: str,
        nodes: list[Node],
        mentions: Callable[[str], list[dict]] | None = None,
        expand: Callable[[str], list[dict]] | None = None,
        open_source: Callable[..., None] | None = None,
        link_base: str = "/child",
        on_export: Callable[[str], None] | None = None,
        **params,
    ):
        super().__init__(**params)
        self.child_id, self.child_label, self.nodes = child_id, child_label, nodes
        self._mentions, self._expand, self._open = mentions, expand, open_source
        self._on_export = on_export
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
        self._grouped = pn.widgets.CheckButtonGroup.from_param(
            self.param.grouped, name="Grouped", options={GROUP_WORDS[k]: k for k in GROUPABLE}
        )
        self._from = pn.widgets.TextInput.from_param(
            self.param.seen_from, name="Seen from", placeholder="YYYY-MM-DD", width=125, description=None
        )
        self._to = pn.widgets.TextInput.from_param(
            self.param.seen_to, name="Seen to", placeholder="YYYY-MM-DD", width=125, description=None
        )
        self._chooser = pn.widgets.Select(name="Node", options=self._choices(), sizing_mode="stretch_width")
        self._show = pn.widgets.Button(name="Show mentions", width=135)
        self._hide = pn.widgets.Button(name="Hide this node", width=130)
        self._around = pn.widgets.Button(name="Other children around them", width=220, disabled=expand is None)
        self._back = pn.widgets.Button(name="Back to the mentions", width=230, visible=False)
        # The hidden nodes are ticked boxes, by name: untick one to show it again. The options must change before
        # the value does (the widget drops a value it has no option for), so their watcher comes before the link.
        self.param.watch(self._name_hidden, ["hidden", "expanded"])
        self._hidden = pn.widgets.CheckBoxGroup.from_param(
            self.param.hidden, name="Hidden nodes", options={}, inline=False
        )
        self._name_hidden()
        self._unhide = pn.widgets.Button(name="Show all hidden nodes", width=200)
        self._png = pn.widgets.Button(name="Download PNG", width=190)
        self._graphml = _download("Download GraphML", f"ecomap-{child_id}.graphml", self.graphml)
        self._json = _download("Download JSON", f"ecomap-{child_id}.json", self.json)
        self._link = pn.widgets.TextInput(name="Link to this view", value="", sizing_mode="stretch_width")
        self._count = html_pane("", sizing_mode="stretch_width", margin=0)
        self._chart = pn.pane.ECharts(
            {},
            sizing_mode="stretch_width",
            min_height=MAP_MIN_HEIGHT,
            styles={"height": MAP_HEIGHT},
            renderer="canvas",
            css_classes=["cl-ecomap-map"],
        )
        self._chart.on_event("click", self._clicked, "series.graph")
        self._png.js_on_click(args={"chart": self._chart, "filename": f"ecomap-{child_id}.png"}, code=PNG_JS)
        self._png.on_click(lambda _e: self._exported("png"))
        self._table = html_pane("", sizing_mode="stretch_width")
        self._details = pn.Column(sizing_mode="stretch_width", css_classes=["cl-ecomap-details"])

        self._show.on_click(lambda _e: self.select(self._chooser.value or ""))
        self._hide.on_click(lambda _e: self.hide(self._chooser.value))
        self._around.on_click(lambda _e: self.expand(self._chooser.value))
        self._back.on_click(lambda _e: setattr(self, "reading", False))
        self._unhide.on_click(lambda _e: setattr(self, "hidden", []))
        self.param.watch(
            self._redraw, ["kinds", "bands", "grouped", "seen_from", "seen_to", "hidden", "expanded", "selected"]
        )
        self.param.watch(self._show_mentions, ["selected"])
        self.param.watch(self._read, ["reading"])

        self.main = pn.Column(
            html_pane(f'<h2 class="cl-visually-hidden">Ecomap of {esc(child_label)}</h2>', margin=0),
            self._count,
            self._chart,
            pn.FlexBox(self._png, self._graphml, self._json),
            html_pane('<h3 class="cl-small-head">Hidden nodes (untick one to show it again)</h3>'),
            self._hidden,
            self._unhide,
            self._link,
            html_pane(key_html()),
            html_pane("<h3>Nodes shown (most mentioned first)</h3>"),
            self._table,
            sizing_mode="stretch_width",
            css_classes=["cl-ecomap-main"],
        )
        self.side = pn.Column(
            pn.FlexBox(
                _labelled("Kinds shown", self._kinds),
                _labelled("Confidence shown", self._bands),
                self._from,
                self._to,
                _labelled("Counted groups (click a group on the map to open it)", self._grouped),
                css_classes=["cl-ecomap-filters"],
            ),
            pn.Column(
                self._chooser,
                pn.FlexBox(self._show, self._hide, self._around, self._back),
                sizing_mode="stretch_width",
                css_classes=["cl-ecomap-node"],
            ),
            self._details,
            width=SIDE_WIDTH,
            css_classes=["cl-ecomap-side"],
        )
        self._redraw()
        self._show_mentions()

    def __panel__(self):
        return pn.Row(self.main, self.side, sizing_mode="stretch_width")

    # ---- state ----------------------------------------------------------------------------------------------
    def filters(self) -> Filters:
        return Filters(
            kinds=list(self.kinds),
            bands=list(self.bands),
            seen_from=_date_or_none(self.seen_from),
            seen_to=_date_or_none(self.seen_to),
            hidden=list(self.hidden),
            grouped=list(self.grouped),
        )

    def all_nodes(self) -> list[Node]:
        extra = [n for node_id in self.expanded for n in self._expansions.get(node_id, [])]
        return self.nodes + extra

    def shown(self) -> list[Node]:
        """The nodes the filters keep (a group's members among them): what the exports hold."""
        return visible(self.all_nodes(), self.filters())

    def drawn(self) -> list[Node]:
        """What the map draws: :meth:`shown` with the grouped kinds folded into counted nodes."""
        return drawn(self.all_nodes(), self.filters())

    def _choices(self) -> dict[str, str]:
        out: dict[str, str] = {"(choose a node)": ""}
        for n in sorted(self.all_nodes(), key=lambda n: (-n.mentions, n.label)):
            words = f"{n.label} · {n.kind}" + (f" · {n.relation}" if n.relation else "")
            out[words if words not in out else f"{words} · {n.node_id}"] = n.node_id
        return out

    def select(self, node_id: str) -> None:
        """Choose a node (a click, or the chooser): a node inside a group opens its kind, so it is drawn and marked."""
        node = self._by_id.get(node_id)
        if node is not None and node.kind in self.grouped and node.around is None:
            self.grouped = [k for k in self.grouped if k != node.kind]
        self.reading = False
        if self._chooser.value != node_id and node_id in self._chooser.options.values():
            self._chooser.value = node_id
        self.selected = node_id

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
        """The nodes the filters keep, as GraphML."""
        self._exported("graphml")
        return to_graphml(self.child_id, self.child_label, self.shown())

    def json(self) -> str:
        """The nodes the filters keep, with the filters, as JSON."""
        self._exported("json")
        return to_json(self.child_id, self.child_label, self.shown(), self.filters())

    def _exported(self, what: str) -> None:
        if self._on_export is not None:
            self._on_export(what)

    def link(self) -> str:
        """A link that opens this child's ecomap with the same filters (``pn.state.location.sync`` reads it)."""
        query = {"id": self.child_id, "tab": "ecomap"}
        if list(self.kinds) != list(KINDS):
            query["kinds"] = json.dumps(list(self.kinds))
        if list(self.bands) != list(BANDS):
            query["bands"] = json.dumps(list(self.bands))
        if list(self.grouped) != list(GROUPED_AT_FIRST):
            query["grouped"] = json.dumps(list(self.grouped))
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
        shown, everything = self.shown(), self.all_nodes()
        words = summary(self.filters(), shown, len(everything))
        # the chart is given the selection with the nodes: one option, so the highlight can never outlive a filter
        self._chart.object = echarts_option(
            self.child_id, self.child_label, self.drawn(), selected=self.selected or None, subtitle=words
        )
        self._count.object = (
            f'<p role="status" class="cl-visually-hidden" data-testid="node-count">{esc(words)}'
            f" around {esc(self.child_label)}.</p>"
        )
        rows = "".join(
            f"<tr><td>{esc(n.label)}</td><td>{esc(n.kind)}</td><td>{esc(n.relation)}</td><td>{esc(n.band)}</td>"
            f"<td>{n.mentions}</td><td>{esc(n.first_seen)}</td><td>{esc(n.last_seen)}</td></tr>"
            for n in sorted(shown, key=lambda n: (-n.mentions, n.label))[:TABLE_ROWS]
        )
        self._table.object = (
            '<table class="cl-table" data-testid="node-table"><caption class="cl-muted">Up to '
            f"{TABLE_ROWS} nodes, grouped ones too</caption><thead><tr><th>name</th><th>kind</th>"
            "<th>relationship</th><th>confidence</th><th>mentions</th><th>first seen</th><th>last seen</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>"
        )
        self._link.value = self.link()
        node = self._by_id.get(self.selected)
        if node is not None and _events and all(e.name != "selected" for e in _events) and len(self._details):
            self._details[0] = self._head(node)  # whether the chosen node is still drawn (no new service call)

    def _clicked(self, event):
        data = event.data if isinstance(event.data, dict) else {}
        node_id = (data.get("data") or {}).get("id") or data.get("id")
        kind = kind_of_group(node_id or "")
        if kind:  # a counted group: open it
            self.grouped = [k for k in self.grouped if k != kind]
        elif node_id and node_id in self._by_id:
            self.select(node_id)

    def _read(self, *_events):
        self._back.visible = self.reading
        self._details.visible = not self.reading

    def _open_mention(self, m: dict) -> None:
        self._open(m["source_type"], m["source_id"], m["page"], [(m["start"], m["end"])])
        self.reading = True

    def _head(self, node: Node):
        drawn_now = node.node_id in {n.node_id for n in self.shown()}
        return html_pane(
            f'<h3 data-testid="selected-node" class="cl-node-head">{esc(node.describe())}</h3>'
            + ("" if drawn_now else '<p class="cl-muted" role="status">Not drawn with the filters set now.</p>')
            + (f"<p>Recorded: {esc(', '.join(node.source_ids))}</p>" if node.evidence == "recorded" else ""),
            sizing_mode="stretch_width",
        )

    def _show_mentions(self, *_events):
        node = self._by_id.get(self.selected)
        if node is None:
            self._details[:] = [
                html_pane(
                    '<p class="cl-muted" data-testid="no-node">Click a person or a group on the map, or choose a node'
                    " above and press <i>Show mentions</i>: its details and mentions show here.</p>",
                    sizing_mode="stretch_width",
                )
            ]
            return
        head = self._head(node)
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
            button = pn.widgets.Button(name="Open at the mention", width=190, disabled=self._open is None)
            button.on_click(lambda _e, m=m: self._open_mention(m))
            items.append(pn.Column(html_pane(markup, sizing_mode="stretch_width"), button, sizing_mode="stretch_width"))
        self._details[:] = items
