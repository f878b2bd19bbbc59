"""The bundle as a PDF whose redactions are real (decision 0048).

Nothing redacted is ever written: the PDF is built anew from the compiled text, with each redacted span replaced
by a fixed-width black bar and its reason code (a fixed width, so that a bar does not tell a name's length). A
scanned page is added as its image with the redacted words' pixels painted out, found by reading the image again
with Tesseract's word boxes; when a redacted word cannot be found on the image, the image is withheld (its text,
redacted, is in the bundle) rather than risk a name left in the pixels. No box is ever drawn over text that stays
underneath. The file is written beside its final name and renamed into place, so an interrupted export leaves no
partial bundle.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from PIL import Image, ImageDraw

from lake.disclosure.bundle import DisclosureRequest
from lake.disclosure.rules import REASONS

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
BAR = "\u2588" * 6
_WORD = re.compile(r"[0-9A-Za-zÀ-ÿ'’\-]+")


@dataclass
class PageImage:
    """A scanned page's image, for the bundle to burn and embed."""

    image: Image.Image
    description: str
    reading: str = "read"  # the reader's verdict (lake.documents.ocr): read | flagged | unreadable


@dataclass
class Exported:
    path: Path
    pages: int
    redactions: int
    images_embedded: int
    images_withheld: int
    schedule: list[dict] = field(default_factory=list)  # page, item, reason, count


def burn(
    image: Image.Image, words: set[str], reader: Callable[[Image.Image], list[tuple[tuple[int, int, int, int], str]]]
) -> tuple[Image.Image, set[str]]:
    """``image`` with every word of ``words`` painted out (each as Tesseract finds it), and the words it could
    not find. Words are compared letters and digits only, lower case; a word of four letters or more also
    matches a reading one letter off (OCR's misreads)."""
    wanted = {w for w in (_key(w) for w in words) if len(w) >= 2}
    found: set[str] = set()
    out = image.convert("RGB")
    draw = ImageDraw.Draw(out)
    for box, text in reader(out):
        key = _key(text)
        if not key:
            continue
        hit = next(
            (w for w in wanted if w == key or (len(w) >= 4 and _one_off(w, key)) or (len(w) >= 3 and w in key)), None
        )
        if hit is not None:
            x0, y0, x1, y1 = box
            draw.rectangle((x0 - 2, y0 - 2, x1 + 2, y1 + 2), fill="black")
            found.add(hit)
    return out, wanted - found


def tesseract_words(image: Image.Image) -> list[tuple[tuple[int, int, int, int], str]]:
    """Tesseract's words on the image with their boxes (Debian's English model, offline)."""
    import tesserocr

    from lake.documents.ocr import TESSDATA

    with tesserocr.PyTessBaseAPI(path=str(TESSDATA) + "/", lang="eng", psm=tesserocr.PSM.AUTO) as api:
        api.SetImage(image.convert("L"))
        api.Recognize()
        level = tesserocr.RIL.WORD
        words = []
        for r in tesserocr.iterate_level(api.GetIterator(), level):
            try:
                text = (r.GetUTF8Text(level) or "").strip()
            except RuntimeError:
                continue
            box = r.BoundingBox(level)
            if text and box is not None:
                words.append((tuple(int(v) for v in box), text))
    return words


def scanned_pages(lake, landing: Path) -> Callable[[dict], PageImage | None]:
    """For a document-page item, the landed file's page as an image when the text was read by OCR (a scan);
    ``None`` for a born-digital page (its text is the bundle's) or a file that cannot be opened."""
    from lake.documents import formats
    from lake.documents.pipeline import TEXT, manifest
    from lake.storage.delta import ENTERPRISE

    def page_image(item: dict) -> PageImage | None:
        document_id, page = item["source_id"], int(item["page"])
        text = lake.read(ENTERPRISE, TEXT, filters=[("document_id", "=", document_id)])
        scanned = (
            text.filter((pl.col("page") == page) & (pl.col("method") == formats.METHOD_OCR))
            if text is not None
            else None
        )
        if scanned is None or scanned.is_empty():
            return None
        reading = scanned["reading"][0] if "reading" in scanned.columns else None
        current = manifest(lake, landing, document_ids=[document_id])
        path = current["path"][0] if current.height else None
        if path is None or not Path(path).is_file():
            return None
        try:
            if str(path).lower().endswith(".pdf"):
                import pypdfium2

                pdf = pypdfium2.PdfDocument(path)
                if not 1 <= page <= len(pdf):
                    return None
                image = pdf[page - 1].render(scale=2).to_pil()
            else:
                image = Image.open(path)
                image.seek(page - 1)  # a multi-page TIFF; a JPEG or PNG has its one page
                image = image.convert("RGB")
        except Exception:  # a file the reader flagged already: its text is in the bundle
            return None
        return PageImage(image, f"{document_id} page {page}", reading or "read")

    return page_image


def export_pdf(
    request: DisclosureRequest,
    subject_name: str,
    items: pl.DataFrame,
    redactions: pl.DataFrame,
    out: Path,
    page_image: Callable[[dict], PageImage | None] = lambda item: None,
    reader: Callable[[Image.Image], list] = tesseract_words,
) -> Exported:
    """Write the bundle (contents, every item with its redactions, scanned pages' images burned, the schedule of
    redactions) to ``out``; returns what it holds. ``page_image`` gives a scanned page's image for an item."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.add_font("DejaVu", "B", str(BOLD) if BOLD.exists() else str(FONT))
    pdf.set_title(f"Subject access request {request.request_id}")
    pdf.set_creator("caselake")
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 16)
    pdf.multi_cell(0, 9, "Your records", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    for line in (
        f"Request {request.request_id}, received {request.received:%d %B %Y}, due {request.due:%d %B %Y}",
        f"The records of {subject_name}" + (", asked for by a parent" if request.requester_is_parent else ""),
        f"Records from {request.date_from or 'the first'} to {request.date_to or 'the latest'}; compiled {dt.date.today():%d %B %Y}",
        f"Where something is withheld you will see {BAR} and a code; the last pages list each code and why.",
    ):
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.add_page()
    # The contents' pages are reserved now, as many as their lines need (fpdf2 numbers the sections wrongly when
    # the contents overflow into pages it inserts): a heading, then a line per item and one for the schedule.
    lines = items.height + 1
    first, later = ((297 - 10 - 15 - 8) // 5) - 1, ((297 - 10 - 15) // 5) - 1
    pdf.insert_toc_placeholder(_contents, pages=1 + max(0, -(-(lines - first) // later)))
    by_item = {k[0]: g.sort("start") for k, g in redactions.group_by(["item_id"])} if redactions.height else {}
    schedule: dict[tuple[int, str, str], int] = {}
    embedded = withheld = 0
    for item in items.iter_rows(named=True):
        if pdf.get_y() > 240 or (item["source_type"] == "record" and pdf.get_y() > pdf.t_margin + 1):
            pdf.add_page()
        else:
            pdf.ln(4)
        heading = f"{item['record_date'] or 'undated'}: {item['title'] or item['source_type']}"
        if item["source_type"] == "document_page":
            heading += f", page {item['page']}"
        pdf.start_section(heading[:110])
        pdf.set_font("DejaVu", "B", 10)
        pdf.multi_cell(0, 6, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "", 8)
        pdf.multi_cell(
            0,
            4,
            f"{item['source_type']} {item['source_id']} · sha256 {item['text_hash'][:16]}",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.set_font("DejaVu", "", 10)
        spans = by_item.get(item["item_id"])
        page = pdf.page_no()
        for reason in _write_redacted(pdf, item["text"] or "", spans):
            schedule[(page, item["item_id"], reason)] = schedule.get((page, item["item_id"], reason), 0) + 1
        pdf.ln(7)
        scan = page_image(item) if item["source_type"] == "document_page" else None
        if scan is not None:
            words = set() if spans is None else {w for t in spans["text"] for w in _WORD.findall(t)}
            # A page the reader could not read whole (handwriting, a smudge) may show a name no redaction knows of:
            # its image is withheld for a person to check, never burned on a guess.
            burned, missed = (scan.image, {"?"}) if scan.reading != "read" else burn(scan.image, words, reader)
            if missed:
                withheld += 1
                pdf.set_font("DejaVu", "", 9)
                pdf.multi_cell(
                    0,
                    5,
                    "The image of this page is withheld: the text above is complete, with its redactions."
                    if scan.reading == "read"
                    else "The image of this page is withheld: parts of it could not be read by machine, so a person"
                    " will check it before it is released.",
                    new_x="LMARGIN",
                    new_y="NEXT",
                )
                schedule[(pdf.page_no(), item["item_id"], "IMG")] = 1
            else:
                embedded += 1
                pdf.add_page()
                buffer = io.BytesIO()
                burned.save(buffer, format="PNG")
                pdf.image(buffer, x=10, y=15, w=190, keep_aspect_ratio=True, h=265)
                pdf.add_page()  # the image has the page to itself
    pdf.add_page()
    pdf.start_section("Schedule of redactions")
    _write_schedule(pdf, schedule)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        pdf.output(str(partial))
        os.replace(partial, out)  # an interrupted export leaves the old bundle or none, never half of one
    finally:
        partial.unlink(missing_ok=True)
    rows = [{"page": p, "item_id": i, "reason": r, "count": n} for (p, i, r), n in sorted(schedule.items())]
    return Exported(out, pdf.pages_count, int(redactions.height), embedded, withheld, rows)


def _write_redacted(pdf, text: str, spans: pl.DataFrame | None) -> list[str]:
    """Write ``text`` with each span of ``spans`` (overlaps merged) as a bar and its code; returns the codes."""
    reasons = []
    cursor = 0
    merged: list[list] = []
    for s in spans.iter_rows(named=True) if spans is not None else []:
        start, end = max(int(s["start"]), 0), min(int(s["end"]), len(text))
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            continue
        merged.append([start, end, s["reason"] or "MAN"])
    for start, end, reason in merged:
        if start > cursor:
            pdf.write(5, text[cursor:start])
        pdf.set_text_color(0, 0, 0)
        pdf.write(5, BAR)
        pdf.set_text_color(110, 110, 110)
        pdf.write(5, f"[{reason}]")
        pdf.set_text_color(0, 0, 0)
        reasons.append(reason)
        cursor = end
    if cursor < len(text):
        pdf.write(5, text[cursor:])
    return reasons


def _write_schedule(pdf, schedule: dict[tuple[int, str, str], int]) -> None:
    pdf.set_font("DejaVu", "B", 14)
    pdf.multi_cell(0, 8, "Schedule of redactions", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    pdf.multi_cell(
        0,
        5,
        "Each line is a page of this bundle, the record on it, the reason code and how many times it is used. No withheld text is shown.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(2)
    with pdf.table(col_widths=(12, 70, 14, 12), text_align=("RIGHT", "LEFT", "LEFT", "RIGHT")) as table:
        table.row(("Page", "Record", "Code", "Count"))
        for (page, item, reason), count in sorted(schedule.items()):
            table.row((str(page), item.replace("|", " "), reason, str(count)))
    pdf.ln(4)
    pdf.set_font("DejaVu", "B", 11)
    pdf.multi_cell(0, 7, "The codes", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    for code, meaning in {
        **REASONS,
        "IMG": "A page image withheld: a redaction could not be placed on it, or it could not be read whole",
    }.items():
        pdf.multi_cell(0, 5, f"{code}: {meaning}", new_x="LMARGIN", new_y="NEXT")


def _contents(pdf, outline) -> None:
    pdf.set_font("DejaVu", "B", 14)
    pdf.multi_cell(0, 8, "Contents", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    for section in outline:
        pdf.cell(170, 5, section.name[:95], new_x="RIGHT", new_y="TOP", link=pdf.add_link(page=section.page_number))
        pdf.cell(0, 5, str(section.page_number), align="R", new_x="LMARGIN", new_y="NEXT")


def _key(word: str) -> str:
    return re.sub(r"[^0-9a-z]", "", word.lower())


def _one_off(a: str, b: str) -> bool:
    """Equal but for one substituted, inserted or dropped character."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def extracted_text(path: Path) -> str:
    """The text layer of a PDF, every page (what a leak test and a requester's software can read)."""
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(path))
    try:
        return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()
