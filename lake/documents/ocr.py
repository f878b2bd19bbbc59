"""One page image to text, honestly: cleaned, turned upright, read by two engines, and what cannot be read
marked as such.

The steps (measured on the hard-scan set's tuning part, ``caselake eval documents --hard --tuning``; decision 0034):

1. **Clean**: coloured ink (a red stamp, a blue signature) is taken off a colour scan; contrast is stretched;
   dark copier edges and solid blobs (punch holes) are whitened.
2. **Upright**: Tesseract's orientation detector turns a page on its side or upside down; a projection profile
   then straightens skew up to ±6°.
3. **Normalised**: the page is scaled so its text is about the size Tesseract reads best, denoised and
   binarised with Sauvola's local threshold (low contrast, uneven light); ruling lines of forms are removed.
4. **Read twice**: Tesseract (Debian's ``tesseract-ocr-eng`` data through tesserocr) finds and reads the lines;
   a line it reads with low confidence is read again by EasyOCR's recogniser and the more confident reading
   is kept.
5. **Flagged, not guessed**: a line that looks handwritten (a logistic regression over both engines'
   confidence and agreement, the line's place against the text column, its size and slope) becomes ``[handwritten note — read the image]``; a line
   read with low confidence is kept with ``[unclear]`` before it, a line neither engine finds words in is only
   ``[unclear]``; a page where almost nothing
   reads is ``[page could not be read — read the image]``. Each flag carries its box as fractions of the upright
   page.
"""

from __future__ import annotations

import functools
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HANDWRITTEN_MARK = "[handwritten note — read the image]"
UNCLEAR_MARK = "[unclear]"
UNREADABLE_MARK = "[page could not be read — read the image]"
READ, FLAGGED, UNREADABLE = "read", "flagged", "unreadable"
TESSDATA = Path("/usr/share/tesseract-ocr/5/tessdata")


@dataclass(frozen=True)
class OcrSettings:
    target_x_height: float = 21.0  # px: text is scaled to this median character height before reading
    second_opinion_below: float = 0.90  # a Tesseract line under this confidence is read by EasyOCR too
    unclear_below: float = 0.55  # a line whose best reading is under this is marked unclear
    unreadable_below_chars: int = 15  # a page with fewer confidently read characters is unreadable
    max_skew: float = 6.0
    # An ink speck smaller than this share of target_x_height² with no letter near it is scan noise, which
    # Tesseract otherwise reads as stray punctuation (the council's 120 dpi scans: CER 3.6% with, 0.8% without).
    speck_area: float = 0.03
    # Tesseract reads the binarised page; a page it reads under this mean confidence is read again from the
    # grey page masked to its ink (toner loss and JPEG damage break binarised strokes) and the better kept.
    grey_below: float = 0.93


@dataclass
class Line:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the normalised page
    text: str
    confidence: float
    engine: str
    kind: str = "printed"  # printed | handwritten | unclear
    features: dict = field(default_factory=dict)
    row: int | None = None  # top of the Tesseract line it was split from: parts of one line keep their order


@dataclass
class PageReading:
    text: str
    confidence: float | None
    status: str
    flags: list[dict]
    rotation: int
    seconds: dict[str, float]
    lines: list[Line] = field(default_factory=list)
    size: tuple[int, int] = (0, 0)  # the normalised page the line boxes are on


def _limit_image(image, max_side: int):
    """A PIL image or pixel array scaled down so its longer side is at most ``max_side``."""
    from PIL import Image

    size = image.shape[::-1] if isinstance(image, np.ndarray) else image.size
    if max(size) <= max_side:
        return image
    f = max_side / max(size)
    img = Image.fromarray(image) if isinstance(image, np.ndarray) else image
    small = img.resize((int(size[0] * f), int(size[1] * f)), Image.Resampling.LANCZOS)
    return np.asarray(small) if isinstance(image, np.ndarray) else small


# ---- cleaning ----------------------------------------------------------------------------------------------
def to_gray(image) -> np.ndarray:
    """8-bit grey; on a colour scan, strongly coloured pixels (stamps, coloured pen) become paper."""
    from PIL import Image

    if isinstance(image, np.ndarray):
        return image if image.ndim == 2 else np.asarray(Image.fromarray(image).convert("L"))
    if image.mode in ("RGB", "RGBA", "P", "CMYK"):
        rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
        gray = np.asarray(image.convert("L"), dtype=np.uint8).copy()
        chroma = rgb.max(axis=2) - rgb.min(axis=2)
        gray[chroma > 60] = 255
        return gray
    return np.asarray(image.convert("L"))


def stretch(gray: np.ndarray) -> np.ndarray:
    """Contrast from the ink's level to the paper's (the 99.5th percentile) on the page's central part (edges may
    be copier black).

    The ink's level is the 5th percentile of the pixels darker than Otsu's threshold, not a percentile of the
    whole page: on a page with a few lines of text (a certificate), under 1% of pixels are ink, the page's 1st
    percentile is paper, and stretching paper to black made its speckle into "text".
    """
    from skimage.filters import threshold_otsu

    h, w = gray.shape
    core = gray[h // 10 : h - h // 10, w // 10 : w - w // 10]
    if core.size == 0 or core.min() == core.max():
        return gray
    hi = np.percentile(core, 99.5)
    dark = core[core < threshold_otsu(core)]
    lo = np.percentile(dark, 5) if dark.size else np.percentile(core, 1)
    if hi - lo < 10:
        return gray
    out = (gray.astype(np.float32) - lo) * (255.0 / (hi - lo))
    return np.clip(out, 0, 255).astype(np.uint8)


def whiten_edges_and_blobs(gray: np.ndarray) -> np.ndarray:
    """Dark bands at the page's edges (a copier's lid) and solid dark blobs (punch holes) become paper."""
    import cv2

    out = gray.copy()
    dark = (out < 100).astype(np.uint8)
    h, w = out.shape
    # Edge bands: columns/rows from each side while mostly dark.
    for axis, size in ((0, w), (1, h)):
        frac = dark.mean(axis=axis)
        for order in (range(size), range(size - 1, -1, -1)):
            last = None
            for i in order:
                if frac[i] < 0.5:
                    break
                last = i
            if last is not None:
                lo, hi = (0, last + 8) if order.start == 0 else (max(0, last - 8), size)
                if axis == 0:
                    out[:, lo:hi] = 255
                else:
                    out[lo:hi, :] = 255
    n, labels, stats, _ = cv2.connectedComponentsWithStats((out < 100).astype(np.uint8), connectivity=8)
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        fill = area / max(1, bw * bh)
        touches = x == 0 or y == 0 or x + bw >= w or y + bh >= h
        if (bw > 40 and bh > 40 and fill > 0.6) or (touches and (bw > w * 0.3 or bh > h * 0.3)):
            out[labels == i] = 255
    return out


def rotate_right_way_up(gray: np.ndarray, osd, api) -> tuple[np.ndarray, int]:
    """Turned the way Tesseract's orientation detector says, checked by reading: ``(page, degrees turned)``.

    The detector is sure of a page on its side, but on dithered faxes it called upright pages upside down (2 of
    6 on the tuning part, confidence up to 9). So each way it proposes is read against the same way turned by
    180° on a band of the page, and the better-read way wins.
    """
    from PIL import Image

    small = Image.fromarray(gray)
    if max(gray.shape) > 2400:
        small = small.reduce(2)
    osd.SetImage(small)
    try:
        found = osd.DetectOrientationScript()
    except RuntimeError:
        found = None
    degrees = int(found["orient_deg"]) if found and found.get("orient_conf", 0) >= 1.0 else 0
    if degrees == 0:
        return gray, 0
    proposed = small.rotate(degrees, expand=True)
    flipped = proposed.rotate(180)
    if _band_confidence(api, flipped) > _band_confidence(api, proposed) + 5:
        degrees = (degrees + 180) % 360
    if degrees == 0:
        return gray, 0
    return np.asarray(Image.fromarray(gray).rotate(degrees, expand=True, fillcolor=255)), degrees


def _band_confidence(api, page) -> float:
    """Tesseract's mean word confidence (0-100) on the middle third of a page."""
    w, h = page.size
    api.SetImage(page.crop((0, h // 3, w, 2 * h // 3)))
    return float(api.MeanTextConf())


def skew_angle(gray: np.ndarray, max_angle: float) -> float:
    """The angle whose row ink profile is sharpest (text lines horizontal), coarse then fine."""
    from PIL import Image

    small = Image.fromarray(gray)
    while max(small.size) > 900:
        small = small.reduce(2)

    def score(angle: float) -> float:
        ink = np.asarray(small.rotate(float(angle), resample=Image.Resampling.NEAREST, fillcolor=255)) < 128
        return float(np.var(ink.sum(axis=1)))

    coarse = max(np.arange(-max_angle, max_angle + 1e-9, 0.5), key=score)
    return float(max(np.arange(coarse - 0.5, coarse + 0.5 + 1e-9, 0.1), key=score))


def character_height(binary_ink: np.ndarray) -> float | None:
    """Median height of character-sized connected components (None for a page with too few)."""
    import cv2

    n, _, stats, _ = cv2.connectedComponentsWithStats(binary_ink.astype(np.uint8), connectivity=8)
    if n < 20:
        return None
    hs, ws = stats[1:, 3], stats[1:, 2]
    keep = (hs >= 6) & (hs <= 200) & (ws <= hs * 3) & (stats[1:, 4] >= 12)
    if keep.sum() < 20:
        return None
    return float(np.median(hs[keep]))


def binarise(gray: np.ndarray, window: int = 31, k: float = 0.2) -> np.ndarray:
    """Ink as True: median-denoised, Sauvola's local threshold (handles low contrast and uneven light).

    Sauvola's ``mean · (1 + k · (std / 127.5 − 1))`` over a ``window``² box, from OpenCV box filters: the same
    threshold as scikit-image's ``threshold_sauvola`` (no pixel differed on the tuning pages) in a tenth of the
    time, which was half the cleaning step's.
    """
    import cv2

    smooth = cv2.medianBlur(gray, 3).astype(np.float64)
    mean = cv2.boxFilter(smooth, -1, (window, window), borderType=cv2.BORDER_REFLECT)
    mean_sq = cv2.boxFilter(smooth * smooth, -1, (window, window), borderType=cv2.BORDER_REFLECT)
    std = np.sqrt(np.clip(mean_sq - mean * mean, 0, None))
    return smooth < mean * (1 + k * (std / 127.5 - 1))


def remove_rules(ink: np.ndarray, x_height: float) -> np.ndarray:
    """Long horizontal and vertical strokes (form boxes, underlines) and hollow tick boxes taken out."""
    import cv2

    img = ink.astype(np.uint8) * 255
    long = max(40, int(x_height * 4))
    horizontal = cv2.morphologyEx(img, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (long, 1)))
    vertical = cv2.morphologyEx(img, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, long)))
    rules = cv2.dilate(cv2.bitwise_or(horizontal, vertical), np.ones((3, 3), np.uint8))
    out = (img > 0) & ~(rules > 0)
    # Hollow squares about a character high: tick boxes.
    n, labels, stats, _ = cv2.connectedComponentsWithStats(out.astype(np.uint8), connectivity=8)
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        square = 0.8 * x_height < bw < 3 * x_height and 0.8 * x_height < bh < 3 * x_height and abs(bw - bh) < 0.25 * bw
        if square and area < 0.45 * bw * bh and _framed(out[y : y + bh, x : x + bw]):
            out[labels == i] = False
    return out


def remove_specks(ink: np.ndarray, x_height: float, area_share: float) -> np.ndarray:
    """Ink specks (smaller than ``area_share`` of a character's square) with no letter within about half a
    character taken out; a full stop or an i's dot sits by its letter and stays."""
    import cv2

    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    small = stats[:, 4] < area_share * x_height * x_height
    small[0] = False
    if not small.any():
        return ink
    letters = (labels > 0) & ~small[labels]
    r = max(1, int(x_height * 0.6))
    near_letters = cv2.dilate(letters.astype(np.uint8), np.ones((r, 2 * r), np.uint8)) > 0
    small[np.unique(labels[near_letters & small[labels]])] = False
    return ink & ~small[labels]


def binary_page(ink: np.ndarray):
    from PIL import Image

    return Image.fromarray(np.where(ink, 0, 255).astype(np.uint8))


def masked_grey_page(gray: np.ndarray, ink: np.ndarray):
    """The grey page where there is ink (and a pixel around it), paper elsewhere: Tesseract's LSTM reads the
    grey strokes, the noise the binarising removed stays removed."""
    import cv2
    from PIL import Image

    near_ink = cv2.dilate(ink.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return Image.fromarray(np.where(near_ink, gray, 255).astype(np.uint8))


def tesseract_lines(api, image, gap: float = 1.5) -> list[Line]:
    """Tesseract's layout and reading of a page: its text lines with their boxes and confidence.

    A line Tesseract found is split where its words stand more than ``gap`` line heights apart: Tesseract joins a
    note in the margin to the typed line beside it ("...with unmet medical needs. COPY TO IRO"), which then
    reads as one printed line and hides the note from the handwriting flag.
    """
    import tesserocr

    api.SetImage(image)
    api.Recognize()
    rows: list[list[tuple[tuple[int, int, int, int], str, float]]] = []
    word, line = tesserocr.RIL.WORD, tesserocr.RIL.TEXTLINE
    for r in tesserocr.iterate_level(api.GetIterator(), word):
        if r.IsAtBeginningOf(line) or not rows:
            rows.append([])  # before the word is read: a line whose first word has no text still starts here
        try:
            text = (r.GetUTF8Text(word) or "").strip()
        except RuntimeError:  # tesserocr raises for a word with no text at all (a page of noise)
            continue
        box = r.BoundingBox(word)
        if text and box is not None:
            rows[-1].append((tuple(int(v) for v in box), text, r.Confidence(word) / 100.0))
    lines: list[Line] = []
    for words in rows:
        if not words:
            continue
        height = float(np.median([b[3] - b[1] for b, _, _ in words]))
        row = min(b[1] for b, _, _ in words)
        segment = [words[0]]
        for w in words[1:]:
            if w[0][0] - segment[-1][0][2] > gap * height:
                lines.append(_joined(segment, row))
                segment = []
            segment.append(w)
        lines.append(_joined(segment, row))
    return lines


def _joined(words: list[tuple[tuple[int, int, int, int], str, float]], row: int) -> Line:
    """One line from its words: their union box, their text, their confidence weighted by length."""
    boxes = np.array([b for b, _, _ in words])
    box = (int(boxes[:, 0].min()), int(boxes[:, 1].min()), int(boxes[:, 2].max()), int(boxes[:, 3].max()))
    text = " ".join(t for _, t, _ in words)
    confidence = float(np.average([c for _, _, c in words], weights=[len(t) for _, t, _ in words]))
    return Line(box, text, confidence, "tesseract", row=row)


def mean_confidence(lines: list[Line]) -> float:
    """Tesseract's confidence over a page's lines, weighted by their length (0 for no lines)."""
    if not lines:
        return 0.0
    return float(np.average([ln.confidence for ln in lines], weights=[max(1, len(ln.text)) for ln in lines]))


def _framed(crop: np.ndarray) -> bool:
    """Ink along all four sides of the crop: a drawn box, not a letter such as C or O."""
    band = max(2, min(crop.shape) // 10)
    sides = (crop[:band].any(axis=0), crop[-band:].any(axis=0), crop[:, :band].any(axis=1), crop[:, -band:].any(axis=1))
    return all(side.mean() > 0.85 for side in sides)


# ---- the reader --------------------------------------------------------------------------------------------
class PageReader:
    """Reads page images; Tesseract and EasyOCR load once and are kept."""

    def __init__(self, settings: OcrSettings | None = None, easyocr_reader=None):
        self.settings = settings or OcrSettings()
        self._api = None
        self._osd = None
        self._easy = easyocr_reader

    @property
    def api(self):
        if self._api is None:
            import tesserocr

            if not (TESSDATA / "eng.traineddata").exists():
                raise FileNotFoundError(f"{TESSDATA}/eng.traineddata is missing: run scripts/install-system-deps.sh")
            self._api = tesserocr.PyTessBaseAPI(
                path=str(TESSDATA) + "/", lang="eng", psm=tesserocr.PSM.AUTO, oem=tesserocr.OEM.LSTM_ONLY
            )
        return self._api

    @property
    def osd(self):
        """Orientation detection: its own engine on ``osd.traineddata`` (an ``eng`` engine asked for it aborts)."""
        if self._osd is None:
            import tesserocr

            self._osd = tesserocr.PyTessBaseAPI(path=str(TESSDATA) + "/", lang="osd", psm=tesserocr.PSM.OSD_ONLY)
        return self._osd

    def set_easyocr(self, reader) -> None:
        self._easy = reader

    def prepare(self, image) -> tuple[np.ndarray, np.ndarray, int, float]:
        """(grey page, ink mask, degrees turned, scale applied): cleaned, upright, straight, normalised."""
        from PIL import Image

        gray = whiten_edges_and_blobs(stretch(to_gray(image)))
        gray, turned = rotate_right_way_up(gray, self.osd, self.api)
        angle = skew_angle(gray, self.settings.max_skew)
        if abs(angle) >= 0.15:
            gray = np.asarray(
                Image.fromarray(gray).rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255, expand=False)
            )
        ink = binarise(gray)
        height = character_height(ink)
        scale = 1.0
        if height:
            scale = float(np.clip(self.settings.target_x_height / height, 0.4, 3.0))
        if abs(scale - 1) > 0.1:
            size = (int(gray.shape[1] * scale), int(gray.shape[0] * scale))
            gray = np.asarray(Image.fromarray(gray).resize(size, Image.Resampling.LANCZOS))
            ink = binarise(gray)
        ink = remove_rules(ink, self.settings.target_x_height)
        ink = remove_specks(ink, self.settings.target_x_height, self.settings.speck_area)
        return gray, ink, turned, scale

    def read(self, image) -> PageReading:
        import tesserocr

        seconds: dict[str, float] = {}
        t0 = time.perf_counter()
        gray, ink, turned, _ = self.prepare(image)
        seconds["prepare"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        api = self.api
        api.SetPageSegMode(tesserocr.PSM.AUTO)
        lines = tesseract_lines(api, binary_page(ink))
        if mean_confidence(lines) < self.settings.grey_below:
            again = tesseract_lines(api, masked_grey_page(gray, ink))
            if mean_confidence(again) > mean_confidence(lines):
                lines = again
        seconds["tesseract"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        h, w = gray.shape
        body = text_column(lines, w)
        if self._easy is not None:
            self._second_opinion(gray, lines, body)
        seconds["easyocr"] = time.perf_counter() - t2
        for line in lines:
            line.features = line_features(line, ink, lines, body)
        classify(lines, self.settings)
        return assemble(lines, (w, h), turned, seconds, self.settings)

    def _second_opinion(self, gray: np.ndarray, lines: list[Line], body: tuple[float, float]) -> None:
        """Lines Tesseract read with low confidence, and lines mostly outside the text column (where margin notes
        are, which Tesseract may read confidently and wrongly), read again by EasyOCR; the more confident kept."""
        weak = [
            ln
            for ln in lines
            if ln.confidence < self.settings.second_opinion_below or outside_column(ln.box, body) >= 0.5
        ]
        if not weak:
            return
        boxes = [[ln.box[0], ln.box[2], ln.box[1], ln.box[3]] for ln in weak]
        found = self._easy.recognize(gray, horizontal_list=boxes, free_list=[], detail=1)
        for ln, (_, text, conf) in zip(weak, found, strict=False):
            ln.features["tesseract_text"], ln.features["tesseract_conf"] = ln.text, ln.confidence
            ln.features["easyocr_text"], ln.features["easyocr_conf"] = text, float(conf)
            if float(conf) > ln.confidence and text.strip():
                ln.text, ln.confidence, ln.engine = text.strip(), float(conf), "easyocr"


def text_column(lines: list[Line], width: int) -> tuple[float, float]:
    """The page's text column (left, right): where its wide lines start, and where most of them end."""
    if not lines:
        return 0.0, float(width)
    wide = [ln for ln in lines if ln.box[2] - ln.box[0] > 0.3 * width] or lines
    return float(np.median([ln.box[0] for ln in wide])), float(np.percentile([ln.box[2] for ln in wide], 90))


def outside_column(box: tuple[int, int, int, int], column: tuple[float, float]) -> float:
    """How much of a line lies outside the text column, as a share of its width (0 to 1)."""
    x0, _, x1, _ = box
    outside = max(0.0, column[0] - x0) + max(0.0, x1 - column[1])
    return min(1.0, outside / max(1, x1 - x0))


def line_features(line: Line, ink: np.ndarray, lines: list[Line], column: tuple[float, float]) -> dict:
    """What tells a handwritten line from a printed one: how both engines fared, where it stands against the
    page's text column, its size and its slope."""
    from rapidfuzz.distance import Levenshtein

    x0, y0, x1, y1 = line.box
    crop = ink[y0:y1, x0:x1]
    heights = [ln.box[3] - ln.box[1] for ln in lines]
    f = dict(line.features)
    f["height_ratio"] = (y1 - y0) / max(1.0, float(np.median(heights)))
    f["ink_density"] = float(crop.mean()) if crop.size else 0.0
    t_text, e_text = f.get("tesseract_text", line.text), f.get("easyocr_text")
    f["agreement"] = 1.0 if e_text is None else float(Levenshtein.normalized_similarity(t_text.lower(), e_text.lower()))
    f["tesseract_conf"] = f.get("tesseract_conf", line.confidence)
    f["easyocr_conf"] = f.get("easyocr_conf", line.confidence)
    f["outside_body"] = outside_column(line.box, column)
    f["slope"] = _slope(crop)
    return f


def _slope(crop: np.ndarray) -> float:
    """Absolute slope, in degrees, of the line through the lowest ink of each column (the baseline's tilt)."""
    if crop.size == 0 or crop.shape[1] < 20:
        return 0.0
    cols = np.flatnonzero(crop.any(axis=0))
    if len(cols) < 10:
        return 0.0
    bottoms = np.array([np.flatnonzero(crop[:, c])[-1] for c in cols], dtype=float)
    keep = bottoms >= np.percentile(bottoms, 40)  # descenders and gaps aside, the baseline
    if keep.sum() < 5:
        return 0.0
    slope = np.polyfit(cols[keep].astype(float), bottoms[keep], 1)[0]
    return float(abs(np.degrees(np.arctan(slope))))


def classify(lines: list[Line], settings: OcrSettings) -> None:
    model = handwriting_model()
    for line in lines:
        f = line.features
        if f["tesseract_conf"] < NOISE_BELOW and f["easyocr_conf"] < NOISE_BELOW:
            line.kind = "noise"  # neither engine found words: a copier's smudge, or text past reading
        elif handwriting_score(f, model) >= model["threshold"]:
            line.kind = "handwritten"
        elif line.confidence < settings.unclear_below:
            line.kind = "unclear"


NOISE_BELOW = 0.15
HANDWRITING_MODEL = Path(__file__).with_name("handwriting.json")


@functools.cache
def handwriting_model() -> dict:
    """The handwriting classifier's weights: a logistic regression over :func:`line_features`, fitted on the
    hard-scan set's tuning part (``evaluation.hard_scans.fit_handwriting``); a file in the repository, so every
    machine flags the same lines."""
    return json.loads(HANDWRITING_MODEL.read_text())


def feature_vector(f: dict, names: list[str]) -> np.ndarray:
    clipped = {**f, "height_ratio": min(f["height_ratio"], 3.0), "slope": min(f["slope"], 8.0)}
    return np.array([float(clipped[n]) for n in names])


def handwriting_score(f: dict, model: dict) -> float:
    """The probability that a line is handwritten."""
    z = float(feature_vector(f, model["features"]) @ np.array(model["coefficients"])) + model["intercept"]
    return 1.0 / (1.0 + math.exp(-z))


# Tesseract guesses typographic quotes from the shape of a few pixels; which one a scan had cannot be told, and
# search and redaction should not depend on it.
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"'})


def plain_quotes(text: str) -> str:
    """Curly quotes and apostrophes read as straight ones."""
    return text.translate(_QUOTES)


def assemble(
    lines: list[Line], size: tuple[int, int], turned: int, seconds: dict, settings: OcrSettings
) -> PageReading:
    w, h = size
    ordered = sorted(lines, key=lambda ln: (ln.box[1] if ln.row is None else ln.row, ln.box[0]))
    out, flags, weights, confs = [], [], [], []
    for ln in ordered:
        box = [round(ln.box[0] / w, 4), round(ln.box[1] / h, 4), round(ln.box[2] / w, 4), round(ln.box[3] / h, 4)]
        if ln.kind == "handwritten":
            out.append(HANDWRITTEN_MARK)
            flags.append({"kind": "handwritten", "box": box, "confidence": round(ln.confidence, 3)})
            continue
        if ln.kind == "noise":
            out.append(UNCLEAR_MARK)
            flags.append({"kind": "unclear", "box": box, "confidence": round(ln.confidence, 3)})
            continue
        if ln.kind == "unclear":
            out.append(f"{UNCLEAR_MARK} {plain_quotes(ln.text)}")
            flags.append({"kind": "unclear", "box": box, "confidence": round(ln.confidence, 3)})
        else:
            out.append(plain_quotes(ln.text))
        weights.append(max(1, len(ln.text)))
        confs.append(ln.confidence)
    confident = sum(len(ln.text) for ln in ordered if ln.kind == "printed")
    confidence = round(float(np.average(confs, weights=weights)), 4) if confs else None
    if confident < settings.unreadable_below_chars and not any(f["kind"] == "handwritten" for f in flags):
        return PageReading(UNREADABLE_MARK, confidence, UNREADABLE, flags, turned, seconds, lines, size)
    status = FLAGGED if flags else READ
    return PageReading("\n".join(out), confidence, status, flags, turned, seconds, lines, size)
