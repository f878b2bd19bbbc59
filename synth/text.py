"""Free text that reads like case recording, with the exact span of every entity mention.

Templates are sentences with ``{slot}`` placeholders. Filling a slot appends text to a
:class:`TextBuilder`, which records the character span, label and (for people) the true person id of
every mention as it is written, so the ground truth can never drift from the text.

Each template list is split: every fourth template is held out for ``split="eval"``, so a model
trained on one split is evaluated on sentence shapes it has never seen.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import numpy as np

from synth.world import Child, Person, Worker

LABELS = (
    "person",
    "kinship_role",
    "professional_role",
    "address",
    "postcode",
    "phone",
    "email",
    "date",
    "organisation",
    "school",
    "risk_factor",
    "protective_factor",
)


@dataclass
class Mention:
    start: int
    end: int
    label: str
    text: str
    person_id: str | None = None


@dataclass
class TextBuilder:
    parts: list[str] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    length: int = 0

    def add(self, text: str, label: str | None = None, person_id: str | None = None) -> None:
        if label is not None:
            self.mentions.append(Mention(self.length, self.length + len(text), label, text, person_id))
        self.parts.append(text)
        self.length += len(text)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def extend(self, other: TextBuilder) -> None:
        offset = self.length
        for m in other.mentions:
            self.mentions.append(Mention(m.start + offset, m.end + offset, m.label, m.text, m.person_id))
        self.parts.extend(other.parts)
        self.length += other.length


RISK_FACTORS = (
    "domestic abuse",
    "substance misuse",
    "alcohol misuse",
    "missing episodes",
    "neglect",
    "parental mental health difficulties",
    "criminal exploitation",
    "poor school attendance",
    "unsafe housing conditions",
    "self-harm",
    "financial hardship",
    "exposure to violence",
    "inconsistent supervision",
    "cannabis use in the home",
    "coercive control",
    "county lines involvement",
)
PROTECTIVE_FACTORS = (
    "supportive grandparent",
    "stable school placement",
    "positive relationship with school staff",
    "engagement with family support",
    "regular nursery attendance",
    "strong sibling bond",
    "consistent routines at home",
    "safe adult network",
    "good health appointment attendance",
    "stable housing",
    "positive peer friendships",
    "engagement with counselling",
    "extended family support",
    "clear safety plan in place",
)

KIN_WORDS = {
    "mother": ("Mum", "mum", "mother"),
    "father": ("Dad", "dad", "father"),
    "stepfather": ("stepdad", "stepfather"),
    "stepmother": ("stepmum", "stepmother"),
    "maternal grandmother": ("Nan", "maternal grandmother", "Grandma"),
    "maternal grandfather": ("Grandad", "maternal grandfather"),
    "paternal grandmother": ("paternal grandmother", "Nana"),
    "paternal grandfather": ("paternal grandfather", "Grandpa"),
    "brother": ("brother", "older brother", "younger brother"),
    "sister": ("sister", "older sister", "younger sister"),
    "aunt": ("aunt", "Auntie", "maternal aunt"),
    "uncle": ("uncle", "paternal uncle"),
    "family friend": ("family friend",),
    "neighbour": ("neighbour",),
    "godparent": ("godparent",),
    "foster carer": ("foster carer",),
}

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def format_date(d: dt.date, style: int) -> str:
    return (
        f"{d.day:02d}/{d.month:02d}/{d.year}",
        f"{d.day} {MONTHS[d.month - 1]} {d.year}",
        f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}",
        f"{d.strftime('%A')} {d.day} {MONTHS[d.month - 1]}",
        f"{d.day}.{d.month}.{d.year % 100:02d}",
    )[style]


class Writer:
    """Fills template slots for one child at one date, drawing variants from a seeded generator."""

    def __init__(
        self, rng: np.random.Generator, child: Child, when: dt.date, worker: Worker, organisations: tuple[str, ...]
    ):
        self.rng = rng
        self.organisations = organisations
        self.child = child
        self.when = when
        self.worker = worker

    def pick(self, seq):
        return seq[int(self.rng.integers(0, len(seq)))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    # ---- people -----------------------------------------------------------------------------
    def name(self, tb: TextBuilder, p: Person, *, allow_nickname: bool = True, formal: bool = False) -> None:
        spell = p.name_at(self.when)
        nick = p.nicknames(self.when) if allow_nickname else ()
        r = self.rng.random()
        if formal or r < 0.25:
            text = f"{spell.first} {spell.surname}"
        elif r < 0.5:
            text = spell.first
        elif r < 0.65 and nick:
            text = self.pick(nick)
        elif r < 0.75:
            text = f"{spell.first[0]}. {spell.surname}"
        elif r < 0.85:
            title = "Mr" if p.gender_at(self.when) == "male" else self.pick(("Ms", "Mrs", "Miss"))
            tb.add(f"{title} ")
            text = spell.surname
        elif r < 0.9 and p.middle:
            text = f"{spell.first} {p.middle} {spell.surname}"
        else:
            text = spell.first
        tb.add(text, "person", p.person_id)

    def relative(self, tb: TextBuilder, relation: str | None = None) -> None:
        """A member of the child's network, as workers write them: 'Mum', 'maternal grandmother Pat'."""
        rels = self.child.relations
        if relation is None or relation not in rels:
            relation = self.pick(sorted(rels))
        p = self.pick(rels[relation])
        words = KIN_WORDS.get(relation, (relation,))
        r = self.rng.random()
        if r < 0.3:
            tb.add(self.pick(words), "kinship_role", p.person_id)
        elif r < 0.65:
            tb.add(self.pick(words), "kinship_role", p.person_id)
            tb.add(" ")
            self.name(tb, p)
        else:
            self.name(tb, p)
            tb.add(" (")
            tb.add(self.pick(words), "kinship_role", p.person_id)
            tb.add(")")

    def child_name(self, tb: TextBuilder) -> None:
        self.name(tb, self.child.person)

    def worker_ref(self, tb: TextBuilder) -> None:
        if self.chance(0.5):
            tb.add(self.pick(("social worker", "SW", "allocated social worker")), "professional_role")
            tb.add(" ")
        self.name(tb, self.worker.person, allow_nickname=False)

    def professional(self, tb: TextBuilder) -> None:
        prof = self.pick(self.child.professionals)
        role = {"GP": ("GP", "Dr"), "police officer": ("police officer", "PC")}.get(prof.role, (prof.role,))
        word = self.pick(role)
        if word in ("Dr", "PC"):
            tb.add(word, "professional_role")
            tb.add(" ")
            tb.add(prof.person.name_at(self.when).surname, "person", prof.person.person_id)
        else:
            tb.add(word, "professional_role")
            tb.add(" ")
            self.name(tb, prof.person, allow_nickname=False)

    # ---- places, contacts, dates, factors ----------------------------------------------------
    def address(self, tb: TextBuilder, with_postcode: bool = True) -> None:
        p = self.pick([self.child.person, *self.child.relations.get("maternal grandmother", [])])
        a = p.address_at(self.when)
        tb.add(a.one_line, "address")
        if with_postcode:
            tb.add(", ")
            tb.add(a.postcode, "postcode")

    def phone(self, tb: TextBuilder) -> None:
        people = [p for ps in self.child.relations.values() for p in ps if p.phone]
        p = self.pick(people) if people else self.worker.person
        tb.add(p.phone or "", "phone")

    def email(self, tb: TextBuilder) -> None:
        people = [p for ps in self.child.relations.values() for p in ps if p.email]
        p = self.pick(people) if people else self.worker.person
        tb.add(p.email or "", "email")

    def date(self, tb: TextBuilder, around: dt.date | None = None) -> None:
        base = around or self.when
        d = base + dt.timedelta(days=int(self.rng.integers(-20, 21)))
        tb.add(format_date(d, int(self.rng.integers(0, 5))), "date")

    def fill(self, template: str, tb: TextBuilder) -> None:
        pos = 0
        for m in _SLOT.finditer(template):
            tb.add(template[pos : m.start()])
            self.slot(m.group(1), tb)
            pos = m.end()
        tb.add(template[pos:])

    def slot(self, name: str, tb: TextBuilder) -> None:
        c = self.child
        match name:
            case "child":
                self.child_name(tb)
            case "child_full":
                self.name(tb, c.person, formal=True)
            case "mother" | "father" | "sibling" | "grandparent" | "stepparent" | "carer":
                wanted = {
                    "sibling": ("brother", "sister"),
                    "grandparent": (
                        "maternal grandmother",
                        "maternal grandfather",
                        "paternal grandmother",
                        "paternal grandfather",
                    ),
                    "stepparent": ("stepfather", "stepmother"),
                    "carer": ("foster carer", "aunt", "uncle", "family friend"),
                }.get(name, (name,))
                have = [r for r in wanted if r in c.relations]
                self.relative(tb, self.pick(have) if have else None)
            case "relative":
                self.relative(tb)
            case "worker":
                self.worker_ref(tb)
            case "professional":
                self.professional(tb)
            case "address":
                self.address(tb)
            case "address_only":
                self.address(tb, with_postcode=False)
            case "phone":
                self.phone(tb)
            case "email":
                self.email(tb)
            case "date":
                self.date(tb)
            case "school":
                tb.add(c.school, "school")
            case "gp":
                tb.add(c.gp_surgery, "organisation")
            case "org":
                tb.add(self.pick(self.organisations), "organisation")
            case "risk":
                tb.add(self.pick(RISK_FACTORS), "risk_factor")
            case "protective":
                tb.add(self.pick(PROTECTIVE_FACTORS), "protective_factor")
            case "he" | "his" | "him":
                male = c.person.gender_at(self.when) == "male"
                tb.add({"he": ("he", "she"), "his": ("his", "her"), "him": ("him", "her")}[name][0 if male else 1])
            case _:
                raise KeyError(f"unknown template slot {{{name}}}")


_SLOT = re.compile(r"\{([a-z_]+)\}")


# ---- templates ------------------------------------------------------------------------------
# Per note type, sentences a worker might write. Every fourth (index % 4 == 3) is held out for eval.
NOTE_TEMPLATES: dict[str, tuple[str, ...]] = {
    "Home Visit": (
        "Unannounced home visit to {address} completed by {worker} on {date}.",
        "{child} was seen at home with {mother}; the house was warm and there was food in the fridge.",
        "{child} showed me {his} bedroom and said {he} feels safe when {relative} is around.",
        "Visited {child} at {address_only}. {father} was not present and has not been seen since {date}.",
        "On arrival {mother} appeared under the influence; concerns about {risk} were discussed.",
        "{child} spoke warmly about {grandparent} and the time they spend together at weekends.",
        "The home conditions had improved since the last visit; {mother} has been working with {org}.",
        "{relative} answered the door and said {child} was at {school} until 3pm.",
        "I observed {child} playing with {sibling}; {he} was relaxed and chatty throughout.",
        "Discussed the bedroom damp with {mother}; she has reported it to the landlord and to {org}.",
        "{child} was wearing clean clothes and had eaten breakfast; {mother} described a {protective}.",
        "Concerns remain about {risk}; the house smelled strongly of cannabis on entry.",
    ),
    "Strategy Discussion": (
        "Strategy discussion held on {date} with {professional} and {worker} following a referral about {risk}.",
        "{professional} shared that {father} was arrested on {date} in relation to {risk}.",
        "It was agreed that a section 47 enquiry will be completed and {child} will be seen alone within 24 hours.",
        "Information from {org} indicates previous concerns about {risk} at {address}.",
        "{professional} reported {child} disclosed that {stepparent} had hit {him}.",
        "Outcome: threshold met for section 47; {mother} to be informed by {worker}.",
        "Police checks on {relative} returned no trace; {gp} confirmed no recent attendances.",
        "MARAC referral to be made; {mother} can be contacted safely on {phone}.",
    ),
    "Safety Planning": (
        "Safety plan reviewed with {mother} and {grandparent} on {date}.",
        "{grandparent} has agreed to supervise all contact between {child} and {father}.",
        "If {risk} occurs again {mother} will call 999 and then {worker} on {phone}.",
        "{child} knows to go to {relative} at {address} if {he} feels unsafe.",
        "The plan relies on a {protective} and on {mother} keeping in touch with {org}.",
        "{father} is not to attend {address_only} while the plan is in place.",
        "Copies of the safety plan were given to {school} and {professional}.",
        "The safety plan will be reviewed on {date} or sooner if concerns about {risk} arise.",
    ),
    "Supervision": (
        "Case discussed in supervision on {date}; the manager agreed the plan and next steps.",
        "Reflection: the worry about {risk} is balanced by a {protective}.",
        "Action: {worker} to complete the assessment and update the chronology by {date}.",
        "Supervision noted that {relative} has not yet been assessed as a support for {child}.",
        "Manager asked that {professional} be invited to the next core group.",
        "Drift identified; {child_full} has had three changes of worker this year.",
    ),
    "Contact Session": (
        "Supervised contact between {child} and {mother} took place at {org} on {date}.",
        "{mother} arrived on time and brought snacks; {child} ran to greet her.",
        "{father} left the session early after a phone call; {child} became tearful.",
        "{sibling} also attended contact; the children played well together.",
        "Contact was cancelled because {mother} did not confirm by 10am; {child} was told by {carer}.",
        "{carer} reported that {child} slept poorly after contact.",
        "Contact notes were shared with {relative} and the independent reviewing officer.",
    ),
    "School Meeting": (
        "Meeting at {school} with {professional} on {date} to review {child}'s attendance.",
        "{professional} said {child} is settled in class and has a {protective}.",
        "Attendance is 82% this term; the school raised {risk} as a concern.",
        "{child} has a pastoral support plan; {mother} agreed to attend fortnightly reviews.",
        "The school has not been able to reach {father} on {phone}.",
        "{child} told {professional} that {he} is worried about {relative}.",
    ),
    "Telephone Call": (
        "Telephone call from {mother} on {phone} asking for help with a food bank voucher.",
        "Call to {professional} at {gp} to check on immunisations for {child}.",
        "{relative} rang to report that {child} was missing overnight; returned home at 07:30.",
        "Left a voicemail for {father} on {phone}; email also sent to {email}.",
        "{professional} called to say {child} did not attend {his} appointment on {date}.",
        "Email received from {email} with an update on the housing application.",
    ),
    "Health Appointment": (
        "{child} attended an appointment at {gp} with {mother} on {date}.",
        "{professional} reported that {child} is under the care of {org} for {his} asthma.",
        "Health visitor visit completed; weight and height are on the centile chart.",
        "{child} was seen by {professional}; no concerns about growth or development.",
        "The initial health assessment was completed at {org} on {date}.",
    ),
    "Court": (
        "Care proceedings issued on {date}; the first hearing is listed at Teesside Family Court.",
        "The court approved the interim care plan; {child} remains with {carer}.",
        "{mother}'s solicitor asked for a parenting assessment to be completed by {org}.",
        "The guardian supports the plan and will visit {child} at {address}.",
        "Final hearing set for {date}; evidence from {professional} to be filed.",
    ),
}

GENERAL_TEMPLATES: tuple[str, ...] = (
    "{child_full} (DOB {date}) lives at {address}.",
    "Next visit booked for {date}.",
    "{worker} to update the chronology and case summary.",
    "Case note recorded late due to sickness absence.",
    "{relative} can be contacted on {phone}.",
    "No further concerns raised at this time.",
    "Agreed actions were shared with {mother} by email to {email}.",
    "The family were reminded they can contact the out of hours team.",
)

# Free-text form questions, per form type (the pilot never finished LiquidLogic forms).
FORM_QUESTIONS: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    "Child and Family Assessment": (
        (
            "CFA_WORRIES",
            "What are we worried about?",
            (
                "There are worries about {risk} when {child} is in the care of {father}.",
                "{mother} has struggled with {risk} since {date}.",
                "{professional} reports concerns about {risk}.",
                "{relative} told us about {risk} at {address_only}.",
            ),
        ),
        (
            "CFA_STRENGTHS",
            "What is working well?",
            (
                "{child} has a {protective} and a close bond with {grandparent}.",
                "{mother} has engaged with {org} and attended every appointment.",
                "{school} describes a {protective}.",
                "{relative} offers respite care most weekends.",
            ),
        ),
        (
            "CFA_CHILD_VIEW",
            "The child's views",
            (
                "{child} said {he} likes living with {mother} but misses {sibling}.",
                "{child} wants to see {father} more often.",
                "{child} said {he} feels safest with {relative}.",
                "{child} told {worker} that school is the best part of {his} week.",
            ),
        ),
    ),
    "Strategy Discussion Record": (
        (
            "SD_REASON",
            "Reason for strategy discussion",
            (
                "Referral from {professional} on {date} about {risk}.",
                "{child} disclosed {risk} to {professional}.",
                "Police attended {address} following a report of {risk}.",
                "{relative} contacted the front door with concerns about {risk}.",
            ),
        ),
        (
            "SD_INFO",
            "Information shared",
            (
                "{org} shared previous involvement with {mother}.",
                "{gp} has no recent concerns; {child} is up to date with immunisations.",
                "{professional} confirmed {father} has a history of {risk}.",
                "{school} reports a {protective}.",
            ),
        ),
    ),
    "Child Protection Review": (
        (
            "CPR_PROGRESS",
            "Progress against the plan",
            (
                "{mother} has completed the programme with {org}; the {protective} continues.",
                "Concerns about {risk} have reduced since {date}.",
                "{father} has not engaged with {org}.",
                "{grandparent} continues to provide a {protective}.",
            ),
        ),
        (
            "CPR_NEXT",
            "Next steps",
            (
                "{worker} to visit fortnightly and speak with {child} alone.",
                "Referral to {org} for support with {risk}.",
                "Core group to meet on {date} at {school}.",
                "{relative} to be assessed as a connected carer.",
            ),
        ),
    ),
}


def split_templates(templates: tuple[str, ...], split: str) -> tuple[str, ...]:
    """Every fourth template is held out for eval; the rest are train."""
    keep = [t for i, t in enumerate(templates) if (i % 4 == 3) == (split == "eval")]
    return tuple(keep)


def compose_note(writer: Writer, note_type: str, split: str) -> TextBuilder:
    templates = split_templates(NOTE_TEMPLATES[note_type], split)
    general = split_templates(GENERAL_TEMPLATES, split)
    n = int(writer.rng.integers(3, 7))
    tb = TextBuilder()
    for i in range(n):
        pool = general if (i > 0 and writer.chance(0.2)) else templates
        if i:
            tb.add(" " if writer.chance(0.7) else "\n")
        writer.fill(writer.pick(pool), tb)
    return tb


def compose_answer(writer: Writer, templates: tuple[str, ...], split: str) -> TextBuilder:
    tb = TextBuilder()
    pool = split_templates(templates, split)
    for i in range(int(writer.rng.integers(1, 3))):
        if i:
            tb.add(" ")
        writer.fill(writer.pick(pool), tb)
    return tb
