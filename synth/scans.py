"""Scans as bad as a council's archive: faxes, photocopies of photocopies, skewed and turned pages, stamps,
punch holes, boxed forms and handwritten margin notes, each page with its truth.

The council's own scans (``synth.documents.render_page_image``) are clean: a degree of skew and a little
speckle. Real archives are not, so this module makes pages by *kind of damage*, one kind a page, with the
truth a reader is scored against:

- ``printed``: the typed lines, in reading order (a boxed form is read row by row);
- ``handwritten``: each handwritten note's text and its box, as fractions of the upright page, so a reader's
  flags can be matched to it whatever resolution it reads at;
- ``rotation``: how far the page was turned (a reader must put it the right way up).

The part a reader is tuned on and the part it is scored on differ by more than the seed: other printed
fonts, other handwriting fonts, the held-out sentence templates (``split="eval"``) and other margin phrases.
Pages are seeded by their id, so a set is byte-identical on every run.
"""

from __future__ import annotations

import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

KINDS = (
    "fax",
    "photocopy",
    "skew",
    "rotated",
    "low_contrast",
    "jpeg",
    "stamp",
    "punched",
    "form",
    "margin_note",
    "low_dpi_form",
)
ILLEGIBLE = "illegible"  # a page no engine can read: for tests of that outcome, not in the scored set
DPI = 200
A4 = (1654, 2339)  # pixels at 200 dpi

FONTS = Path("/usr/share/fonts")
# Tuning and scoring see different typefaces, printed and handwritten (scripts/install-system-deps.sh).
PRINTED_FONTS = {
    "train": ("truetype/dejavu/DejaVuSans.ttf", "truetype/liberation2/LiberationSerif-Regular.ttf"),
    "eval": (
        "truetype/liberation2/LiberationSans-Regular.ttf",
        "truetype/freefont/FreeSerif.ttf",
        "truetype/freefont/FreeMono.ttf",
    ),
}
HAND_FONTS = {
    "train": (
        "opentype/bwht/BecauseWeBuild-Regular.otf",
        "opentype/bwht/BecauseWeCreate-Regular.otf",
        "opentype/bwht/BecauseWeLearn-Regular.otf",
        "truetype/humor-sans/Humor-Sans.ttf",
    ),
    "eval": (
        "truetype/fifthhorseman/dkg.ttf",
        "truetype/femkeklaver/femkeklaver.ttf",
        "opentype/bwht/BecauseWeConnect-Regular.otf",
        "opentype/bwht/BecauseWeOrganize-Regular.otf",
    ),
}
MARGIN_NOTES = (
    "Spoke to mum 12/3 - agreed",
    "chase GP re meds",
    "see strategy notes",
    "NB dad not to know address",
    "Copy to IRO",
    "discussed w/ manager",
    "Nan has the kids Tues",
    "check with school?",
    "phoned - no answer",
    "placement ok for now",
    "send to legal",
    "is this the same man?",
    "ring HV Monday",
    "file copy",
    "urgent - see me",
    "refer to CAMHS again",
)
FORM_QUESTIONS = (
    "Child seen alone?",
    "Known to CAMHS?",
    "Parents informed?",
    "Police involved?",
    "Interpreter needed?",
    "Child in school?",
    "Other children at home?",
    "Consent given?",
)


@dataclass
class HardPage:
    page_id: str
    kind: str
    split: str
    file_name: str
    data: bytes
    printed: list[str]
    handwritten: list[dict] = field(default_factory=list)  # {"text", "box": [x0, y0, x1, y1] fractions}
    rotation: int = 0
    printed_font: str = ""
    hand_font: str = ""

    def truth(self) -> dict:
        return {
            "page_id": self.page_id,
            "kind": self.kind,
            "split": self.split,
            "file_name": self.file_name,
            "printed": "\n".join(self.printed),
            "handwritten": json.dumps(self.handwritten),
            "rotation": self.rotation,
            "printed_font": self.printed_font,
            "hand_font": self.hand_font,
        }


def _font(rel: str, size: int) -> ImageFont.FreeTypeFont:
    path = FONTS / rel
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run scripts/install-system-deps.sh")
    return ImageFont.truetype(str(path), size)


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(0, len(seq)))]


def _split_pool(pool: tuple[str, ...], split: str) -> tuple[str, ...]:
    """Every fourth phrase is held out for scoring, as the sentence templates are."""
    return tuple(p for i, p in enumerate(pool) if (i % 4 == 3) == (split == "eval"))


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if line and font.getlength(trial) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    if line:
        lines.append(line)
    return lines


# ---- page layouts: the clean page and its truth ------------------------------------------------------------
class _Page:
    def __init__(self, mode: str = "L"):
        self.img = Image.new(mode, A4, "white")
        self.draw = ImageDraw.Draw(self.img)
        self.printed: list[str] = []
        self.handwritten: list[dict] = []

    def line(self, x: int, y: int, text: str, font, fill=0) -> None:
        self.draw.text((x, y), text, font=font, fill=fill)
        self.printed.append(text)


def letter(paragraphs: list[str], font_rel: str, rng: np.random.Generator, width_frac: float = 0.8) -> _Page:
    """A typed letter or report: paragraphs wrapped to ``width_frac`` of the page from a 150 px margin."""
    page = _Page()
    size = int(rng.integers(28, 34))
    font = _font(font_rel, size)
    step = int(size * 1.45)
    x, y, width = 150, 170, int(A4[0] * width_frac) - 150
    for i, para in enumerate(paragraphs):
        for line in wrap(para, font, width):
            if y > A4[1] - 200:
                return page
            page.line(x, y, line, font)
            y += step
        y += step // 2 if i else step
    return page


def boxed_form(paragraphs: list[str], font_rel: str, rng: np.random.Generator) -> _Page:
    """A two-column form: label and answer cells in ruled boxes, tick boxes, and a free-text box, read by row."""
    page = _Page()
    font = _font(font_rel, 28)
    bold = _font(font_rel, 36)
    d = page.draw
    page.line(150, 140, paragraphs[0][:60], bold)
    fields = _form_fields(paragraphs)
    x0, x1, xm = 120, A4[0] - 120, A4[0] // 2
    y = 230
    row_h = 62
    for (l1, v1), (l2, v2) in zip(fields[0::2], fields[1::2], strict=False):
        d.rectangle([x0, y, x1, y + row_h], outline=0, width=3)
        d.line([xm, y, xm, y + row_h], fill=0, width=3)
        for cx, label, value in ((x0, l1, v1), (xm, l2, v2)):
            d.text((cx + 14, y + 16), label, font=font, fill=0)
            d.text((cx + 24 + int(font.getlength(label)), y + 16), value, font=font, fill=0)
        page.printed.append(f"{l1} {v1} {l2} {v2}")
        y += row_h
    y += 40
    questions = list(FORM_QUESTIONS)
    rng.shuffle(questions)
    for q in questions[:4]:
        d.text((x0 + 14, y), q, font=font, fill=0)
        bx = x0 + 620
        ticked = int(rng.integers(0, 2))
        for j, word in enumerate(("Yes", "No")):
            box = [bx, y + 2, bx + 30, y + 32]
            d.rectangle(box, outline=0, width=3)
            if j == ticked:  # a pen tick, not a printed glyph
                d.line([bx + 5, y + 17, bx + 13, y + 28, bx + 34, y - 4], fill=30, width=4)
            d.text((bx + 44, y), word, font=font, fill=0)
            bx += 170
        page.printed.append(f"{q} Yes No")
        y += 58
    y += 30
    label = "Summary of concerns and actions:"
    top = y
    d.text((x0 + 14, y + 12), label, font=font, fill=0)
    page.printed.append(label)
    y += 60
    for para in paragraphs[3:]:
        for line in wrap(para, font, x1 - x0 - 40):
            if y > A4[1] - 180:
                break
            page.line(x0 + 14, y, line, font)
            y += 42
    d.rectangle([x0, top, x1, y + 20], outline=0, width=3)
    return page


def _form_fields(paragraphs: list[str]) -> list[tuple[str, str]]:
    """Label/answer pairs from a page's header lines ("Child: Name, date of birth: dd/mm/yyyy", "Address: ...")."""
    head = " ".join(paragraphs[1:3])
    name = re.search(r"Child: ([^,]+)", head)
    dob = re.search(r"date of birth: (\S+)", head)
    address = re.search(r"Address: ([^,]+), ([^,]+), ([A-Z0-9 ]+)", head)
    signed = re.search(r"Signed: (?:[a-z ]+ )?([A-Z][\w'-]+ [A-Z][\w'-]+)", " ".join(paragraphs))
    fields = [
        ("Child:", name.group(1) if name else "not recorded"),
        ("DOB:", dob.group(1) if dob else "unknown"),
        ("Address:", address.group(1) if address else "no fixed abode"),
        ("Town:", address.group(2) if address else "unknown"),
        ("Postcode:", address.group(3).strip() if address else "unknown"),
        ("Worker:", signed.group(1) if signed else "duty worker"),
    ]
    return fields


def add_margin_note(page: _Page, rng: np.random.Generator, hand_rel: str, split: str) -> None:
    """One or two short handwritten notes in the right margin (beside a letter typed narrow), in pen."""
    pool = _split_pool(MARGIN_NOTES, split)
    x_left = int(A4[0] * 0.72)
    for _ in range(int(rng.integers(1, 3))):
        text = _pick(rng, pool)
        font = _font(hand_rel, int(rng.integers(36, 46)))
        lines = wrap(text, font, A4[0] - x_left - 60)
        layer = Image.new("L", (A4[0] - x_left, 60 * len(lines) + 40), 0)
        ld = ImageDraw.Draw(layer)
        for j, line in enumerate(lines):
            ld.text((10, 10 + 58 * j), line, font=font, fill=255)
        angle = float(rng.uniform(-6, 6))
        layer = layer.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
        y = int(rng.uniform(0.15, 0.8) * A4[1])
        if any(abs(y - h["box"][1] * A4[1]) < 260 for h in page.handwritten):
            continue  # notes do not overlap one another
        ink = int(rng.integers(20, 90))
        pen = Image.new("L", layer.size, ink)
        page.img.paste(pen, (x_left, y), layer)
        bbox = layer.getbbox() or (0, 0, *layer.size)
        page.handwritten.append(
            {
                "text": text,
                "box": [
                    round((x_left + bbox[0]) / A4[0], 4),
                    round((y + bbox[1]) / A4[1], 4),
                    round((x_left + bbox[2]) / A4[0], 4),
                    round((y + bbox[3]) / A4[1], 4),
                ],
            }
        )


# ---- damage ---------------------------------------------------------------------------------------------------
def _arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float32)


def _img(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _speckle(arr: np.ndarray, rng: np.random.Generator, rate: float) -> np.ndarray:
    arr = arr.copy()
    dots = rng.random(arr.shape) < rate
    arr[dots] = rng.choice(np.array([0.0, 255.0], dtype=np.float32), size=int(dots.sum()), p=[0.7, 0.3])
    return arr


def _low_frequency(shape: tuple[int, int], rng: np.random.Generator, cells: int = 8) -> np.ndarray:
    """A smooth random field in [0, 1] (toner loss, uneven lighting)."""
    coarse = Image.fromarray((rng.random((cells, cells)) * 255).astype(np.uint8))
    return _arr(coarse.resize((shape[1], shape[0]), Image.Resampling.BICUBIC)) / 255.0


def fax(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Fine fax mode is 204 x 196 dpi, standard 204 x 98: half the rows, dithered to black and white."""
    w, h = img.size
    arr = _arr(img.filter(ImageFilter.GaussianBlur(0.8))) * 0.9 + 28  # paper stays white, grey edges dither
    half = _img(arr).resize((w, h // 2), Image.Resampling.BILINEAR).convert("1")  # Floyd-Steinberg dither
    out = np.array(half.resize((w, h), Image.Resampling.NEAREST).convert("L"), dtype=np.float32)
    for y in rng.integers(0, h, size=int(rng.integers(2, 6))):  # line dropouts of a noisy phone line
        out[y : y + int(rng.integers(1, 4))] = 255
    return _img(_speckle(out, rng, 0.0008))


def photocopy(img: Image.Image, rng: np.random.Generator, generations: int = 3) -> Image.Image:
    """Each generation: blur, harder contrast, toner loss in patches, speckle, and a darker edge where the
    copier's lid did not meet the glass."""
    arr = _arr(img)
    h, w = arr.shape
    for _ in range(generations):
        arr = _arr(_img(arr).filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 0.9)))))
        arr = 255 * (arr / 255) ** 1.35  # toner darkens what is dark
        loss = _low_frequency(arr.shape, rng) > 0.75
        arr = np.where(loss & (arr < 160), arr + rng.uniform(50, 90), arr)  # faded toner in patches
        arr = _speckle(arr, rng, 0.0012)
        edge = int(rng.integers(15, 45))
        ragged = (rng.random(h) * 12).astype(int)
        for side in ("left", "right", "top"):
            if side == "left":
                for y in range(h):
                    arr[y, : edge + ragged[y]] *= 0.25
            elif side == "right":
                for y in range(0, h, 1):
                    arr[y, w - edge // 2 - ragged[y] :] *= 0.3
            else:
                arr[: edge // 2] *= 0.3
        shift = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).rotate(
            float(rng.uniform(-0.4, 0.4)), resample=Image.Resampling.BILINEAR, fillcolor=40
        )
        arr = _arr(shift)
    return _img(arr)


def skew(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    angle = float(rng.uniform(2.0, 5.0)) * (1 if rng.random() < 0.5 else -1)
    out = img.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    arr = _arr(out.filter(ImageFilter.GaussianBlur(0.6)))
    return _img(_speckle(40 + arr * 0.8, rng, 0.0005))


def low_contrast(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    ink, paper = float(rng.uniform(135, 170)), float(rng.uniform(195, 225))
    arr = _arr(img.filter(ImageFilter.GaussianBlur(0.9)))
    arr = ink + arr / 255 * (paper - ink)
    arr = arr * (0.92 + 0.08 * _low_frequency(arr.shape, rng))  # uneven lighting
    return _img(arr + rng.normal(0, 5, arr.shape))


def jpeg_damage(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    small = img.filter(ImageFilter.GaussianBlur(0.6)).resize(
        (A4[0] * 3 // 5, A4[1] * 3 // 5), Image.Resampling.BILINEAR
    )
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=int(rng.integers(6, 12)))
    return Image.open(io.BytesIO(buf.getvalue())).convert("L")


def stamp_and_sign(img: Image.Image, rng: np.random.Generator, when: str) -> Image.Image:
    """A red 'received' stamp across the text and a blue signature over the last lines: a colour scan."""
    rgb = img.convert("RGB")
    layer = Image.new("L", (560, 260), 0)
    ld = ImageDraw.Draw(layer)
    ld.rounded_rectangle([6, 6, 553, 253], radius=22, outline=255, width=7)
    ld.rounded_rectangle([22, 22, 537, 237], radius=16, outline=255, width=3)
    f_big, f_small = _font("truetype/dejavu/DejaVuSans.ttf", 50), _font("truetype/dejavu/DejaVuSans.ttf", 30)
    ld.text((280, 70), "RECEIVED", font=f_big, fill=255, anchor="mm")
    ld.text((280, 135), when, font=f_big, fill=255, anchor="mm")
    ld.text((280, 200), "CHILDREN'S SERVICES", font=f_small, fill=255, anchor="mm")
    layer = layer.rotate(float(rng.uniform(-18, 18)), resample=Image.Resampling.BICUBIC, expand=True)
    mask = _img(_arr(layer) * float(rng.uniform(0.55, 0.8)) * (_low_frequency(layer.size[::-1], rng, 5) > 0.2))
    x, y = int(rng.uniform(0.25, 0.55) * A4[0]), int(rng.uniform(0.15, 0.55) * A4[1])
    rgb.paste(Image.new("RGB", layer.size, (200, 30, 40)), (x, y), mask)
    sig = Image.new("L", A4, 0)
    sd = ImageDraw.Draw(sig)
    x0, y0 = int(rng.uniform(150, 500)), int(rng.uniform(0.6, 0.85) * A4[1])
    pts = [(x0 + t * 7, y0 + 45 * math.sin(t / (3 + rng.random())) + 25 * math.sin(t / 1.7)) for t in range(90)]
    sd.line(pts, fill=255, width=5, joint="curve")
    rgb.paste(Image.new("RGB", A4, (30, 50, 170)), (0, 0), sig)
    arr = _arr(rgb.filter(ImageFilter.GaussianBlur(0.5)))
    return _img(arr + rng.normal(0, 4, arr.shape)).convert("RGB")


def punched_and_stained(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Two punch holes (dark: the scanner lid behind them) and a coffee ring across the text."""
    arr = _arr(img)
    h, w = arr.shape
    yy, xx = np.mgrid[0:h, 0:w]
    for cy in (int(h * 0.32), int(h * 0.68)):
        cx = int(rng.integers(45, 85))
        arr[(yy - cy) ** 2 + (xx - cx) ** 2 < 42**2] = 25
    inked = np.flatnonzero(arr.min(axis=1) < 128)
    cx, cy, r = rng.uniform(0.35, 0.7) * w, rng.uniform(inked[0], inked[-1]), rng.uniform(160, 240)  # over the text
    dist = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
    ring = np.exp(-(((dist - r) / 9.0) ** 2)) * rng.uniform(0.35, 0.55)
    stain = (dist < r) * 0.08
    arr = arr * (1 - ring - stain)
    arr = _arr(_img(arr).filter(ImageFilter.GaussianBlur(0.5)))
    return _img(_speckle(arr, rng, 0.0006))


def low_dpi(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    small = img.filter(ImageFilter.GaussianBlur(0.5)).resize(
        (A4[0] * 3 // 4, A4[1] * 3 // 4), Image.Resampling.BILINEAR
    )
    return _img(_speckle(_arr(small), rng, 0.004))


def light_scan(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    arr = _arr(img.rotate(float(rng.uniform(-0.8, 0.8)), resample=Image.Resampling.BICUBIC, fillcolor=255))
    arr = _arr(_img(arr).filter(ImageFilter.GaussianBlur(0.5)))
    return _img(_speckle(20 + arr * 0.88, rng, 0.0004))


def illegible(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A copy of a copy until nothing is left: black toner everywhere, text gone."""
    arr = _arr(photocopy(img, rng, generations=2))
    arr = _arr(_img(arr).filter(ImageFilter.GaussianBlur(9))) * 0.35
    return _img(_speckle(arr, rng, 0.02))


# ---- one page --------------------------------------------------------------------------------------------------
def make_page(page_id: str, kind: str, paragraphs: list[str], split: str, seed: int) -> HardPage:
    """One hard page of ``kind`` from a document's paragraphs (its first is the title)."""
    rng = np.random.default_rng([seed, *page_id.encode()])
    printed_font = _pick(rng, PRINTED_FONTS[split])
    hand_font = _pick(rng, HAND_FONTS[split])
    is_form = kind in ("form", "low_dpi_form")
    with_note = kind == "margin_note" or (not is_form and kind != ILLEGIBLE and rng.random() < 0.3)
    page = (
        boxed_form(paragraphs, printed_font, rng)
        if is_form
        else letter(paragraphs, printed_font, rng, 0.68 if with_note else 0.86)
    )
    if kind == "fax":  # the sending machine's header line
        header = f"FROM: 01632 {int(rng.integers(100000, 999999))}   CHILDREN'S SERVICES   P.01/01"
        page.draw.rectangle([0, 40, A4[0], 100], fill=255)
        page.line(60, 50, header, _font("truetype/dejavu/DejaVuSansMono.ttf", 26))
        page.printed.insert(0, page.printed.pop())
    if with_note:
        add_margin_note(page, rng, hand_font, split)
    img, rotation, fmt = page.img, 0, "png"
    if kind == "fax":
        img, fmt = fax(img, rng), "tiff"
    elif kind == "photocopy":
        img, fmt = photocopy(img, rng), "pdf"
    elif kind == "skew":
        img = skew(img, rng)
    elif kind == "rotated":
        rotation = int(_pick(rng, (90, 180, 270)))
        img = light_scan(img, rng).rotate(rotation, expand=True)
    elif kind == "low_contrast":
        img = low_contrast(img, rng)
    elif kind == "jpeg":
        img, fmt = jpeg_damage(img, rng), "jpeg"
    elif kind == "stamp":
        img, fmt = stamp_and_sign(img, rng, f"{int(rng.integers(1, 29)):02d} MAR 2021"), "jpeg"
    elif kind in ("punched",):
        img = punched_and_stained(img, rng)
    elif kind == "low_dpi_form":
        img = low_dpi(img, rng)
    elif kind == ILLEGIBLE:
        img = illegible(img, rng)
    else:  # form, margin_note: an ordinary office scan
        img = light_scan(img, rng)
    return HardPage(
        page_id,
        kind,
        split,
        f"{page_id}.{ {'tiff': 'tif', 'jpeg': 'jpg'}.get(fmt, fmt) }",
        encode(img, fmt),
        page.printed,
        page.handwritten,
        rotation,
        printed_font,
        hand_font if with_note else "",
    )


def encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "tiff":
        img.convert("1").save(buf, "TIFF", compression="group4", dpi=(204, 196))
    elif fmt == "pdf":
        img.save(buf, "PDF", resolution=float(DPI))
    elif fmt == "jpeg":
        img.save(buf, "JPEG", quality=90, dpi=(120, 120))
    else:
        img.save(buf, "PNG", dpi=(DPI, DPI))
    return buf.getvalue()


# ---- a set ---------------------------------------------------------------------------------------------------
def document_paragraphs(seed: int, split: str, children: int = 4) -> list[list[str]]:
    """Document pages of a small synthetic council as paragraphs (lines of the page), the first a title."""
    from lake.progress import no_progress
    from synth.council import SynthOptions, build_world, compose_base

    opts = SynthOptions(out=Path("."), children=children, seed=seed, split=split)
    content = compose_base(build_world(opts), opts, no_progress)
    pages = [p["text"].split("\n") for p in content.pages if p["page"] == 1 and len(p["text"]) > 400]
    return [[line for line in page if line.strip()] for page in pages]


def make_set(out: Path, *, seed: int, split: str, per_kind: int = 3, kinds: tuple[str, ...] = KINDS) -> list[HardPage]:
    """``per_kind`` pages of every kind into ``out`` (the files and ``truth.json``); returns the pages."""
    out.mkdir(parents=True, exist_ok=True)
    sources = document_paragraphs(seed, split)
    pages = []
    for k, kind in enumerate(kinds):
        for i in range(per_kind):
            paragraphs = sources[(k * per_kind + i) % len(sources)]
            page = make_page(f"{split}-{seed}-{kind}-{i}", kind, paragraphs, split, seed)
            (out / page.file_name).write_bytes(page.data)
            pages.append(page)
    (out / "truth.json").write_text(json.dumps([p.truth() for p in pages], indent=1))
    return pages
