"""The preview opened in place from a search hit, a timeline entry or an ecomap mention: the note, the form, or
the document page with what matched marked (a scanned page shows its image beside the text read from it), and
the original file to download. Every open goes through the service, so every one is audited and re-checked."""

from __future__ import annotations

import io
import re

import panel as pn
import param

from app.service import AccessDenied
from app.web.render import dates_html, esc, html_pane, marked_text
from app.web.shell import Context

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class Preview(pn.viewable.Viewer):
    """Shows one source at a time; ``show`` is called by the page that owns it."""

    source = param.String(default="", doc="what is shown: source type, id and page (for tests and the URL)")

    def __init__(self, ctx: Context, **params):
        super().__init__(**params)
        self.ctx = ctx
        self._body = pn.Column(
            html_pane('<p class="cl-muted">Choose a result to preview it here.</p>'),
            sizing_mode="stretch_width",
        )
        self._panel = pn.Column(
            html_pane('<h2 id="preview-heading">Preview</h2>'),
            self._body,
            sizing_mode="stretch_width",
            css_classes=["cl-preview"],
        )

    def __panel__(self):
        return self._panel

    # ---- what can be shown ---------------------------------------------------------------------------------
    def show(self, source_type: str, source_id: str, page: int = 0, spans: list[tuple[int, int]] | None = None):
        spans = spans or []
        try:
            if source_type == "case_note":
                items = self._note(source_id, spans)
            elif source_type in ("document_page", "document"):
                items = self._document(source_id, max(int(page or 1), 1), spans)
            elif source_type in ("form_answer", "form_response", "form"):
                form_id, _, question = source_id.partition(":")
                items = self._form(form_id, question, spans)
            else:
                items = [html_pane(f'<p class="cl-muted">Nothing to open for {esc(source_type)}.</p>')]
        except AccessDenied:
            items = [html_pane('<p role="alert">This record is not available to you.</p>')]
        self.source = f"{source_type}:{source_id}:{page}"
        marker = html_pane(f'<span data-testid="preview" data-source="{esc(source_type)}:{esc(source_id)}"></span>')
        self._body[:] = [marker, *items]

    def _note(self, note_id: str, spans) -> list:
        note = self.ctx.service.open_note(self.ctx.session, note_id)
        who = self.ctx.profiles().get(note["child_id"])
        return [
            html_pane(
                f"""<h3>Case note · {esc(note["note_type"])}</h3>
<p>{dates_html(note["event_date"], note["recorded_at"])} · author {esc(note["worker_id"])}</p>
<p>Child: {esc(who["name"]) if who else esc(note["child_id"])}</p>
{marked_text(note["note_text"], spans)}""",
                sizing_mode="stretch_width",
            )
        ]

    def _form(self, form_id: str, question: str, spans) -> list:
        form = self.ctx.service.open_form(self.ctx.session, form_id)
        rows = []
        for answer in form["answers"]:
            marked = answer["question_code"] == question
            text = marked_text(answer["answer_text"], spans if marked else [])
            rows.append(f"<h4>{esc(answer['question'])}{' (the matching answer)' if marked else ''}</h4>{text}")
        return [
            html_pane(
                f"""<h3>Form · {esc(form["form_type"])}</h3>
<p>{dates_html(form["form_date"], None)} · outcome {esc(form["outcome"])} · author {esc(form["worker_id"])}</p>
{"".join(rows)}""",
                sizing_mode="stretch_width",
            )
        ]

    def _document(self, document_id: str, page: int, spans) -> list:
        service, session = self.ctx.service, self.ctx.session
        doc = service.open_document_page(session, document_id, page)
        head = html_pane(
            f"""<h3>{esc(doc["document_type"])} · {esc(doc["title"])}</h3>
<p>{dates_html(None, doc["created_date"])} · page {doc["page"]} of {doc["pages"] or "?"}
 · text read by {esc(doc["method"], "nothing (see the file)")}{ocr_note(doc)}</p>""",
            sizing_mode="stretch_width",
        )
        text = html_pane(marked_text(doc["text"], spans), sizing_mode="stretch_width", min_width=280)
        body: pn.viewable.Viewable = text
        if doc["method"] and "ocr" in str(doc["method"]).lower():
            image = service.page_image(session, document_id, page)
            if image:
                body = pn.Row(
                    pn.pane.PNG(io.BytesIO(image), width=380, alt_text=f"Page {page} as scanned"),
                    text,
                    sizing_mode="stretch_width",
                )
        pages = []
        if doc["pages"] and doc["pages"] > 1:
            previous = pn.widgets.Button(name="Previous page", disabled=page <= 1, width=130)
            following = pn.widgets.Button(name="Next page", disabled=page >= doc["pages"], width=130)
            previous.on_click(lambda _e: self.show("document_page", document_id, page - 1))
            following.on_click(lambda _e: self.show("document_page", document_id, page + 1))
            pages = [pn.Row(previous, following)]
        name = SAFE_NAME.sub("_", str(doc["file_name"]).rsplit("/", 1)[-1])[:120] or "document"
        download = pn.widgets.FileDownload(
            callback=lambda: io.BytesIO(service.download(session, document_id)[1]),
            filename=name,
            label=f"Download the original file ({name})",
            button_type="primary",
            embed=False,
            width=360,
        )
        return [head, *pages, body, download]


def ocr_note(doc: dict) -> str:
    """What the reader of a scan should know: its OCR confidence and what was marked rather than guessed."""
    if doc.get("ocr_confidence") is None and not doc.get("reading"):
        return ""
    parts = []
    if doc.get("ocr_confidence") is not None:
        parts.append(f"OCR confidence {round(100 * float(doc['ocr_confidence']))}%")
    if doc.get("reading") == "unreadable":
        parts.append("this page could not be read: read the image")
    flags = doc.get("flags") or {}
    if flags.get("handwritten"):
        n = flags["handwritten"]
        parts.append(f"{n} handwritten note{'s' if n > 1 else ''} not read: read the image")
    if flags.get("unclear"):
        n = flags["unclear"]
        parts.append(f"{n} line{'s' if n > 1 else ''} read with low confidence, marked [unclear]")
    return "".join(f" · {esc(p)}" for p in parts)
