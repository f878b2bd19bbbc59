"""Factor statements written by hand: sentences a worker, a parent or a child writes or says, each with the CIN
census factor codes and strengths it carries and whether each is current (issue 37).

Each author's statements are one file, ``statements/<author>.txt``. Statements come in **phrase families**: a few
statements about one situation, in different registers and with different statuses, under a header line
``## family: <slug> | <what it is about>``. A statement is one line, ``<labels> | <text>``:

- ``1B | Mum is drinking most nights again, the recycling bin was full of cans.`` (a code alone is current);
- ``3B:historic; S:recovery | ...`` (``;`` between labels; a status after ``:``);
- ``S:family_network | Nan has the boys every weekend.`` (a strength: ``S:`` and a name from
  :data:`lake.contracts.codes.STRENGTH`);
- ``- | Jayden was watching telly when I arrived.`` (no factor, no strength).

The split is by author, so by family too: the evaluation part's families, wording and registers are nobody
else's (:data:`EVAL_AUTHORS`). The lake never reads these files; the generator draws from them and the factor
classifier trains on the training part (decision 0037). GUIDE.md says how they are written.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lake.contracts.codes import CIN_FACTOR, FACTOR_STATUS, STRENGTH

STATEMENTS_DIR = Path(__file__).parent / "statements"
EVAL_AUTHORS = frozenset({"g", "h"})

_FAMILY = re.compile(r"^## family: *(?P<slug>[a-z0-9][a-z0-9-]*) *\| *(?P<about>.+?) *$")
# A second sentence inside one statement: an end mark, space, then a capital (possibly after a quote or bracket).
_SENTENCE_BREAK = re.compile(r"[.!?][\"'\u2019\u201d)]?\s+[\"'\u2018\u201c(]?[A-Z]")


@dataclass(frozen=True)
class Label:
    code: str  # a CIN factor code ("1B") or a strength ("S:recovery")
    status: str  # one of FACTOR_STATUS

    @property
    def is_strength(self) -> bool:
        return self.code.startswith("S:")

    def __str__(self) -> str:
        return self.code if self.status == "current" else f"{self.code}:{self.status}"


@dataclass(frozen=True)
class Statement:
    statement_id: str  # <author>-<line number>
    author: str
    family: str  # <author>:<slug>, unique across authors
    text: str
    labels: tuple[Label, ...]

    def codes(self, status: str = "current") -> frozenset[str]:
        return frozenset(lab.code for lab in self.labels if not lab.is_strength and lab.status == status)

    def strengths(self, status: str = "current") -> frozenset[str]:
        return frozenset(lab.code[2:] for lab in self.labels if lab.is_strength and lab.status == status)


class StatementError(ValueError):
    """A line that cannot be read: the message names the file, the line and what is wrong."""


def parse_labels(where: str, field: str) -> tuple[Label, ...]:
    field = field.strip()
    if field == "-":
        return ()
    labels = []
    for part in (p.strip() for p in field.split(";")):
        if part.startswith("S:"):
            name, _, status = part[2:].partition(":")
            code, known = f"S:{name}", name in STRENGTH
        else:
            code, _, status = part.partition(":")
            known = code in CIN_FACTOR
        status = status or "current"
        if not known:
            raise StatementError(f"{where}: unknown code or strength {part!r}")
        if status not in FACTOR_STATUS:
            raise StatementError(f"{where}: unknown status {status!r} in {part!r} (one of {', '.join(FACTOR_STATUS)})")
        labels.append(Label(code, status))
    if len({lab.code for lab in labels}) != len(labels):
        raise StatementError(f"{where}: a code given twice in {field!r}")
    return tuple(labels)


def read_author(path: Path) -> list[Statement]:
    author, family, found = path.stem, None, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        where = f"{path.name}:{number}"
        if not line.strip() or (line.startswith("#") and not line.startswith("## family:")):
            continue
        header = _FAMILY.match(line)
        if header:
            family = f"{author}:{header.group('slug')}"
            continue
        if line.startswith("## family:"):
            raise StatementError(f"{where}: a family header is '## family: <slug> | <about>', got {line!r}")
        if family is None:
            raise StatementError(f"{where}: a statement before the first family header")
        field, bar, text = line.partition(" | ")
        text = text.strip()
        if not bar or not text:
            raise StatementError(f"{where}: a statement is '<labels> | <text>', got {line!r}")
        if _SENTENCE_BREAK.search(text):
            raise StatementError(f"{where}: one sentence per statement, this has more: {text!r}")
        found.append(Statement(f"{author}-{number}", author, family, text, parse_labels(where, field)))
    return found


def statements(part: str | None = None, statements_dir: Path = STATEMENTS_DIR) -> Iterator[Statement]:
    """Every statement, or those of one part: ``"train"`` or ``"eval"`` (by author, :data:`EVAL_AUTHORS`)."""
    for path in sorted(statements_dir.glob("*.txt")):
        if part is None or (part == "eval") == (path.stem in EVAL_AUTHORS):
            yield from read_author(path)


def summary(found: list[Statement]) -> str:
    by_status = Counter(lab.status for s in found for lab in s.labels)
    codes = Counter(lab.code for s in found for lab in s.labels if lab.status == "current")
    families = {s.family for s in found}
    texts = Counter(s.text.casefold() for s in found)
    lines = [
        f"{len(found)} statements ({sum(1 for c in texts.values() if c == 1)} distinct texts), "
        f"{len(families)} families, {sum(1 for s in found if not s.labels)} with no label",
        "statuses: " + ", ".join(f"{k} {v}" for k, v in by_status.most_common()),
        "current: " + ", ".join(f"{k} {v}" for k, v in sorted(codes.items())),
        "missing current codes: " + (", ".join(c for c in CIN_FACTOR if codes[c] == 0) or "none"),
        "missing current strengths: " + (", ".join(s for s in STRENGTH if codes[f"S:{s}"] == 0) or "none"),
    ]
    repeated = [t for t, c in texts.items() if c > 1]
    if repeated:
        lines.append(f"repeated texts ({len(repeated)}): " + " || ".join(repeated[:5]))
    return "\n".join(lines)
