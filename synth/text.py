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

from synth.pools import Pools
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

    def insert(self, at: int, text: str) -> None:
        """``text`` put in at character ``at``, unmarked; the mentions after it move along."""
        whole = self.text
        self.parts = [whole[:at], text, whole[at:]]
        self.mentions = [
            m if m.start < at else Mention(m.start + len(text), m.end + len(text), m.label, m.text, m.person_id)
            for m in self.mentions
        ]
        self.length += len(text)

    def extend(self, other: TextBuilder) -> None:
        offset = self.length
        for m in other.mentions:
            self.mentions.append(Mention(m.start + offset, m.end + offset, m.label, m.text, m.person_id))
        self.parts.extend(other.parts)
        self.length += other.length


KIN_WORDS = {
    "mother": ("Mum", "mum", "mother", "birth mum", "Mam", "birth mother", "mummy"),
    "father": ("Dad", "dad", "father", "birth dad", "birth father", "daddy"),
    "stepfather": ("stepdad", "stepfather", "step-dad"),
    "stepmother": ("stepmum", "stepmother", "step-mum"),
    "maternal grandmother": ("Nan", "maternal grandmother", "Grandma", "nan", "maternal nan", "Gran"),
    "maternal grandfather": ("Grandad", "maternal grandfather", "grandad"),
    "paternal grandmother": ("paternal grandmother", "Nana", "paternal nan", "Granny"),
    "paternal grandfather": ("paternal grandfather", "Grandpa", "paternal grandad"),
    "brother": ("brother", "older brother", "younger brother", "half-brother"),
    "sister": ("sister", "older sister", "younger sister", "half-sister"),
    "aunt": ("aunt", "Auntie", "maternal aunt", "aunty"),
    "uncle": ("uncle", "paternal uncle"),
    "family friend": ("family friend",),
    "neighbour": ("neighbour",),
    "godparent": ("godparent",),
    "foster carer": ("foster carer",),
}

# How each professional's role is written before or after their name: in full or as case recording abbreviates it.
PROFESSIONAL_WORDS = {
    "GP": ("GP", "Dr", "family GP"),
    "police officer": ("police officer", "PC", "DC", "DS", "Sgt"),
    "class teacher": ("class teacher", "teacher", "DSL", "head teacher", "SENCO", "form tutor"),
    "health visitor": ("health visitor", "HV"),
    "school nurse": ("school nurse",),
    "family support worker": ("family support worker", "FSW", "Early Help worker"),
}
TITLE_ROLES = ("Dr", "PC", "DC", "DS", "Sgt")  # written with a surname alone ("PC Hill"), never a first name alone
# Roles written without a name ("the IRO chaired the review"): a professional-role mention with no person.
ROLE_ONLY = (
    "IRO",
    "independent reviewing officer",
    "TM",
    "team manager",
    "practice manager",
    "CP chair",
    "DSL",
    "SENCO",
    "HV",
    "health visitor",
    "midwife",
    "paediatrician",
    "probation officer",
    "housing officer",
    "IDVA",
    "YOT worker",
    "CAMHS worker",
    "FSW",
    "school nurse",
    "GP",
    "duty social worker",
    "EDT social worker",
    "guardian",
    "solicitor",
    "interpreter",
    "advocate",
    "personal adviser",
    "SW",
    "student social worker",
    "head teacher",
    "substance misuse worker",
)
WORKER_WORDS = ("social worker", "SW", "allocated social worker", "allocated SW", "social worker (SW)")

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

    def __init__(self, rng: np.random.Generator, child: Child, when: dt.date, worker: Worker, pools: Pools):
        self.rng = rng
        self.pools = pools
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
        if self.chance(0.04):  # typed in a hurry: "spoke to kirsty"
            text = text.lower()
        tb.add(text, "person", p.person_id)

    def relative(self, tb: TextBuilder, relation: str | None = None) -> None:
        """A member of the child's network, as workers write them: 'Mum', 'maternal grandmother Pat'."""
        rels = self.child.relations
        if relation is None or relation not in rels:
            relation = self.pick(sorted(rels))
        p = self.pick(rels[relation])
        # "older"/"younger" brother or sister as their dates of birth say
        wrong = "younger " if p.dob < self.child.person.dob else "older "
        words = tuple(w for w in KIN_WORDS.get(relation, (relation,)) if not w.startswith(wrong))
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
        r = self.rng.random()
        if r < 0.4:
            tb.add(self.pick(WORKER_WORDS), "professional_role")
            tb.add(" ")
            self.name(tb, self.worker.person, allow_nickname=False)
        elif r < 0.55:  # "Jane Smith (SW)"
            self.name(tb, self.worker.person, allow_nickname=False)
            tb.add(" (")
            tb.add(self.pick(("SW", "social worker", "allocated SW")), "professional_role")
            tb.add(")")
        else:
            self.name(tb, self.worker.person, allow_nickname=False)

    def professional(self, tb: TextBuilder) -> None:
        """A professional and their role, as recording writes them: the role (or a rank or title) before the
        name is its own mention, never part of the person span ("PC Hill", "HV Jane Smith", "Jane Smith (HV)")."""
        prof = self.pick(self.child.professionals)
        word = self.pick(PROFESSIONAL_WORDS.get(prof.role, (prof.role,)))
        spell = prof.person.name_at(self.when)
        if word in TITLE_ROLES:
            tb.add(word, "professional_role")
            tb.add(" ")
            text = spell.surname if self.chance(0.6) else f"{spell.first} {spell.surname}"
            tb.add(text, "person", prof.person.person_id)
            return
        r = self.rng.random()
        if r < 0.55:
            tb.add(word, "professional_role")
            tb.add(" ")
            self.name(tb, prof.person, allow_nickname=False)
        elif r < 0.8:
            self.name(tb, prof.person, allow_nickname=False, formal=self.chance(0.6))
            tb.add(" (")
            tb.add(word, "professional_role")
            tb.add(")")
        else:
            self.name(tb, prof.person, allow_nickname=False, formal=True)
            tb.add(", ")
            tb.add(word, "professional_role")
            tb.add(", ")
            self.organisation(tb, "any")

    def organisation(self, tb: TextBuilder, kind: str) -> None:
        by_kind = self.pools.organisations_by_kind
        if kind == "any":  # the kinds a worker refers a family to or hears from; police, prisons, courts have slots
            kind = self.pick(("charity", "statutory", "health", "family_centre", "housing"))
        tb.add(self.pick(by_kind[kind]), "organisation")

    def attendees(self, tb: TextBuilder) -> None:
        """A meeting's attendee list: "Jane Smith (SW), PC Hill (Humberside Police), Mum, Dad, HV"."""
        parts = [self.worker_ref, self.professional, self.relative, self.professional, self.relative, self.role]
        n = int(self.rng.integers(3, 6))
        picks = sorted(self.rng.choice(len(parts), size=n, replace=False))
        for i, k in enumerate(picks):
            if i:
                tb.add(self.pick((", ", "; ", ", ")))
            parts[k](tb)

    def role(self, tb: TextBuilder) -> None:
        tb.add(self.pick(ROLE_ONLY), "professional_role")

    # ---- places, contacts, dates, factors ----------------------------------------------------
    def address(self, tb: TextBuilder, with_postcode: bool = True) -> None:
        p = self.pick([self.child.person, *self.child.relations.get("maternal grandmother", [])])
        a = p.address_at(self.when)
        tb.add(a.one_line, "address", p.person_id)  # whose it is: the truth a disclosure bundle is scored on
        if with_postcode:
            tb.add(", ")
            tb.add(a.postcode, "postcode", p.person_id)

    def phone(self, tb: TextBuilder) -> None:
        people = [p for ps in self.child.relations.values() for p in ps if p.phone]
        p = self.pick(people) if people else self.worker.person
        tb.add(p.phone or "", "phone", p.person_id)

    def email(self, tb: TextBuilder) -> None:
        people = [p for ps in self.child.relations.values() for p in ps if p.email]
        p = self.pick(people) if people else self.worker.person
        tb.add(p.email or "", "email", p.person_id)

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
                self.organisation(tb, "any")
            case "police" | "prison" | "court" | "health" | "housing" | "charity" | "family_centre" | "statutory":
                self.organisation(tb, name)
            case "role":
                self.role(tb)
            case "attendees":
                self.attendees(tb)
            case "risk":
                tb.add(self.pick(self.pools.risk_factors), "risk_factor")
            case "protective":
                tb.add(self.pick(self.pools.protective_factors), "protective_factor")
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
        "{mother}'s partner was in the kitchen and left when I arrived; {mother} said he does not live there.",
        "{child}'s bedroom had a bed, bedding and toys; {sibling}'s room was untidy but safe.",
        "{mother} showed me a letter from {housing} about the tenancy; {role} to be informed.",
        "{father} is in {prison} and is due for release on {date}; {mother} is worried about {risk}.",
        "{police} were called to {address_only} on {date} after a neighbour reported shouting.",
        "{mother} has started attending {charity} and says the group has helped with {risk}.",
        "{child} went to {family_centre} with {grandparent} on Saturday and enjoyed it.",
        "Spoke with {child} alone in {his} bedroom; {he} said {relative}'s boyfriend shouts at night.",
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
        "Present: {attendees}. Apologies: {role}.",
        "{professional} from {police} confirmed that {father} was released under investigation.",
        "{health} have no record of {child} attending since {date}; {role} to follow up.",
        "Checks with {statutory} and {charity} were completed by {worker}.",
        "{father}'s probation officer at {statutory} reports he has missed two appointments.",
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
        "{grandparent} will stay at the house when {father} is released from {prison}.",
        "If {father} comes to the house {mother} will ring {police} on 999 and tell {school}.",
        "The {role} will check the plan with {child} at {school} every week.",
        "{mother} has a place at {charity} and a refuge space is available at {charity} if needed.",
    ),
    "Supervision": (
        "Case discussed in supervision on {date}; the {role} agreed the plan and next steps.",
        "Reflection: the worry about {risk} is balanced by a {protective}.",
        "Action: {worker} to complete the assessment and update the chronology by {date}.",
        "Supervision noted that {relative} has not yet been assessed as a support for {child}.",
        "Manager asked that {professional} be invited to the next core group.",
        "Drift identified; {child_full} has had three changes of worker this year.",
        "{role} agreed that {worker} will chase {health} for the assessment report.",
        "Discussed {child}'s contact with {father}; the {role} will review the risk assessment.",
        "{statutory} to be asked for an update on {mother}'s tenancy with {housing}.",
        "Management oversight: {role} agreed NFA on the referral from {police}.",
    ),
    "Contact Session": (
        "Supervised contact between {child} and {mother} took place at {org} on {date}.",
        "{mother} arrived on time and brought snacks; {child} ran to greet her.",
        "{father} left the session early after a phone call; {child} became tearful.",
        "{sibling} also attended contact; the children played well together.",
        "Contact was cancelled because {mother} did not confirm by 10am; {child} was told by {carer}.",
        "{carer} reported that {child} slept poorly after contact.",
        "Contact notes were shared with {relative} and the {role}.",
        "Contact at {family_centre} went well; {mother}'s partner was asked to wait outside.",
        "{child} asked when {he} can see {father} again; {father} is currently at {prison}.",
        "The {role} from {family_centre} noted that {mother} needed prompting.",
    ),
    "School Meeting": (
        "Meeting at {school} with {professional} on {date} to review {child}'s attendance.",
        "{professional} said {child} is settled in class and has a {protective}.",
        "Attendance is 82% this term; the school raised {risk} as a concern.",
        "{child} has a pastoral support plan; {mother} agreed to attend fortnightly reviews.",
        "The school has not been able to reach {father} on {phone}.",
        "{child} told {professional} that {he} is worried about {relative}.",
        "The {role} said {child}'s attendance has dropped to 74% since {date}.",
        "{professional} and the {role} met with {mother} at {school} to agree a support plan.",
        "{child} has been referred to {health} by {school}; the wait is 18 weeks.",
    ),
    "Telephone Call": (
        "Telephone call from {mother} on {phone} asking for help with a food bank voucher.",
        "Call to {professional} at {gp} to check on immunisations for {child}.",
        "{relative} rang to report that {child} was missing overnight; returned home at 07:30.",
        "Left a voicemail for {father} on {phone}; email also sent to {email}.",
        "{professional} called to say {child} did not attend {his} appointment on {date}.",
        "Email received from {email} with an update on the housing application.",
        "Call from {professional} at {police}: {father} was arrested last night at {address_only}.",
        "Rang {housing} about the repairs; they will send someone on {date}.",
        "Call from {relative}: {mother}'s phone is off and she has not collected {child} from {school}.",
        "Spoke to the {role} at {health}; {child} is on the waiting list.",
    ),
    "Health Appointment": (
        "{child} attended an appointment at {gp} with {mother} on {date}.",
        "{professional} reported that {child} is under the care of {org} for {his} asthma.",
        "{role} visit completed; weight and height are on the centile chart.",
        "{child} was seen by {professional}; no concerns about growth or development.",
        "The initial health assessment was completed at {org} on {date}.",
        "{child} was seen at {health} on {date}; the {role} will write to {gp}.",
        "{mother}'s midwife at {health} has raised concerns about {risk}.",
        "Dental check at {health} completed; {child} needs two fillings.",
    ),
    "Court": (
        "Care proceedings issued on {date}; the first hearing is listed at {court}.",
        "The court approved the interim care plan; {child} remains with {carer}.",
        "{mother}'s solicitor asked for a parenting assessment to be completed by {org}.",
        "The {role} supports the plan and will visit {child} at {address}.",
        "Final hearing set for {date}; evidence from {professional} to be filed.",
        "Hearing at {court} on {date}; the {role} attended with {worker}.",
        "{father}'s solicitor applied for an adjournment at {court}.",
        "{court} made an interim care order; {child} will stay with {carer}.",
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
    "Case discussed with the {role}; no further action needed at this stage.",
    "{mother}'s phone number has changed; the new number is {phone}.",
    "Referral made to {org} for {mother}; {worker} to follow up on {date}.",
    "Letter sent to {relative} at {address}.",
    "{risk} remains the main worry; {protective} is what is working well.",
    "PEP meeting booked and the EHCP review is due; {role} to attend.",
    "MARAC referral made; LADO consulted; no further action from the ICPC.",
    "The worry about {risk} has reduced, and the {protective} continues.",
    "RHI completed by {role}; S47 closed with NFA.",
    "Strengths: {protective}. Worries: {risk}.",
)

# Notes as they are often typed: telegraphic, abbreviated, lower case. Every fourth is held out for eval.
TELEGRAPHIC_TEMPLATES: tuple[str, ...] = (
    "H/V completed. {child} seen alone. Bedroom checked - ok.",
    "T/C to {professional} re {risk}. No answer, msg left.",
    "{role} visit @ home. {mother} present. {child} seen.",
    "Strat disc w/ {professional} + {worker}. Threshold met. S47 to start.",
    "{child} not brought to appt at {gp}. DNA x2.",
    "Msg left for {father} on {phone}.",
    "{relative} rang - {child} missing o/n. Returned 07:30. RHI to be offered.",
    "CP conf {date}. Plan: {protective}.",
    "Core grp at {school}. Attended: {attendees}.",
    "{child} @ {family_centre} for contact w/ {mother}. Went well.",
    "Dad in {prison} - release date TBC.",
    "{police} attended {address_only} - {risk} reported, {father} arrested.",
    "Referral to {charity} for {mother} re {risk}.",
    "Housing: {housing} notice served. {mother} to contact {statutory}.",
    "Discussed w/ {role} - NFA at this time.",
    "LAC r/v chaired by {role}. {carer} attended.",
    "{mother} txt'd to cancel. Rebooked for {date}.",
    "school called - {child} not in today. {relative} says poorly.",
    "{professional} reports {risk} - to be discussed @ supervision.",
    "Visit to {address}: no answer. Card left.",
    "{worker} spoke to {relative} re {child}'s contact w/ {father}.",
    "{child} seen @ {school} w/ {role}. Presented well.",
    "Concerns re {risk}. {mother}'s engagement w/ {charity} poor.",
    "{statutory} checks: {police} - no trace. {health} - known.",
)
NOTE_STYLES = ("prose", "telegraphic", "bullets", "minutes")
NOTE_STYLE_WEIGHTS = (0.55, 0.2, 0.15, 0.1)

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
    """A note in one of the ways workers write: prose, telegraphic shorthand, a bullet list, or meeting minutes
    with an attendee list."""
    templates = split_templates(NOTE_TEMPLATES[note_type], split)
    general = split_templates(GENERAL_TEMPLATES, split)
    short = split_templates(TELEGRAPHIC_TEMPLATES, split)
    style = NOTE_STYLES[int(writer.rng.choice(len(NOTE_STYLES), p=NOTE_STYLE_WEIGHTS))]
    n = int(writer.rng.integers(3, 7))
    tb = TextBuilder()
    if style == "minutes":
        tb.add(writer.pick(("Present: ", "Attendees: ", "In attendance: ")))
        writer.attendees(tb)
        tb.add("\n")
    bullet = writer.pick(("- ", "* ", "\u2022 ", ""))
    for i in range(n):
        if style == "telegraphic":
            pool = short if writer.chance(0.7) else templates
        else:
            pool = general if (i > 0 and writer.chance(0.2)) else templates
        if style in ("bullets", "minutes"):
            if i:
                tb.add("\n")
            tb.add(f"{i + 1}. " if style == "minutes" else bullet)
        elif i:
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
