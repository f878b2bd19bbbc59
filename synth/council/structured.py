"""The council's structured rows, as the source system holds them: people and their name, gender and address
histories, relationships, workers and allocations, episodes, reviews, missing episodes, adoptions, adopter
households and restrictions; and the surnames keyed wrongly in the base extract, corrected on later days.
"""

from __future__ import annotations

from synth.agency import prospective_adopter_report
from synth.council.content import Content
from synth.council.options import random_stream
from synth.world import AddressSpell, World

TYPO_PLAN_DAYS = 60  # name corrections are planned this many days ahead (the base extract holds the typos)


def with_typo(name: str) -> str:
    """A plausible keying error: two adjacent inner letters swapped (Smith -> Smtih)."""
    if len(name) < 4:
        return name + name[-1]
    i = len(name) // 2
    return name[: i - 1] + name[i] + name[i - 1] + name[i + 1 :]


def planned_typos(world: World, seed: int) -> dict[int, list[str]]:
    """Which people's surnames were keyed wrongly in the base extract, and the day each is corrected."""
    adults = sorted(p.person_id for p in world.people.values() if not p.is_child and p.family_id)
    per_day = max(1, len(world.children) // 1000)
    plan: dict[int, list[str]] = {}
    taken: set[str] = set()
    for day in range(1, TYPO_PLAN_DAYS + 1):
        rng = random_stream(seed, 100, day)
        picks = [adults[int(j)] for j in rng.choice(len(adults), size=min(per_day, len(adults)), replace=False)]
        plan[day] = [
            p
            for p in picks
            if p not in taken and with_typo(world.people[p].names[-1].surname) != world.people[p].names[-1].surname
        ]
        taken.update(plan[day])
    return plan


def structured_rows(world: World, content: Content, typos: set[str]) -> None:
    """Every structured row of ``world`` into ``content``; the people in ``typos`` with their surname keyed wrongly."""
    rows = content.rows
    for p in world.people.values():
        if not p.recorded:
            continue
        keyed_wrongly = p.person_id in typos
        rows["person"].append(person_row(p, keyed_wrongly))
        for seq, ns in enumerate(p.names, start=1):
            sn = with_typo(ns.surname) if keyed_wrongly and seq == len(p.names) else ns.surname
            rows["person_name"].append(
                {
                    "person_id": p.person_id,
                    "name_seq": seq,
                    "first_name": ns.first,
                    "surname": sn,
                    "valid_from": ns.valid_from,
                    "reason": ns.reason,
                }
            )
        for seq, gs in enumerate(p.genders, start=1):
            rows["person_gender"].append(
                {"person_id": p.person_id, "gender_seq": seq, "gender": gs.gender, "valid_from": gs.valid_from}
            )
        for a in p.addresses:
            rows["person_address"].append(address_row(p.person_id, a))
    for r in world.relationships:
        rows["relationship"].append(
            {
                "relationship_id": r.relationship_id,
                "child_id": r.child_id,
                "person_id": r.person_id,
                "relation": r.relation,
                "valid_from": r.start,
                "valid_to": r.end,
            }
        )
    for w in world.workers:
        n = w.person.names[-1]
        rows["worker"].append(
            {
                "worker_id": w.worker_id,
                "first_name": n.first,
                "surname": n.surname,
                "role": w.role,
                "team": w.team,
                "email": w.person.email,
                "phone": w.person.phone,
            }
        )
    for inv in world.involvements:
        rows["involvement"].append(
            {
                "involvement_id": inv.involvement_id,
                "child_id": inv.child_id,
                "worker_id": inv.worker_id,
                "involvement_type": inv.kind,
                "start_date": inv.start,
                "end_date": inv.end,
            }
        )
    for e in world.episodes:
        rows[episode_table(e.kind)].append(episode_row(e))
    for table, pathway_rows in world.pathway.items():
        rows[table].extend(pathway_rows)
    for r in world.reviews:
        rows["cla_review"].append(
            {
                "review_id": r.review_id,
                "child_id": r.child_id,
                "review_date": r.review_date,
                "participation": r.participation,
            }
        )
    for m in world.missing:
        rows["missing_episode"].append(
            {
                "missing_id": m.missing_id,
                "child_id": m.child_id,
                "missing_type": m.missing_type,
                "start_date": m.start,
                "end_date": m.end,
            }
        )
    for a in world.adoptions:
        rows["adoption"].append(
            {
                "adoption_id": a.adoption_id,
                "child_id": a.child_id,
                "household_id": a.household_id,
                "entered_care": a.entered_care,
                "decision_to_place": a.decision_to_place,
                "placement_order": a.placement_order,
                "matched": a.matched,
                "placed": a.placed,
                "adoption_order": a.adoption_order,
                "sibling_group_id": a.sibling_group_id,
                "adopted_by_foster_carer": a.adopted_by_foster_carer,
            }
        )
    for h in world.households:
        rows["adopter_household"].append(
            {
                "household_id": h.household_id,
                "household_type": h.household_type,
                "adult_1_id": h.adult_ids[0],
                "adult_2_id": h.adult_ids[1] if len(h.adult_ids) > 1 else None,
                "adult_1_age": h.ages[0],
                "adult_2_age": h.ages[1] if len(h.ages) > 1 else None,
                "ethnicity": h.ethnicity,
                "religion": h.religion,
                "prior_fostering": h.prior_fostering,
                "years_fostering": h.years_fostering,
                "birth_children": h.birth_children,
                "occupation_sector": h.occupation_sector,
                "region": h.region,
                "approval_date": h.approval_date,
                "status": "Matched" if h.matched else "Approved - waiting",
                "pref_sibling_group": h.preferences["sibling_group"],
                "pref_age_5_plus": h.preferences["age_5_plus"],
                "pref_minority_ethnic": h.preferences["minority_ethnic"],
                "pref_disability": h.preferences["disability"],
                "report_text": h.report_text,
            }
        )
    for r in world.restrictions:
        for wid in r.worker_ids:
            rows["access_restriction"].append(
                {"child_id": r.child_id, "worker_id": wid, "reason": r.reason, "valid_from": r.start}
            )


def person_row(p, keyed_wrongly: bool) -> dict:
    """A person as the source system holds them today; ``keyed_wrongly`` writes the surname with its typo."""
    spell = p.names[-1]
    return {
        "person_id": p.person_id,
        "first_name": spell.first,
        "middle_name": p.middle,
        "surname": with_typo(spell.surname) if keyed_wrongly else spell.surname,
        "dob": p.dob,
        "sex": p.sex,
        "gender": p.genders[-1].gender,
        "ethnicity": p.ethnicity,
        "disability": p.disability,
        "upn": p.upn,
        "nhs_number": p.nhs_number,
        "person_type": "child" if p.is_child else "adult",
        "phone": p.phone,
        "email": p.email,
        "is_mother": p.is_mother,
    }


def address_row(person_id: str, a: AddressSpell) -> dict:
    return {
        "person_id": person_id,
        "address_id": a.address.address_id,
        "line1": a.address.line1,
        "town": a.address.town,
        "postcode": a.address.postcode,
        "valid_from": a.valid_from,
        "valid_to": a.valid_to,
    }


# The table each kind of episode is written to, and the column that holds its code there.
_EPISODE_TABLES = {"CIN": "cin_episode", "CP": "cp_plan", "CLA": "cla_episode"}
_EPISODE_CODE_COLUMNS = {"CIN": "reason_code", "CP": "category", "CLA": "legal_status"}


def episode_table(kind: str) -> str:
    return _EPISODE_TABLES[kind]


def episode_row(e) -> dict:
    row = {
        "episode_id": e.episode_id,
        "child_id": e.child_id,
        "start_date": e.start,
        "end_date": e.end,
        _EPISODE_CODE_COLUMNS[e.kind]: e.code,
    }
    if e.kind == "CIN":  # a referral (synth.council.pathway)
        row |= {
            "referral_source": e.referral_source,
            "referral_nfa": e.referral_nfa,
            "closure_reason": e.closure_reason,
        }
    if e.kind == "CP":
        row |= {"referral_id": e.referral_id, "icpc_id": e.icpc_id, "latest_category": e.latest_category}
    if e.kind == "CLA":  # a period of care also says why it began and ended, and where the child was placed
        row |= {
            "reason_new": e.reason_new,
            "reason_end": e.reason_end,
            "placement_type": e.placement_type,
            "placement_postcode": e.placement_postcode,
            "placement_provider": e.placement_provider,
            "carer_id": e.carer_id,
            "urn": e.urn,
            "reason_place_change": e.reason_place_change,
        }
    return row


def adopter_report(world: World, seed: int) -> None:
    """The prospective adopter report (PAR) summary: the text-heavy record the agency analyses."""
    rng = random_stream(seed, 9)
    for h in world.households:
        names = " and ".join(world.people[a].names[-1].first for a in h.adult_ids)
        h.report_text = prospective_adopter_report(h, names, rng)
