"""The child page: the profile (names and genders with the dates each changed, age, locality, legal status,
placement, allocated worker), the timeline with event and recording dates labelled, and the ecomap; every
entry and mention opens its source in the preview beside them. A child outside the user's scope, or no child at
all, gets the same answer: not available."""

from __future__ import annotations

import panel as pn
import param

from app.ecomap import nodes_from_edges
from app.service import AccessDenied
from app.web.concerns_view import ConcernsView
from app.web.ecomap_view import EcomapView
from app.web.preview import Preview
from app.web.render import child_words, esc, html_pane
from app.web.shell import Context

TIMELINE_PAGE = 50
OPENS = {"case_note": "case_note", "document": "document_page", "form_response": "form_response"}


def _table(rows: list[dict], columns: list[tuple[str, str]], caption: str) -> str:
    head = "".join(f"<th>{esc(words)}</th>" for _key, words in columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(r.get(key))}</td>" for key, _ in columns) + "</tr>" for r in rows)
    return (
        f'<table class="cl-table"><caption>{esc(caption)}</caption><thead><tr>{head}</tr></thead>'
        f"<tbody>{body or '<tr><td>none recorded</td></tr>'}</tbody></table>"
    )


def profile_html(profile: dict) -> str:
    episodes = profile.get("episodes", [])
    current = [e for e in episodes if e.get("end_date") is None]
    legal = ", ".join(f"{e['kind']} {e['code']}" for e in current) or "no open episode"
    placements = [p for p in profile.get("placements", []) if p.get("end_date") is None]
    placement = (
        ", ".join(
            f"{p['placement_type']} ({p.get('placement_provider') or 'provider not recorded'})" for p in placements
        )
        or "not placed"
    )
    return f"""<section aria-label="Profile"><h2>Profile</h2>
<dl>
<dt>Name</dt><dd data-testid="child-name">{esc(profile.get("name"))}</dd>
<dt>Age</dt><dd data-testid="child-age">{esc(profile.get("age"), "unknown")} (born {
        esc(profile.get("dob"), "unknown")
    })</dd>
<dt>Locality</dt><dd data-testid="child-locality">{esc(profile.get("locality"), "unknown")}</dd>
<dt>Gender</dt><dd>{esc(profile.get("gender"))}</dd>
<dt>Legal status (open episodes)</dt><dd>{esc(legal)}</dd>
<dt>Placement</dt><dd>{esc(placement)}</dd>
<dt>Allocated worker</dt><dd>{esc(profile.get("allocated_worker"), "none")}</dd>
</dl>
{
        _table(
            profile.get("names", []),
            [
                ("first_name", "first name"),
                ("surname", "surname"),
                ("reason", "reason"),
                ("valid_from", "from"),
                ("valid_to", "to"),
            ],
            "Names held, with the dates each changed",
        )
    }
{
        _table(
            profile.get("genders", []),
            [("gender", "gender"), ("valid_from", "from"), ("valid_to", "to")],
            "Gender recorded, with the dates it changed",
        )
    }
{
        _table(
            episodes,
            [
                ("kind", "kind"),
                ("code", "legal status"),
                ("start_date", "start"),
                ("end_date", "end"),
                ("reason_new", "reason"),
            ],
            "Episodes",
        )
    }
</section>"""


class Timeline(pn.viewable.Viewer):
    kinds = param.List(default=[])
    page = param.Integer(default=0, bounds=(0, None))

    def __init__(self, events: list[dict], open_source, **params):
        super().__init__(**params)
        self.events, self._open = events, open_source
        kinds = sorted({e["event_type"] for e in events})
        # ticked boxes, each a native checkbox its own label names (a MultiChoice's label points at a hidden select)
        self._kinds = pn.widgets.CheckBoxGroup.from_param(self.param.kinds, options=kinds, inline=True)
        self._prev = pn.widgets.Button(name="Newer entries", width=140)
        self._next = pn.widgets.Button(name="Older entries", width=140)
        self._prev.on_click(lambda _e: setattr(self, "page", max(self.page - 1, 0)))
        self._next.on_click(lambda _e: setattr(self, "page", self.page + 1))
        self._status = html_pane("")
        self._rows = pn.Column(sizing_mode="stretch_width")
        self.param.watch(lambda _e: setattr(self, "page", 0), ["kinds"])
        self.param.watch(self._render, ["kinds", "page"])
        self._layout = pn.Column(
            html_pane("<h2>Timeline</h2><p>Kinds of entry (none ticked: all)</p>"),
            self._kinds,
            self._status,
            pn.Row(self._prev, self._next),
            self._rows,
            sizing_mode="stretch_width",
        )
        self._render()

    def __panel__(self):
        return self._layout

    def _render(self, *_events):
        chosen = [e for e in self.events if not self.kinds or e["event_type"] in self.kinds]
        start = self.page * TIMELINE_PAGE
        rows = chosen[start : start + TIMELINE_PAGE]
        self._prev.disabled, self._next.disabled = self.page == 0, start + TIMELINE_PAGE >= len(chosen)
        self._status.object = (
            f'<p role="status" data-testid="timeline-count">{len(chosen)} entries; showing {start + 1 if rows else 0}'
            f"–{start + len(rows)}, newest first. The date shown is the event date where there is one; otherwise"
            " the recording date, and each says which.</p>"
        )
        items = []
        for e in rows:
            markup = (
                f'<div class="cl-hit" data-testid="timeline-entry"><b>{esc(e["timeline_date"], "undated")}</b>'
                f" ({esc(e['timeline_date_is'])}) · {esc(e['event_type'])} · {esc(e['event_subtype'], '')}"
                f"<div>{esc(e['summary'], '')}</div>"
                f'<div class="cl-why">event date {esc(e["event_date"], "not given")} · recorded'
                f" {esc(e['recorded_date'], 'not given')}</div></div>"
            )
            opens = OPENS.get(e["source_table"])
            if opens:
                button = pn.widgets.Button(name="Open", description=f"Open this {e['event_type']}", width=80)
                button.on_click(lambda _e, e=e, opens=opens: self._open(opens, e["source_id"], 1, []))
                items.append(
                    pn.Row(button, html_pane(markup, sizing_mode="stretch_width"), sizing_mode="stretch_width")
                )
            else:
                items.append(html_pane(markup, sizing_mode="stretch_width"))
        self._rows[:] = items


class ChildPage(pn.viewable.Viewer):
    def __init__(self, ctx: Context, child_id: str, **params):
        super().__init__(**params)
        self.ctx, self.child_id = ctx, child_id
        self.preview = Preview(ctx)
        self.ecomap: EcomapView | None = None
        service, session = ctx.service, ctx.session
        try:
            profile = service.child_profile(session, child_id)
            events = service.child_timeline(session, child_id)
            network = service.child_network(session, child_id)
            factors = service.child_factors(session, child_id)
        except AccessDenied:
            self._layout = html_pane('<p role="alert" data-testid="denied">This child is not available to you.</p>')
            return
        label = profile.get("name") or child_id
        self.ecomap = EcomapView(
            child_id,
            label,
            nodes_from_edges(network["edges"]),
            mentions=lambda node_id: service.node_mentions(session, child_id, node_id),
            expand=lambda node_id: service.node_children(session, child_id, node_id),
            open_source=self.preview.show,
            # every export is an audited row naming the nodes it holds (GraphML/JSON: before the file is made)
            on_export=lambda what: service.ecomap_export(
                session, child_id, what, [n.node_id for n in self.ecomap.shown()]
            ),
        )
        reading = service.still_reading(session)
        self.views = {
            "Profile": html_pane(profile_html(profile), sizing_mode="stretch_width"),
            "Timeline": Timeline(events, self.preview.show),
            # before the entities stage has run the map holds only the child: say why, not "0 of 0 nodes"
            "Ecomap": pn.Column(
                html_pane(
                    '<p role="status" data-testid="ecomap-not-read">The people, places and organisations in '
                    "this child's records are not read yet: the ecomap fills in when they are.</p>"
                ),
                self.ecomap.main,
                sizing_mode="stretch_width",
            )
            if reading.people
            else self.ecomap.main,
            "Concerns and strengths": ConcernsView(
                factors,
                statements=lambda code: service.factor_statements(session, child_id, code),
                open_source=self.preview.show,
            ),
        }
        # buttons, not tabs: each is a focusable <button> a keyboard reaches and a screen reader names
        self.section = pn.widgets.RadioButtonGroup(name="Show", options=list(self.views), value="Profile")
        shown = pn.Column(self.views["Profile"], sizing_mode="stretch_width")
        self.section.param.watch(lambda e: shown.__setitem__(slice(None), [self.views[e.new]]), "value")
        # The right-hand column: the preview, and on the ecomap the map's own column above it (filters, node,
        # details), so a node's answer shows beside the map; the preview there shows once a mention is opened.
        self.ecomap.side.visible = False
        self._preview_box = pn.Column(self.preview, sizing_mode="stretch_width")
        self.section.param.watch(self._right_column, "value")
        self.ecomap.param.watch(self._right_column, "reading")
        self._layout = pn.Column(
            html_pane(f'<h1 data-testid="child-heading">{child_words(ctx.profiles().get(child_id), child_id)}</h1>'),
            self.section,
            pn.Row(
                shown,
                pn.Column(
                    self.ecomap.side,
                    self._preview_box,
                    width=560,
                    # its own scroll, so the preview or a long list of mentions stays beside what opened it
                    styles={
                        "position": "sticky",
                        "top": "0",
                        "align-self": "flex-start",
                        "max-height": "100vh",
                        "overflow-y": "auto",
                    },
                    css_classes=["cl-right-column"],
                ),
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )

    def _right_column(self, *_events):
        on_map = self.section.value == "Ecomap"
        self.ecomap.side.visible = on_map
        self._preview_box.visible = not on_map or self.ecomap.reading

    def __panel__(self):
        return self._layout


class ChildrenPage(pn.viewable.Viewer):
    """The children this user may see: name, age, locality, each a link to the child page."""

    def __init__(self, ctx: Context, **params):
        super().__init__(**params)
        rows = "".join(
            f'<tr><td><a href="/child?id={esc(cid)}">{esc(p["name"], "name not recorded")}</a></td><td>{esc(p["age"], "unknown")}</td>'
            f"<td>{esc(p['locality'], 'unknown')}</td><td>{esc(cid)}</td></tr>"
            for cid, p in sorted(ctx.profiles().items(), key=lambda kv: (kv[1]["name"] or "", kv[0]))
        )
        self._layout = html_pane(
            f"<h1>Children</h1><p>{len(ctx.profiles())} children you may see.</p>"
            '<table class="cl-table" data-testid="children"><thead><tr><th>name</th><th>age</th><th>locality</th>'
            f"<th>id</th></tr></thead><tbody>{rows}</tbody></table>",
            sizing_mode="stretch_width",
        )

    def __panel__(self):
        return self._layout
