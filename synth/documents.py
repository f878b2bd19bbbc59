"""Documents for the synthetic council's file store, in every format a council really holds.

Content is composed in the parent process (spans known exactly); rendering to bytes runs in worker
processes, each document seeded by its own id so output does not depend on scheduling. Legacy
``.doc`` files are made by LibreOffice headless from a DOCX, in batches, one profile per worker
(two conversions sharing a profile silently lose files).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lake.documents import libreoffice
from synth.text import NOTE_TEMPLATES, TextBuilder, Writer, split_templates

FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
FIXED_TIME = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)  # stamped into every file so output is byte-identical

# Document types with their share of the store, title, and the note templates their body borrows.
DOCUMENT_TYPES: dict[str, tuple[float, str, tuple[str, ...]]] = {
    "safety plan": (0.14, "Safety Plan", ("Safety Planning",)),
    "birth certificate": (0.05, "Certified Copy of an Entry of Birth", ()),
    "court application": (0.07, "Application for a Care or Supervision Order (C110A)", ("Court",)),
    "PLO letter": (0.08, "Letter Before Proceedings (Public Law Outline)", ("Court", "Strategy Discussion")),
    "parenting assessment": (0.10, "Parenting Assessment", ("Home Visit", "Contact Session")),
    "qualification certificate": (0.04, "Certificate of Achievement", ()),
    "police check": (0.05, "Police Information Check", ("Strategy Discussion",)),
    "MARAC minutes": (0.07, "MARAC Meeting Minutes", ("Strategy Discussion", "Safety Planning")),
    "child protection conference minutes": (
        0.12,
        "Initial Child Protection Conference",
        ("Strategy Discussion", "Home Visit"),
    ),
    "school report": (0.10, "School Report to Conference", ("School Meeting",)),
    "health assessment": (0.08, "Initial Health Assessment", ("Health Appointment",)),
    "letter": (0.10, "Letter", ("Telephone Call", "Home Visit")),
}

# File formats and their share; "doc" is ~25% as the council pilot found.
FORMATS: dict[str, float] = {
    "doc": 0.25,
    "docx": 0.20,
    "pdf": 0.20,
    "scan_pdf": 0.09,
    "png": 0.05,
    "jpeg": 0.05,
    "tiff": 0.04,
    "html": 0.08,
    "faulty": 0.04,
}
FAULTS = ("zero_byte", "truncated", "password_pdf", "unsupported")
EXTENSIONS = {
    "doc": "doc",
    "docx": "docx",
    "pdf": "pdf",
    "scan_pdf": "pdf",
    "png": "png",
    "jpeg": "jpg",
    "tiff": "tif",
    "html": "html",
}
SCANNED = frozenset({"scan_pdf", "png", "jpeg", "tiff"})
PAGE_WIDTH_CHARS = {"pdf": 88, "scan": 70}


@dataclass
class DocumentSpec:
    """What to render: the text of each page as paragraphs, and how to render it."""

    document_id: str
    file_name: str
    fmt: str  # a FORMATS key other than "faulty"
    fault: str | None
    title: str
    pages: list[list[str]]  # paragraphs per page, wrapped for the format (newlines replace spaces)
    seed: int


def compose_document(writer: Writer, doc_type: str, split: str) -> list[list[TextBuilder]]:
    """Pages of paragraphs for one document, every mention span recorded."""
    _, title, note_types = DOCUMENT_TYPES[doc_type]
    child = writer.child
    header = TextBuilder()
    header.add(title)
    fields = TextBuilder()
    fields.add("Child: ")
    writer.slot("child_full", fields)
    fields.add(", date of birth: ")
    d = child.person.dob
    fields.add(f"{d.day:02d}/{d.month:02d}/{d.year}", "date")
    addr = TextBuilder()
    addr.add("Address: ")
    writer.slot("address", addr)
    first = [header, fields, addr]
    if doc_type == "birth certificate":
        return [[header, *_birth_certificate(writer)]]
    if doc_type == "qualification certificate":
        return [[header, *_certificate(writer)]]
    templates = tuple(t for nt in note_types for t in split_templates(NOTE_TEMPLATES[nt], split))
    n_pages = int(writer.rng.choice([1, 1, 1, 2, 2, 3]))
    pages = []
    for page_no in range(n_pages):
        paras = list(first) if page_no == 0 else []
        for _ in range(int(writer.rng.integers(4, 9))):
            tb = TextBuilder()
            for j in range(int(writer.rng.integers(1, 3))):
                if j:
                    tb.add(" ")
                writer.fill(writer.pick(templates), tb)
            paras.append(tb)
        if page_no == n_pages - 1:
            sign = TextBuilder()
            sign.add("Signed: ")
            writer.slot("worker", sign)
            sign.add(", date: ")
            writer.slot("date", sign)
            paras.append(sign)
        pages.append(paras)
    return pages


def _birth_certificate(writer: Writer) -> list[TextBuilder]:
    c = writer.child.person
    lines = []
    for label, fill in (
        ("Name and surname: ", lambda tb: writer.name(tb, c, formal=True, allow_nickname=False)),
        ("Date of birth: ", lambda tb: tb.add(f"{c.dob.day} {c.dob.strftime('%B')} {c.dob.year}", "date", c.person_id)),
        ("Place of birth: ", lambda tb: tb.add(c.addresses[0].address.one_line, "address", c.person_id)),
        (
            "Mother: ",
            lambda tb: writer.name(tb, writer.child.relations["mother"][0], formal=True, allow_nickname=False),
        ),
        (
            "Father: ",
            lambda tb: writer.name(tb, writer.child.relations["father"][0], formal=True, allow_nickname=False),
        ),
        ("Registration district: ", lambda tb: tb.add(c.addresses[0].address.town)),
    ):
        tb = TextBuilder()
        tb.add(label)
        fill(tb)
        lines.append(tb)
    return lines


def _certificate(writer: Writer) -> list[TextBuilder]:
    tb = TextBuilder()
    tb.add("This is to certify that ")
    writer.relative(tb)
    tb.add(" completed the course Understanding Trauma and Attachment on ")
    writer.date(tb)
    tb.add(" delivered by ")
    writer.slot("org", tb)
    tb.add(".")
    return [tb]


def wrap_offsets(text: str, width: int) -> str:
    """Greedy word wrap that replaces spaces with newlines, so every character offset is unchanged."""
    chars = list(text)
    line_start, last_space = 0, -1
    for i, ch in enumerate(chars):
        if ch == "\n":
            line_start, last_space = i + 1, -1
            continue
        if ch == " ":
            last_space = i
        if i - line_start >= width and last_space > line_start:
            chars[last_space] = "\n"
            line_start, last_space = last_space + 1, -1
    return "".join(chars)


def page_texts(spec: DocumentSpec) -> list[str]:
    return ["\n".join(paras) for paras in spec.pages]


# ---- renderers ----------------------------------------------------------------------------------
def _font(size: int):
    from PIL import ImageFont

    if not FONT_PATH.exists():
        raise FileNotFoundError(f"{FONT_PATH} is missing: run scripts/install-system-deps.sh (fonts-dejavu-core)")
    return ImageFont.truetype(str(FONT_PATH), size)


def render_docx(spec: DocumentSpec) -> bytes:
    from docx import Document
    from docx.enum.text import WD_BREAK

    doc = Document()
    doc.core_properties.created = FIXED_TIME.replace(tzinfo=None)
    doc.core_properties.modified = FIXED_TIME.replace(tzinfo=None)
    doc.core_properties.author = "caselake synthetic council"
    doc.core_properties.title = spec.title
    for page_no, paras in enumerate(spec.pages):
        for i, text in enumerate(paras):
            p = doc.add_paragraph(text)
            if page_no < len(spec.pages) - 1 and i == len(paras) - 1:
                p.add_run().add_break(WD_BREAK.PAGE)
    buf = io.BytesIO()
    doc.save(buf)
    return _normalise_zip(buf.getvalue())


def _normalise_zip(data: bytes) -> bytes:
    """python-docx stamps the current time on zip members; rewrite them with a fixed time."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=(2020, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(member, src.read(info.filename))
    return out.getvalue()


def render_pdf(spec: DocumentSpec, password: str | None = None) -> bytes:
    from fpdf import FPDF
    from fpdf.enums import EncryptionMethod

    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED_TIME)
    pdf.set_title(spec.title)
    pdf.set_auto_page_break(False)
    pdf.add_font("DejaVu", "", str(FONT_PATH))
    pdf.set_font("DejaVu", size=10)
    if password:
        pdf.set_encryption(
            owner_password="council-owner", user_password=password, encryption_method=EncryptionMethod.RC4
        )
    for paras in spec.pages:
        pdf.add_page()
        y = 20.0
        for line in "\n".join(paras).split("\n"):
            pdf.set_xy(15, y)
            pdf.cell(text=line)
            y += 5.2
    return bytes(pdf.output())


def render_page_image(lines: list[str], rng: np.random.Generator):
    """One A4 page at ~120 dpi with scan noise: skew, blur, speckle, low contrast. A page with more lines
    than A4 holds is scanned longer, so every line the truth records is on the image."""
    from PIL import Image, ImageDraw, ImageFilter

    width, height = 1000, max(1414, 70 + 27 * len(lines) + 70)
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    font = _font(19)
    y = 70
    for line in lines:
        draw.text((70, y), line, fill=0, font=font)
        y += 27
    img = img.rotate(float(rng.uniform(-1.2, 1.2)), resample=Image.Resampling.BICUBIC, fillcolor=255)
    img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.2, 0.7))))
    arr = np.asarray(img, dtype=np.float32)
    lo, hi = float(rng.uniform(0, 50)), float(rng.uniform(200, 250))
    arr = lo + arr / 255.0 * (hi - lo)
    speckle = rng.random(arr.shape) < 0.0015
    arr[speckle] = rng.choice(np.array([lo, hi], dtype=np.float32), size=int(speckle.sum()))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), mode="L")


def render_scan(spec: DocumentSpec) -> bytes:
    rng = np.random.default_rng(spec.seed)
    images = [render_page_image("\n".join(paras).split("\n"), rng) for paras in spec.pages]
    buf = io.BytesIO()
    if spec.fmt == "scan_pdf":
        images[0].save(
            buf,
            "PDF",
            resolution=120.0,
            save_all=True,
            append_images=images[1:],
            creationDate=FIXED_TIME.timetuple(),
            modDate=FIXED_TIME.timetuple(),
            quality=80,
        )
    elif spec.fmt == "png":
        images[0].save(buf, "PNG", optimize=False, compress_level=6)
    elif spec.fmt == "jpeg":
        images[0].save(buf, "JPEG", quality=80, dpi=(120, 120))
    elif spec.fmt == "tiff":
        images[0].save(buf, "TIFF", compression="tiff_lzw", save_all=True, append_images=images[1:], dpi=(120, 120))
    return buf.getvalue()


def render_html(spec: DocumentSpec) -> bytes:
    from html import escape

    body = "\n".join(f"<p>{escape(p)}</p>" for paras in spec.pages for p in paras)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(spec.title)}</title></head>\n'
        f"<body>\n{body}\n</body></html>\n"
    ).encode()


def render(spec: DocumentSpec, store: Path, doc_staging: Path) -> None:
    """Write one document's file. ``.doc`` files are written as DOCX to ``doc_staging`` for conversion."""
    target = store / spec.file_name
    if spec.fault == "zero_byte":
        target.write_bytes(b"")
    elif spec.fault == "truncated":
        data = render_pdf(spec)
        target.write_bytes(data[: len(data) * 2 // 5])
    elif spec.fault == "password_pdf":
        target.write_bytes(render_pdf(spec, password="Secret-" + spec.document_id[-4:]))
    elif spec.fault == "unsupported":
        digest = hashlib.sha256(spec.document_id.encode()).digest() * 8
        target.write_bytes(b"\xffWPC\x10\x00\x00\x00" + digest)  # a WordPerfect header and noise
    elif spec.fmt == "doc":
        (doc_staging / f"{Path(spec.file_name).stem}.docx").write_bytes(render_docx(spec))
    elif spec.fmt == "docx":
        target.write_bytes(render_docx(spec))
    elif spec.fmt == "pdf":
        target.write_bytes(render_pdf(spec))
    elif spec.fmt in SCANNED:
        target.write_bytes(render_scan(spec))
    elif spec.fmt == "html":
        target.write_bytes(render_html(spec))
    else:
        raise ValueError(f"unknown document format {spec.fmt!r}")


def convert_to_doc(docx_dir: Path, store: Path, workers: int = 2) -> int:
    """Convert every DOCX in ``docx_dir`` to Word 97-2003 ``.doc`` in ``store`` with LibreOffice.

    LibreOffice now and then skips a file in a long batch without an error; ``lake.documents.libreoffice``
    converts again what is missing, and any ``.doc`` still missing after that raises.
    """
    pending = sorted(docx_dir.glob("*.docx"))
    if not pending:
        return 0
    try:
        done = libreoffice.convert(pending, store, "doc:MS Word 97", workers=workers)
    except libreoffice.LibreOfficeMissing as exc:
        raise RuntimeError(f"{exc}; it is needed to write .doc files") from exc
    missing = [f.name for f in pending if f not in done]
    if missing:
        raise RuntimeError(f"LibreOffice did not write {len(missing)} .doc files, e.g. {missing[:3]}")
    return len(pending)
