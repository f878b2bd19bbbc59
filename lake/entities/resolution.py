"""Person resolution: which person mentions are the same person, and which recorded person that is.

The pilot kept "Jon, John, Jonny, Johnathan, J" as five people. Here every person mention is resolved with
Splink (DuckDB backend) against the people recorded around its child (the child, the significant adults of
its relationships with all the names they have held, and its allocated workers), within that child's
network; a recorded adult linked to several children is one person across the council.

1. Mentions become *name forms*: per child, the distinct (name as written, co-mentioned kinship or
   professional role, title) with the name parsed into first name, surname or initial. "Mrs Hill", "Pat",
   "P. Hill" and "maternal grandmother Pat" are four forms.
2. Splink scores each form against each recorded person of the same child: first name (exact, alias from
   ``lake/entities/reference/name_aliases.csv`` since Splink has no nickname list, Jaro-Winkler, initial), surname,
   role, and gender from titles and kinship words. m probabilities start from stated priors; u from random
   pairs of the council's own data; both re-estimated by EM within the children's networks.
3. A form takes its best recorded person when the match probability reaches the threshold
   (``CASELAKE_RESOLUTION_THRESHOLD``, default 0.35) and clearly beats the runner-up. Taking one clear best
   match, not connected components, keeps "Mr Hill" from chaining mother and father together.
4. Unmatched full names (a GP, a teacher) become people of their own, one per name across the council (a
   worker's name maps to the worker), and the remaining forms ("Kirsty", "K. Jackson") are matched to them
   the same way.
5. A mention still unresolved takes the one person resolved in the same note, page or answer whose names (and
   gender, where a title tells it) it fits (a full name first, shortened after); any other stays a person of
   its own within its child.
6. A kinship-only mention ("Mum said", "his nan", "birth dad"; not "Nan Pat", where the name carries the link)
   links to the one recorded person of its child with that relation; with several, to the one its own sentence
   names; else to nobody (:func:`kinship_links`, docs/decisions/0018 and 0044).

Tables: ``enterprise/resolved_person`` and ``enterprise/person_mention`` (mention -> person with its match
probability and method: recorded, mentioned, same_text, unresolved, kinship, kinship_context, and kinship_usage
where decision 0018's rule is asked for).
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl
import pyarrow as pa

from lake.entities.items import MENTIONS, text_items
from lake.entities.kinship import (
    LIST_GAP,
    ROLE_GENDER,
    TITLE,
    TITLE_GAP,
    TITLE_GENDER,
    kin_relation,
    kin_side,
    read_kin_word,
    relation_class,
    sentence_starts,
)
from lake.settings import ResolutionSettings
from lake.storage.delta import ENTERPRISE, Lake, ensure_table

RESOLVED, MENTION_PERSON = "resolved_person", "person_mention"
ALIASES = Path(__file__).parent / "reference" / "name_aliases.csv"
WORKER_ROLES = ("social worker", "sw", "allocated social worker")

# Stated m probabilities (the chance a true match shows each level), from how workers write names: a full
# name a quarter of the time, a first name or a nickname half, an initial or title with surname the rest.
M_FIRST = [0.45, 0.25, 0.10, 0.15, 0.05]  # exact, alias, fuzzy, initial, other
M_SURNAME = [0.93, 0.05, 0.02]  # exact, fuzzy (typos), other (name changes)
M_ROLE = [0.97, 0.03]  # same, different
M_GENDER = [0.99, 0.01]
MIN_PAIRS_FOR_EM = 5000


@cache
def alias_groups() -> dict[str, tuple[int, ...]]:
    """name (lower case) -> ids of the alias rows it belongs to."""
    groups: dict[str, set[int]] = {}
    with ALIASES.open() as f:
        rows = csv.reader(line for line in f if not line.startswith("#"))
        next(rows)
        for i, (name, aliases) in enumerate(rows):
            for n in [name, *aliases.split()]:
                groups.setdefault(n.lower(), set()).add(i)
    return {n: tuple(sorted(g)) for n, g in groups.items()}


@dataclass(frozen=True)
class ParsedName:
    first: str | None
    surname: str | None


def parse_name(text: str, surname_only: bool) -> ParsedName:
    """'Pat Hill' -> (pat, hill); 'Pat' -> (pat, None); 'P. Hill' -> (p, hill); 'Hill' after a title -> surname."""
    words = [w for w in re.split(r"[\s.]+", text.strip()) if w]
    if not words:
        return ParsedName(None, None)
    if surname_only:
        return ParsedName(None, words[-1].lower())
    if len(words) == 1:
        return ParsedName(words[0].lower(), None)
    return ParsedName(words[0].lower(), words[-1].lower())


def _adjacent(text: str, before: dict, after: dict, most: int) -> bool:
    """Whether mention ``before`` is written right against mention ``after``: at most ``most`` characters apart
    with no letter or digit between them ('Nan Pat', 'Pat (Nan)', 'Mum: Pat'), or a title between them
    ('Mum Mrs Hale'). Without the text (a frame of mentions alone) the distance decides."""
    if before["end"] > after["start"]:
        return False
    gap = text[before["end"] : after["start"]] if text else " " * (after["start"] - before["end"])
    if len(gap) <= most and not any(c.isalnum() for c in gap):
        return True
    return bool(TITLE_GAP.fullmatch(gap))


def _role_near(ms: list[dict], i: int, text: str = "") -> tuple[str | None, str | None]:
    """The kinship or professional role written next to mention ``i``: 'Nan Pat', 'Pat (Nan)', 'GP Dr Hill',
    'Mum Mrs Hale'."""
    me = ms[i]
    near = []
    if i > 0 and _adjacent(text, ms[i - 1], me, 4):
        near.append(ms[i - 1])
    if i + 1 < len(ms) and _adjacent(text, me, ms[i + 1], 2):
        near.append(ms[i + 1])
    kin = next((m["text"] for m in near if m["label"] == "kinship_role"), None)
    prof = next((m["text"] for m in near if m["label"] == "professional_role"), None)
    return kin, prof


def next_to_person(ms: list[dict], i: int, text: str = "") -> bool:
    """Whether role mention ``i`` is written next to a person mention, whose name then carries the link."""
    return (i + 1 < len(ms) and ms[i + 1]["label"] == "person" and _adjacent(text, ms[i], ms[i + 1], 4)) or (
        i > 0 and ms[i - 1]["label"] == "person" and _adjacent(text, ms[i - 1], ms[i], 2)
    )


def name_forms(mentions: pl.DataFrame, texts: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Person mentions -> (forms, mention_id -> form_id). ``texts`` gives each item's text for titles."""
    text_of = {(r["source_type"], r["source_id"], r["page"]): r["text"] for r in texts.iter_rows(named=True)}
    rows = []
    ordered = mentions.sort(["source_type", "source_id", "page", "start"])
    for (_, _, _), group in ordered.group_by(["source_type", "source_id", "page"], maintain_order=True):
        ms = group.to_dicts()
        for i, m in enumerate(ms):
            if m["label"] != "person":
                continue
            text = text_of.get((m["source_type"], m["source_id"], m["page"]), "")
            title_match = TITLE.search(text[max(0, m["start"] - 6) : m["start"]])
            title = title_match.group(1) if title_match else None
            kin, prof = _role_near(ms, i, text)
            if title in ("Dr", "PC", "DC", "Sgt"):
                prof = prof or title
            relation = kin_relation(kin) if kin else None
            if prof and prof.lower() in WORKER_ROLES:
                relation = "social worker"
            elif prof:
                relation = f"professional:{prof.lower()}"
            name = parse_name(m["text"], surname_only=title is not None)
            gender = TITLE_GENDER.get(title or "") or ROLE_GENDER.get(relation or "")
            key = f"{m['child_id']}|{m['text'].lower()}|{relation}|{title}"
            rows.append(
                {
                    "mention_id": m["mention_id"],
                    "child_id": m["child_id"],
                    "text": m["text"],
                    "item": f"{m['source_type']}|{m['source_id']}|{m['page']}",
                    "form_id": hashlib.sha256(key.encode()).hexdigest()[:16],
                    "first_name": name.first,
                    "surname": name.surname,
                    "relation": relation,
                    "gender": gender,
                }
            )
    if not rows:
        empty = {
            "form_id": pl.String,
            "child_id": pl.String,
            "text": pl.String,
            "first_name": pl.String,
            "surname": pl.String,
            "relation": pl.String,
            "gender": pl.String,
            "mentions": pl.UInt32,
        }
        return pl.DataFrame(schema=empty), pl.DataFrame(
            schema={"mention_id": pl.String, "form_id": pl.String, "item": pl.String}
        )
    # every column a string, even one that is null throughout (a text naming nobody by surname)
    df = pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String))
    counts = df.group_by("form_id").len("mentions")
    forms = df.drop("mention_id", "item").unique("form_id", keep="first").join(counts, on="form_id").sort("form_id")
    return forms, df.select("mention_id", "form_id", "item")


def recorded_people(lake: Lake) -> pl.DataFrame:
    """Per child: the child, its related adults (every name they have held) and its allocated workers, each with
    the coarse relation (:func:`relation_class`), the side of the family where the record names one
    ('maternal grandmother' -> maternal), the gender and the date of birth."""
    live = pl.col("_deleted_at").is_null()
    person = (
        lake.scan(ENTERPRISE, "person")
        .filter(live)
        .select("person_id", "sex", pl.col("dob").cast(pl.Date), "first_name", "surname")
    )
    names = lake.scan(ENTERPRISE, "person_name").filter(live).select("person_id", "first_name", "surname")
    all_names = pl.concat([person.select("person_id", "first_name", "surname"), names]).unique()
    child = lake.scan(ENTERPRISE, "child").filter(live).select(pl.col("person_id").alias("child_id"))
    rels = lake.scan(ENTERPRISE, "relationship").filter(live).select("child_id", "person_id", "relation")
    people = (
        pl.concat(
            [
                child.select("child_id", pl.col("child_id").alias("person_id"), pl.lit("child").alias("relation")),
                rels,
            ]
        )
        .join(all_names, on="person_id")
        .join(person.select("person_id", "sex", "dob"), on="person_id", how="left")
    )
    workers = lake.scan(ENTERPRISE, "worker").filter(live).select("worker_id", "first_name", "surname")
    allocated = lake.scan(ENTERPRISE, "involvement").filter(live).select("child_id", "worker_id").unique()
    staff = allocated.join(workers, on="worker_id").select(
        "child_id",
        pl.col("worker_id").alias("person_id"),
        pl.lit("social worker").alias("relation"),
        "first_name",
        "surname",
        pl.lit(None, pl.String).alias("sex"),
        pl.lit(None, pl.Date).alias("dob"),
    )
    out = pl.concat([people, staff]).collect()
    return (
        out.with_columns(
            pl.col("first_name").str.to_lowercase(),
            pl.col("surname").str.to_lowercase(),
            pl.col("relation").map_elements(relation_class, return_dtype=pl.String),
            pl.col("relation").map_elements(kin_side, return_dtype=pl.String).alias("side"),
            pl.col("sex").replace_strict({"M": "male", "F": "female"}, default=None).alias("gender"),
        )
        .drop("sex")
        .unique()
    )


def _with_alias_groups(df: pl.DataFrame) -> pl.DataFrame:
    groups = alias_groups()
    return df.with_columns(
        pl.col("first_name")
        .map_elements(lambda n: list(groups.get(n, ())), return_dtype=pl.List(pl.Int64))
        .alias("first_groups")
    )


def _settings(prior: float):
    import splink.comparison_level_library as cll
    from splink import SettingsCreator, block_on
    from splink.comparison_library import CustomComparison

    def levels(m: list[float], sql_levels: list[tuple[str, str]], null_sql: str):
        out = [cll.CustomLevel(null_sql, "null").configure(is_null_level=True)]
        for (sql, label), m_p in zip(sql_levels, m[:-1], strict=True):
            out.append(cll.CustomLevel(sql, label).configure(m_probability=m_p))
        out.append(cll.ElseLevel().configure(m_probability=m[-1]))
        return out

    first = CustomComparison(
        comparison_levels=levels(
            M_FIRST,
            [
                ("first_name_l = first_name_r", "exact"),
                ("list_has_any(first_groups_l, first_groups_r)", "alias"),
                ("jaro_winkler_similarity(first_name_l, first_name_r) >= 0.88", "fuzzy"),
                (
                    "(length(first_name_l) = 1 OR length(first_name_r) = 1) AND first_name_l[1] = first_name_r[1]",
                    "initial",
                ),
            ],
            "first_name_l IS NULL OR first_name_r IS NULL",
        ),
        output_column_name="first_name",
    )
    surname = CustomComparison(
        comparison_levels=levels(
            M_SURNAME,
            [
                ("surname_l = surname_r", "exact"),
                ("jaro_winkler_similarity(surname_l, surname_r) >= 0.88", "fuzzy"),
            ],
            "surname_l IS NULL OR surname_r IS NULL",
        ),
        output_column_name="surname",
    )
    role = CustomComparison(
        comparison_levels=levels(
            M_ROLE, [("relation_l = relation_r", "same")], "relation_l IS NULL OR relation_r IS NULL"
        ),
        output_column_name="relation",
    )
    gender = CustomComparison(
        comparison_levels=levels(M_GENDER, [("gender_l = gender_r", "same")], "gender_l IS NULL OR gender_r IS NULL"),
        output_column_name="gender",
    )
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="record_id",
        comparisons=[first, surname, role, gender],
        blocking_rules_to_generate_predictions=[block_on("child_id")],
        probability_two_random_records_match=prior,
        retain_intermediate_calculation_columns=False,
    )


def score_forms(forms: pl.DataFrame, people: pl.DataFrame, em: bool = True) -> pl.DataFrame:
    """Splink match probabilities between each name form and the recorded people of its child (``em``: re-estimate
    the parameters by expectation maximisation when there are enough pairs)."""
    import duckdb
    from splink import DuckDBAPI, Linker, block_on

    cols = ["record_id", "child_id", "first_name", "first_groups", "surname", "relation", "gender"]
    # Sorted, and one DuckDB thread: Splink samples u pairs with DuckDB's seeded sampling, which repeats only on
    # one thread and the same row order. Without both, two loads of the same input (one on local disk, one on
    # S3, whose files list in another order) gave some name forms different methods ("recorded", "mentioned").
    left = _with_alias_groups(forms.rename({"form_id": "record_id"})).select(cols).sort("record_id")
    record_id = pl.concat_str("person_id", pl.lit("|"), pl.int_range(pl.len()).cast(pl.String))
    right = _with_alias_groups(people.sort(pl.all()).with_columns(record_id.alias("record_id")))
    con = duckdb.connect(config={"threads": 1})
    db_api = DuckDBAPI(connection=con)
    left_df = db_api.register(left.to_arrow(), dataset_display_name="forms")
    right_df = db_api.register(right.select(cols).to_arrow(), dataset_display_name="recorded")
    # Within a child's network each form is expected to be one of its recorded people (or none): that, not a
    # council-wide random pair, is the prior for a scored pair.
    per_child = left.group_by("child_id").len("forms").join(right.group_by("child_id").len("recorded"), on="child_id")
    block_pairs = int((per_child["forms"] * per_child["recorded"]).sum())
    prior = min(0.5, max(1e-4, left.height / block_pairs)) if block_pairs else 0.05

    def sampled() -> Linker:
        linker = Linker([left_df, right_df], _settings(prior), log_level=None)
        linker.training.estimate_u_using_random_sampling(max_pairs=2e5, seed=1)
        return linker

    linker = sampled()
    if em and block_pairs >= MIN_PAIRS_FOR_EM:
        # EM within the child blocks re-estimates u where it matters: among one family's members, who
        # share surnames far more often than two random people of the council do. Where some level is
        # never seen among non-matches EM drives its u to zero and Splink refuses it: that run keeps the
        # stated m and the sampled u (a fresh linker, since a failed EM may have set some values).
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on("child_id"), fix_u_probabilities=False, fix_probability_two_random_records_match=True
            )
        except ValueError:
            linker = sampled()
    pairs = pl.from_arrow(linker.inference.predict().as_pyarrow_table())
    con.close()
    form_left = pl.col("source_dataset_l") == "forms"
    pairs = pairs.select(
        pl.when(form_left).then("record_id_l").otherwise("record_id_r").alias("form_id"),
        pl.when(form_left).then("record_id_r").otherwise("record_id_l").alias("record_id"),
        "match_probability",
    )
    return pairs.join(right.select("record_id", "person_id", "relation"), on="record_id")


_ASSIGNMENT = {"form_id": pl.String, "resolved_person_id": pl.String, "match_probability": pl.Float64}
_RESOLVED = {**_ASSIGNMENT, "method": pl.String}


def _best_matches(forms: pl.DataFrame, people: pl.DataFrame, rules: ResolutionSettings) -> pl.DataFrame:
    """Each form's best candidate, kept when it reaches ``rules.threshold`` and clearly beats the runner-up (match
    odds at least ``rules.clear_winner`` times the next person's). A form without a clear winner ("Mrs Campbell"
    among three women Campbell) is then weighed by how often each candidate is mentioned in that child's
    records (from the clear matches, counted in mentions; the child itself at least ``rules.child_share``): the
    child is far more often "Miss Brady" in their own notes than an aunt is. It is kept when that share gives one
    candidate ``rules.by_share`` of the weight; otherwise it stays unresolved rather than joining one at random."""
    if forms.is_empty() or people.is_empty():
        return pl.DataFrame(schema=_ASSIGNMENT)
    candidates = (
        score_forms(forms, people, rules.em)
        .filter(pl.col("match_probability") >= rules.threshold)
        .group_by("form_id", "person_id")
        .agg(pl.col("match_probability").max())
        .sort(["form_id", "match_probability", "person_id"], descending=[False, True, False])
    )
    ranked = candidates.with_columns(
        pl.col("match_probability").shift(-1).over("form_id").fill_null(0.0).alias("runner_up")
    ).unique("form_id", keep="first")
    odds = pl.col("match_probability") / (1 - pl.col("match_probability")).clip(1e-12)
    runner_odds = pl.col("runner_up") / (1 - pl.col("runner_up")).clip(1e-12)
    clear = ranked.filter(odds >= rules.clear_winner * runner_odds).select(
        "form_id", pl.col("person_id").alias("resolved_person_id"), "match_probability"
    )
    mentions = forms.select("form_id", "child_id", "mentions")
    share = (
        clear.join(mentions, on="form_id")
        .group_by("child_id", "resolved_person_id")
        .agg(pl.col("mentions").sum())
        .with_columns((pl.col("mentions") / pl.col("mentions").sum().over("child_id")).alias("share"))
        .select("child_id", pl.col("resolved_person_id").alias("person_id"), "share")
    )
    # A child is the subject of its own records, so it holds at least ``rules.child_share`` of them, the others
    # scaled down to make room. A child named after a parent or grandparent (Keith Preston, son of Keith Preston) has
    # no clear match of its own: every form of its name ties with the adult's, so by clear matches alone its share
    # was 0 and the adult, clearly named once as "Dad Keith Preston", took every tie (decision 0029).
    subject = (
        forms.select("child_id")
        .unique()
        .join(
            share.filter(pl.col("person_id") == pl.col("child_id")).select("child_id", pl.col("share").alias("own")),
            on="child_id",
            how="left",
        )
        .with_columns(pl.col("own").fill_null(0.0))
        .with_columns(pl.max_horizontal("own", pl.lit(rules.child_share, pl.Float64)).alias("lifted"))
    )
    others = (
        share.filter(pl.col("person_id") != pl.col("child_id"))
        .join(subject, on="child_id")
        .with_columns(pl.col("share") * (1 - pl.col("lifted")) / (1 - pl.col("own")))  # own < 1 where others exist
        .select("child_id", "person_id", "share")
    )
    share = pl.concat(
        [others, subject.select("child_id", pl.col("child_id").alias("person_id"), pl.col("lifted").alias("share"))]
    )
    weighed = (
        candidates.join(clear, on="form_id", how="anti")
        .join(mentions, on="form_id")
        .join(share, on=["child_id", "person_id"], how="left")
        .with_columns((pl.col("match_probability") * pl.col("share").fill_null(0.0)).alias("weight"))
        .with_columns((pl.col("weight") / pl.col("weight").sum().over("form_id")).alias("weight_share"))
        # no candidate named in the child's clear matches: 0/0 is NaN, which polars orders above every number,
        # so without fill_nan every candidate would pass and the form would join them all
        .filter(pl.col("weight_share").fill_nan(0.0) >= rules.by_share)
        .select("form_id", pl.col("person_id").alias("resolved_person_id"), "match_probability")
    )
    return pl.concat([clear, weighed])


def _key_id(*parts: pl.Expr) -> pl.Expr:
    return pl.concat_str(*[p.fill_null("") for p in parts], separator="|").map_elements(
        lambda k: "M-" + hashlib.sha256(k.encode()).hexdigest()[:12], return_dtype=pl.String
    )


def resolve(forms: pl.DataFrame, people: pl.DataFrame, rules: ResolutionSettings) -> pl.DataFrame:
    """form_id -> resolved_person_id and match probability.

    Pass 1 matches forms to recorded people. Pass 2 treats the full names among the unmatched forms (a GP,
    a teacher, a worker from another team) as people of their own, one per name across the council, and
    matches the remaining unmatched forms ("Kirsty", "K. Jackson") to them the same way. A form left over
    is a person of its own within its child's network (no match probability)."""
    if forms.is_empty():
        return pl.DataFrame(schema=_RESOLVED)
    recorded = _best_matches(forms, people, rules)
    rest = forms.join(recorded, on="form_id", how="anti")
    named = rest.filter((pl.col("first_name").str.len_chars() > 1) & pl.col("surname").is_not_null())
    # A full name that one recorded person in the council holds is that person, even in the notes of a
    # child they are not recorded against (a worker covering a visit, an aunt named in a cousin's notes).
    unique_names = (
        people.select("first_name", "surname", "person_id")
        .unique()
        .filter(pl.col("person_id").n_unique().over("first_name", "surname") == 1)
        .select("first_name", "surname", pl.col("person_id").alias("recorded_id"))
    )
    anchors = (
        named.join(unique_names, on=["first_name", "surname"], how="left")
        .select(
            "child_id",
            pl.coalesce("recorded_id", _key_id(pl.col("first_name"), pl.col("surname"))).alias("person_id"),
            "first_name",
            "surname",
            "relation",
            "gender",
        )
        .unique(["child_id", "person_id"], keep="first")
    )
    mentioned = _best_matches(rest, anchors, rules)
    alone = rest.join(mentioned, on="form_id", how="anti").select(
        "form_id",
        _key_id(pl.col("child_id"), pl.col("text").str.to_lowercase(), pl.col("relation")).alias("resolved_person_id"),
        pl.lit(None, pl.Float64).alias("match_probability"),
    )
    return pl.concat(
        [
            recorded.with_columns(pl.lit("recorded").alias("method")),
            mentioned.with_columns(pl.lit("mentioned").alias("method")),
            alone.with_columns(pl.lit("unresolved").alias("method")),
        ]
    )


def _compatible(form: dict, name: tuple[str | None, str | None]) -> bool:
    first, surname = name
    if form["surname"] and form["surname"] != surname:
        return False
    f = form["first_name"]
    if f is None:
        return form["surname"] is not None
    if first is None:
        return False
    groups = alias_groups()
    return (
        f == first or (len(f) == 1 and first.startswith(f)) or bool(set(groups.get(f, ())) & set(groups.get(first, ())))
    )


def resolve_in_context(links: pl.DataFrame, forms: pl.DataFrame, people: pl.DataFrame) -> pl.DataFrame:
    """A mention left unresolved ("Mrs Campbell", "A. Pritchard") takes the one person resolved in the same
    note, page or answer whose names it fits: workers write a full name first and shorten it after."""
    form_of = {r["form_id"]: r for r in forms.iter_rows(named=True)}
    names: dict[str, set[tuple[str | None, str | None]]] = {}
    gender: dict[str, str] = {}
    for r in people.iter_rows(named=True):
        names.setdefault(r["person_id"], set()).add((r["first_name"], r["surname"]))
        if r.get("gender"):
            gender[r["person_id"]] = r["gender"]
    in_item: dict[str, dict[str, set]] = {}
    for r in links.filter(pl.col("method") != "unresolved").iter_rows(named=True):
        variants = in_item.setdefault(r["item"], {}).setdefault(r["resolved_person_id"], set())
        form = form_of.get(r["form_id"])
        if form is not None:  # a kinship link ("Mum said") brings its person's recorded names only
            variants.add((form["first_name"], form["surname"]))
        variants |= names.get(r["resolved_person_id"], set())
    updates = []
    for r in links.filter(pl.col("method") == "unresolved").iter_rows(named=True):
        form = form_of[r["form_id"]]
        # "Mrs Hale" is not the father Hale resolved in the same note: a title's or role's gender must agree
        fits = [
            pid
            for pid, variants in in_item.get(r["item"], {}).items()
            if any(_compatible(form, v) for v in variants)
            and not (form["gender"] and gender.get(pid) and gender[pid] != form["gender"])
        ]
        if len(fits) == 1:
            updates.append({"mention_id": r["mention_id"], "context_person_id": fits[0]})
    if not updates:
        return links
    upd = pl.DataFrame(updates)
    return (
        links.join(upd, on="mention_id", how="left")
        .with_columns(
            pl.coalesce("context_person_id", "resolved_person_id").alias("resolved_person_id"),
            pl.when(pl.col("context_person_id").is_not_null())
            .then(pl.lit("same_text"))
            .otherwise("method")
            .alias("method"),
        )
        .drop("context_person_id")
    )


KINSHIP_PROBABILITY = 0.95  # a kinship word's link to the one recorded person of the child with that relation
KINSHIP_USAGE_PROBABILITY = 0.9  # ... to the one of several the child's records write that word next to
KINSHIP_CONTEXT_PROBABILITY = 0.9  # ... to the one of several its own passage names
# Words a family uses as one person's name ("Nana", "Grandad"), so its usage can single that person out; "brother"
# or "aunt" is said of each of them (on the generated councils, usage singled out the wrong sibling 17 times in 17).
FAMILY_NAME_RELATIONS = ("grandmother", "grandfather")


def _kin_words(mentions: pl.DataFrame, texts: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kinship-only mentions with their reading; kinship words written next to a person mention: child_id, word,
    person mention_id)."""
    text_of = {(r["source_type"], r["source_id"], r["page"]): r["text"] for r in texts.iter_rows(named=True)}
    alone, named = [], []
    ordered = mentions.filter(pl.col("label").is_in(["person", "kinship_role"])).sort(
        ["source_type", "source_id", "page", "start"]
    )
    for (st, sid, page), group in ordered.group_by(["source_type", "source_id", "page"], maintain_order=True):
        ms = group.to_dicts()
        text = text_of.get((st, sid, page), "")
        for i, m in enumerate(ms):
            if m["label"] != "kinship_role":
                continue
            kin = read_kin_word(m["text"])
            if kin is None:
                continue
            word = _usage_word(m["text"])
            if next_to_person(ms, i, text):
                for j in (i - 1, i + 1):
                    if 0 <= j < len(ms) and ms[j]["label"] == "person":
                        named.append(
                            {"child_id": m["child_id"], "word": word, "person_mention_id": ms[j]["mention_id"]}
                        )
                continue
            alone.append(
                {
                    "mention_id": m["mention_id"],
                    "child_id": m["child_id"],
                    "item": f"{st}|{sid}|{page}",
                    "text": m["text"],
                    "word": word,
                    "relation": kin.relation,
                    "kin_side": kin.side,
                    "kin_gender": kin.gender,
                    "kin_age": kin.age,
                    "start": m["start"],
                    "end": m["end"],
                }
            )
    named_schema = {"child_id": pl.String, "word": pl.String, "person_mention_id": pl.String}
    alone_schema = {
        c: pl.String
        for c in ("mention_id", "child_id", "item", "text", "word", "relation", "kin_side", "kin_gender", "kin_age")
    } | {"start": pl.Int64, "end": pl.Int64}
    return pl.DataFrame(alone, schema=alone_schema), pl.DataFrame(named, schema=named_schema)


def _usage_word(text: str) -> str:
    """A kinship word as a family uses it, for comparing one mention with another: 'Nan', "nan's" -> 'nan'."""
    w = text.lower().replace("\u2019", "'").strip(" .,:;()")
    return re.sub(r"(?:'s|s')$", "", w)


_KIN_LINKS = {
    "mention_id": pl.String,
    "form_id": pl.String,
    "item": pl.String,
    "resolved_person_id": pl.String,
    "match_probability": pl.Float64,
    "method": pl.String,
    "child_id": pl.String,
    "text": pl.String,
    "relation": pl.String,
}


def _named_nearby(
    ambiguous: pl.DataFrame, named: pl.DataFrame, mentions: pl.DataFrame, texts: pl.DataFrame
) -> pl.DataFrame:
    """The one candidate of each ambiguous kinship word that its passage names (decision 0044): ``ambiguous`` the
    candidate rows (mention_id, item, start, end, person_id) of words with several; ``named`` the mentions that
    name a person (item, start, end, person_id: a name resolved to a recorded person, a word linked as the only
    one of its relation). Read outward: the word's own sentence, then the sentences either side; the first of
    those that names any candidate decides, and only if it names exactly one. A candidate named in the same list
    as the word ("Maternal grandmother Pat, Nan and Mum attended") is another person and is ruled out.
    Returns mention_id, person_id, apart (0: the word's own sentence named them, 1: a sentence beside it)."""
    text_of = {f"{r['source_type']}|{r['source_id']}|{r['page']}": r["text"] for r in texts.iter_rows(named=True)}
    items = ambiguous["item"].unique()
    spans: dict[str, list[tuple[int, int]]] = {}
    for r in (
        mentions.with_columns(
            pl.concat_str("source_type", "source_id", pl.col("page").cast(pl.String), separator="|").alias("item")
        )
        .filter(pl.col("item").is_in(items))
        .select("item", "start", "end")
        .iter_rows()
    ):
        spans.setdefault(r[0], []).append((r[1], r[2]))
    named_in: dict[str, list[dict]] = {}
    for r in named.filter(pl.col("item").is_in(items)).iter_rows(named=True):
        named_in.setdefault(r["item"], []).append(r)
    starts: dict[str, list[int]] = {}

    def list_mates(text: str, item: str, a: tuple[int, int], b: tuple[int, int]) -> bool:
        lo, hi = min(a[1], b[1]), max(a[0], b[0])
        gap = list(text[lo:hi])
        for s, e in spans.get(item, ()):  # the mentions between them are the list's other items
            for k in range(max(s, lo), min(e, hi)):
                gap[k - lo] = " "
        return bool(LIST_GAP.fullmatch("".join(gap)))

    chosen = []
    for (mention_id,), group in ambiguous.group_by(["mention_id"], maintain_order=True):
        first = group.row(0, named=True)
        item, me = first["item"], (first["start"], first["end"])
        text = text_of.get(item, "")
        if item not in starts:
            starts[item] = sentence_starts(text)
        sentence = bisect.bisect_right(starts[item], me[0])
        candidates = set(group["person_id"])
        ruled_out: set[str] = set()
        by_level: tuple[set[str], set[str]] = (set(), set())
        for n in named_in.get(item, ()):
            if n["person_id"] not in candidates or (n["start"], n["end"]) == me:
                continue
            apart = abs(bisect.bisect_right(starts[item], n["start"]) - sentence)
            if apart > 1:
                continue
            if apart == 0 and list_mates(text, item, me, (n["start"], n["end"])):
                ruled_out.add(n["person_id"])
            else:
                by_level[apart].add(n["person_id"])
        for apart, level in enumerate(by_level):
            left = level - ruled_out
            if left:
                if len(left) == 1:
                    chosen.append({"mention_id": mention_id, "person_id": left.pop(), "apart": apart})
                break
    return pl.DataFrame(chosen, schema={"mention_id": pl.String, "person_id": pl.String, "apart": pl.Int64})


def kinship_links(
    mentions: pl.DataFrame,
    texts: pl.DataFrame,
    people: pl.DataFrame,
    person_links: pl.DataFrame | None = None,
    ambiguous: str = "sentence",
) -> pl.DataFrame:
    """Kinship-only mentions ("Mum said", "his nan", "birth dad") -> the recorded person of the mention's child
    with that relation, where there is exactly one (method ``kinship``, probability
    :data:`KINSHIP_PROBABILITY`). A brother or sister is told apart by gender, an older or younger one by date
    of birth against the child's, a grandparent by the side of the family where the word names it and the
    record tells the sides apart. A word written next to a name ('Nan Pat', 'Pat (Nan)') is left to the name.

    Where several remain ("Nan" among two grandmothers), ``ambiguous`` says what decides:

    - ``"sentence"`` (the default, decision 0044): the one candidate the word's own sentence names, by a name
      resolved to them or a word that tells them apart ("maternal grandmother Pat"), not as another item of the
      same list, and not where the family writes this word next to another candidate's name only
      (:func:`_named_nearby`; method ``kinship_context``, :data:`KINSHIP_CONTEXT_PROBABILITY`);
    - ``"context"``: as ``"sentence"``, and a grandparent word a sentence either side names where the family
      also writes that word next to that grandparent's name and no other's (held-out grandad precision 0.88-0.89:
      not the default);
    - ``"family"`` (decision 0018, the default before 0044): the one the child's records anywhere write that
      same word next to the name of ("Nan Pat", resolved in ``person_links``; method ``kinship_usage``,
      :data:`KINSHIP_USAGE_PROBABILITY`);
    - ``"none"``: nobody.

    A word with no recorded person of its relation, or several and nothing to decide, is linked to nobody.
    Returns the links frame of :func:`resolve_mentions`."""
    alone, named = _kin_words(mentions, texts)
    if alone.is_empty() or people.is_empty():
        return pl.DataFrame(schema=_KIN_LINKS)
    side = pl.col("side") if "side" in people.columns else pl.lit(None, pl.String)
    dob = pl.col("dob") if "dob" in people.columns else pl.lit(None, pl.Date)
    kin_people = people.select("child_id", "person_id", "relation", side.alias("side"), "gender", dob.alias("dob"))
    kin_people = kin_people.unique(["child_id", "person_id", "relation"])
    child_dob = (
        kin_people.filter(pl.col("person_id") == pl.col("child_id"))
        .group_by("child_id")
        .agg(pl.col("dob").drop_nulls().first().alias("child_dob"))
    )
    age = pl.col("kin_age")
    older, younger = pl.col("dob") < pl.col("child_dob"), pl.col("dob") > pl.col("child_dob")
    unknown_dob = pl.col("dob").is_null() | pl.col("child_dob").is_null()
    candidates = (
        alone.join(kin_people, on=["child_id", "relation"])
        .join(child_dob, on="child_id", how="left")
        # a side or gender the word names rules out a person recorded otherwise; one not recorded rules out
        # nobody, so the person stays a candidate and the word stays ambiguous
        .filter(
            (pl.col("kin_side").is_null() | pl.col("side").is_null() | (pl.col("kin_side") == pl.col("side")))
            & (pl.col("kin_gender").is_null() | pl.col("gender").is_null() | (pl.col("kin_gender") == pl.col("gender")))
        )
        .unique(["mention_id", "person_id"])
    )
    # An age ("older brother") only chooses among several: it never rules out the one person of a relation (a
    # date of birth may be wrong, or the word loosely used). "eldest"/"youngest": the first (last) born of the
    # older (younger) ones. Any date missing leaves the choice open.
    fits_age = (
        pl.when(age.is_in(["older", "eldest"]))
        .then(older)
        .when(age.is_in(["younger", "youngest"]))
        .then(younger)
        .otherwise(True)
    )
    extreme = (
        pl.when(age == "eldest")
        .then(pl.col("dob") == pl.col("dob").min().over("mention_id"))
        .when(age == "youngest")
        .then(pl.col("dob") == pl.col("dob").max().over("mention_id"))
        .otherwise(True)
    )
    several = pl.len().over("mention_id") > 1
    dated = ~unknown_dob.any().over("mention_id")
    candidates = candidates.filter(~(several & dated & age.is_not_null()) | fits_age).filter(
        ~(several & dated) | extreme
    )
    n = pl.len().over("mention_id")
    unique = candidates.filter(n == 1).with_columns(
        pl.lit("kinship").alias("method"), pl.lit(KINSHIP_PROBABILITY).alias("match_probability")
    )
    several = candidates.filter(n > 1)
    by_usage = pl.DataFrame(schema=unique.schema)
    if ambiguous == "none" or person_links is None or several.is_empty():
        return _kin_link_rows(unique, by_usage)
    # The family's own usage: the candidates the child's records write this word next to the name of ("Nan Pat").
    used = (
        named.join(
            person_links.filter(pl.col("method") != "unresolved").select(
                pl.col("mention_id").alias("person_mention_id"), pl.col("resolved_person_id").alias("person_id")
            ),
            on="person_mention_id",
        )
        .select("child_id", "word", "person_id")
        .unique()
        .with_columns(pl.lit(True).alias("used"))
    )
    several = several.join(used, on=["child_id", "word", "person_id"], how="left").with_columns(
        pl.col("used").fill_null(False), pl.col("used").fill_null(False).any().over("mention_id").alias("any_used")
    )
    if ambiguous == "family":
        by_usage = several.filter((pl.col("used").sum().over("mention_id") == 1) & pl.col("used")).with_columns(
            pl.lit("kinship_usage").alias("method"), pl.lit(KINSHIP_USAGE_PROBABILITY).alias("match_probability")
        )
        return _kin_link_rows(unique, by_usage)
    by_name = person_links.filter(pl.col("method").is_in(["recorded", "mentioned"])).select(
        "mention_id", "item", pl.col("resolved_person_id").alias("person_id")
    )
    named_people = pl.concat(
        [
            by_name.join(mentions.select("mention_id", "start", "end"), on="mention_id"),
            unique.select("mention_id", "item", "person_id", "start", "end"),
        ],
        how="vertical_relaxed",
    )
    nearby = _named_nearby(
        several.select("mention_id", "item", "start", "end", "person_id"), named_people, mentions, texts
    )
    # The word's own sentence decides, unless the family writes this word next to another candidate's name and
    # never next to this one ("Nana" is their word for the other grandmother): then it stays unlinked. A sentence
    # beside it decides only for a grandparent word the family writes next to that candidate's name and no other's:
    # alone it was right about half the time on the generated councils (decision 0044), far under the 0.99
    # asked of a link.
    singled_out = (
        pl.col("relation").is_in(FAMILY_NAME_RELATIONS)
        & pl.col("used")
        & (pl.col("used").sum().over("mention_id") == 1)
    )
    beside = singled_out if ambiguous == "context" else pl.lit(False)
    agrees = pl.when(pl.col("apart") == 0).then(~pl.col("any_used") | pl.col("used")).otherwise(beside)
    by_usage = (
        several.join(nearby, on=["mention_id", "person_id"])
        .filter(agrees)
        .with_columns(
            pl.lit("kinship_context").alias("method"), pl.lit(KINSHIP_CONTEXT_PROBABILITY).alias("match_probability")
        )
    )
    return _kin_link_rows(unique, by_usage)


def _kin_link_rows(unique: pl.DataFrame, by_usage: pl.DataFrame) -> pl.DataFrame:
    """Kinship links, each chosen (person_id) row of :func:`kinship_links`, as the links frame."""
    return (
        pl.concat([unique, by_usage.select(unique.columns)])
        .select(
            "mention_id",
            _key_id(pl.lit("kin"), pl.col("child_id"), pl.col("word")).alias("form_id"),
            "item",
            pl.col("person_id").alias("resolved_person_id"),
            "match_probability",
            "method",
            "child_id",
            "text",
            "relation",
        )
        .sort("mention_id")
    )


def resolve_mentions(
    mentions: pl.DataFrame,
    texts: pl.DataFrame,
    people: pl.DataFrame,
    rules: ResolutionSettings,
    ambiguous_kin: str = "sentence",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Person mentions -> (links: mention_id, resolved_person_id, match_probability, method, child_id,
    form_id, text, relation; forms). ``ambiguous_kin``: what decides a kinship word with several candidates
    (:func:`kinship_links`)."""
    forms, mention_form = name_forms(mentions, texts)
    links = mention_form.join(resolve(forms, people, rules), on="form_id").join(
        forms.select("form_id", "child_id", "text", "relation"), on="form_id"
    )
    kin = kinship_links(mentions, texts, people, links, ambiguous_kin).select(links.columns)
    return resolve_in_context(pl.concat([links, kin], how="vertical_relaxed"), forms, people), forms


# The tables' columns, for an empty table before the first resolution (resolve_people overwrites the
# table, schema and all, from the frames it builds).
RESOLVED_SCHEMA = pa.schema(
    [
        ("resolved_person_id", pa.string()),
        ("mentions", pa.uint32()),
        ("name_as_written", pa.string()),
        ("mention_children", pa.list_(pa.string())),
        ("mentioned_role", pa.string()),
        ("first_name", pa.string()),
        ("surname", pa.string()),
        ("relation", pa.list_(pa.string())),
        ("children", pa.list_(pa.string())),
        ("recorded", pa.bool_()),
    ]
)
MENTION_PERSON_SCHEMA = pa.schema(
    [
        ("mention_id", pa.string()),
        ("resolved_person_id", pa.string()),
        ("match_probability", pa.float64()),
        ("method", pa.string()),
        ("child_id", pa.string()),
        ("form_id", pa.string()),
        ("resolved_at", pa.timestamp("us", tz="UTC")),
    ]
)


def ensure_tables(lake: Lake) -> None:
    """Empty ``resolved_person`` and ``person_mention`` tables where none exist yet, so that readers (the ecomap
    marts) can run before the first resolution."""
    ensure_table(lake, ENTERPRISE, RESOLVED, RESOLVED_SCHEMA)
    ensure_table(lake, ENTERPRISE, MENTION_PERSON, MENTION_PERSON_SCHEMA)


@dataclass
class ResolutionRun:
    person_mentions: int = 0
    forms: int = 0
    resolved_people: int = 0
    matched_to_recorded: int = 0
    threshold: float = 0.35
    kinship_links: int = 0

    def metadata(self) -> dict:
        return {
            "person_mentions": self.person_mentions,
            "name_forms": self.forms,
            "resolved_people": self.resolved_people,
            "mentions_matched_to_recorded": self.matched_to_recorded,
            "kinship_mentions_linked": self.kinship_links,
            "threshold": self.threshold,
        }


def resolve_people(lake: Lake, rules: ResolutionSettings | None = None) -> ResolutionRun:
    """Rebuild ``resolved_person`` and ``person_mention`` from the current mentions and recorded people.
    Whole-table: the Splink model is re-estimated on the council's data each time (seconds at this size)."""
    rules = rules or ResolutionSettings()
    mentions = lake.read(ENTERPRISE, MENTIONS).filter(
        pl.col("label").is_in(["person", "kinship_role", "professional_role"])
    )
    people = recorded_people(lake)
    links, forms = resolve_mentions(mentions, text_items(lake), people, rules)
    links = links.with_columns(pl.lit(dt.datetime.now(dt.UTC)).alias("resolved_at"))
    recorded = people.group_by("person_id").agg(
        pl.col("first_name").first(),
        pl.col("surname").first(),
        pl.col("relation").unique().sort(),
        pl.col("child_id").unique().sort().alias("children"),
    )
    named = ~pl.col("method").str.starts_with("kinship")
    resolved = (
        links.group_by("resolved_person_id")
        .agg(
            pl.len().alias("mentions"),
            # Ties broken by sorting, so the same mentions always give the same name and role; the name is one
            # written as a name ("Mum" is the relation, in mentioned_role).
            pl.col("text").filter(named).mode().sort().first().alias("name_as_written"),
            pl.col("child_id").unique().sort().alias("mention_children"),
            pl.col("relation").drop_nulls().mode().sort().first().alias("mentioned_role"),
        )
        .join(recorded.rename({"person_id": "resolved_person_id"}), on="resolved_person_id", how="left")
        .with_columns(pl.col("first_name").is_not_null().alias("recorded"))
        .sort("resolved_person_id")
    )
    out = links.select(
        "mention_id", "resolved_person_id", "match_probability", "method", "child_id", "form_id", "resolved_at"
    )
    for name, df in ((RESOLVED, resolved), (MENTION_PERSON, out)):
        lake.write(ENTERPRISE, name, df)
    person_rows = mentions.filter(pl.col("label") == "person").height
    return ResolutionRun(
        person_rows,
        forms.height,
        resolved.height,
        out.filter(pl.col("method") == "recorded").height,
        rules.threshold,
        out.filter(pl.col("method").str.starts_with("kinship")).height,
    )
