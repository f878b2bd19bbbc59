"""Source systems: what each case-management export holds and how it spells it.

One declaration serves both sides of the landing contract. :data:`NEUTRAL_TABLES` names every table's
columns, key, required columns, dates, integers, booleans and coded columns in caselake's neutral
vocabulary; each :class:`SourceSystem` says how one system names those tables and columns, formats
its dates and codes its values. Staging validates a file against the declaration; the enterprise
layer maps it to the neutral vocabulary; the synthetic council writes its exports from it.
``docs/synthetic-council.md`` holds the mapping as ``caselake synth --describe`` prints it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

# Neutral table -> (neutral columns, key columns, required columns, date columns, datetime columns)
NEUTRAL_TABLES: dict[str, dict[str, tuple[str, ...]]] = {
    "person": {
        "columns": (
            "person_id",
            "first_name",
            "middle_name",
            "surname",
            "dob",
            "sex",
            "gender",
            "ethnicity",
            "disability",
            "upn",
            "nhs_number",
            "person_type",
            "phone",
            "email",
            "is_mother",
        ),
        "key": ("person_id",),
        "required": ("person_id", "surname", "sex", "person_type"),
        "dates": ("dob",),
        "earliest": {"dob": dt.date(1900, 1, 1)},  # a date of birth before this is a typo, not a person
        "codes": ("sex", "gender", "ethnicity", "person_type"),
    },
    "person_name": {
        "columns": ("person_id", "name_seq", "first_name", "surname", "valid_from", "reason"),
        "key": ("person_id", "name_seq"),
        "required": ("person_id", "name_seq", "surname", "valid_from"),
        "ints": ("name_seq",),
        "ranges": {"name_seq": (1, None)},
        "dates": ("valid_from",),
        "codes": ("reason",),
    },
    "person_gender": {
        "columns": ("person_id", "gender_seq", "gender", "valid_from"),
        "key": ("person_id", "gender_seq"),
        "required": ("person_id", "gender_seq", "gender", "valid_from"),
        "ints": ("gender_seq",),
        "ranges": {"gender_seq": (1, None)},
        "dates": ("valid_from",),
        "codes": ("gender",),
    },
    "person_address": {
        "columns": ("person_id", "address_id", "line1", "town", "postcode", "valid_from", "valid_to"),
        "key": ("person_id", "address_id", "valid_from"),
        "required": ("person_id", "address_id", "valid_from"),
        "dates": ("valid_from", "valid_to"),
        "codes": (),
    },
    "relationship": {
        "columns": ("relationship_id", "child_id", "person_id", "relation", "valid_from", "valid_to"),
        "key": ("relationship_id",),
        "required": ("relationship_id", "child_id", "person_id", "relation"),
        "dates": ("valid_from", "valid_to"),
        "codes": ("relation",),
    },
    "worker": {
        "columns": ("worker_id", "first_name", "surname", "role", "team", "email", "phone"),
        "key": ("worker_id",),
        "required": ("worker_id", "surname", "role"),
        "dates": (),
        "codes": ("role",),
    },
    "involvement": {
        "columns": ("involvement_id", "child_id", "worker_id", "involvement_type", "start_date", "end_date"),
        "key": ("involvement_id",),
        "required": ("involvement_id", "child_id", "worker_id", "start_date"),
        "dates": ("start_date", "end_date"),
        "codes": (),
    },
    # A CIN episode is one referral, from its date to its closure (SSD ssd_cin_episodes): the primary need is
    # reason_code. The referral source and closure reason are not validated against a code list here: they are
    # the CIN census's codes, and the DfE rules (8866, 8640) are what names a wrong one (decision 0047).
    "cin_episode": {
        "columns": (
            "episode_id",
            "child_id",
            "start_date",
            "end_date",
            "reason_code",
            "referral_source",
            "referral_nfa",
            "closure_reason",
        ),
        "key": ("episode_id",),
        "required": ("episode_id", "child_id", "start_date", "reason_code"),
        "dates": ("start_date", "end_date"),
        "codes": ("reason_code",),
    },
    "cp_plan": {
        "columns": (
            "episode_id",
            "child_id",
            "start_date",
            "end_date",
            "category",
            "referral_id",
            "icpc_id",
            "latest_category",
        ),
        "key": ("episode_id",),
        "required": ("episode_id", "child_id", "start_date", "category"),
        "dates": ("start_date", "end_date"),
        "codes": ("category",),
    },
    # The children-in-need pathway (issue 40): contact -> referral (cin_episode) -> assessment with the factors
    # identified at its end -> section 47 enquiry -> initial child protection conference -> CP plan (with its
    # reviews) or CIN plan. Shaped so that SSD's tables map onto them column for column (decision 0047).
    "contact": {
        "columns": ("contact_id", "child_id", "contact_date", "contact_source", "outcome"),
        "key": ("contact_id",),
        "required": ("contact_id", "child_id", "contact_date"),
        "dates": ("contact_date",),
        "codes": (),
    },
    "assessment": {
        "columns": (
            "assessment_id",
            "referral_id",
            "child_id",
            "start_date",
            "authorised_date",
            "child_seen",
            "outcome_nfa",
        ),
        "key": ("assessment_id",),
        "required": ("assessment_id", "referral_id", "child_id", "start_date"),
        "dates": ("start_date", "authorised_date"),
        "codes": (),
    },
    "assessment_factor": {  # one row per factor identified (SSD: a JSON list per assessment)
        "columns": ("assessment_id", "factor"),
        "key": ("assessment_id", "factor"),
        "required": ("assessment_id", "factor"),
        "dates": (),
        "codes": (),
    },
    "s47_enquiry": {
        "columns": ("s47_id", "referral_id", "child_id", "start_date", "end_date", "icpc_required"),
        "key": ("s47_id",),
        "required": ("s47_id", "referral_id", "child_id", "start_date"),
        "dates": ("start_date", "end_date"),
        "codes": (),
    },
    "icpc": {
        "columns": ("icpc_id", "s47_id", "referral_id", "child_id", "target_date", "icpc_date", "cp_plan_required"),
        "key": ("icpc_id",),
        "required": ("icpc_id", "referral_id", "child_id", "icpc_date"),
        "dates": ("target_date", "icpc_date"),
        "codes": (),
    },
    "cp_review": {
        "columns": ("cp_review_id", "cp_plan_id", "child_id", "review_date"),
        "key": ("cp_review_id",),
        "required": ("cp_review_id", "cp_plan_id", "child_id", "review_date"),
        "dates": ("review_date",),
        "codes": (),
    },
    "cin_plan": {
        "columns": ("cin_plan_id", "referral_id", "child_id", "start_date", "end_date"),
        "key": ("cin_plan_id",),
        "required": ("cin_plan_id", "referral_id", "child_id", "start_date"),
        "dates": ("start_date", "end_date"),
        "codes": (),
    },
    "cla_episode": {
        "columns": (
            "episode_id",
            "child_id",
            "start_date",
            "end_date",
            "legal_status",
            "reason_new",
            "reason_end",
            "placement_type",
            "placement_postcode",
            "placement_provider",
            "carer_id",
            "urn",
            "reason_place_change",
        ),
        "key": ("episode_id",),
        "required": ("episode_id", "child_id", "start_date", "legal_status"),
        "dates": ("start_date", "end_date"),
        "codes": ("legal_status", "placement_type", "reason_place_change"),
    },
    "cla_review": {
        "columns": ("review_id", "child_id", "review_date", "participation"),
        "key": ("review_id",),
        "required": ("review_id", "child_id", "review_date"),
        "dates": ("review_date",),
        "codes": ("participation",),
    },
    "missing_episode": {
        "columns": ("missing_id", "child_id", "missing_type", "start_date", "end_date"),
        "key": ("missing_id",),
        "required": ("missing_id", "child_id", "missing_type", "start_date"),
        "dates": ("start_date", "end_date"),
        "codes": ("missing_type",),
    },
    "case_note": {
        "columns": ("note_id", "child_id", "worker_id", "note_type", "event_date", "recorded_at", "note_text"),
        "key": ("note_id",),
        "required": ("note_id", "child_id", "recorded_at", "note_text"),
        "dates": ("event_date",),
        "datetimes": ("recorded_at",),
        "codes": ("note_type",),
    },
    "document": {
        "columns": ("document_id", "child_id", "worker_id", "document_type", "title", "file_name", "created_date"),
        "key": ("document_id",),
        "required": ("document_id", "child_id", "file_name"),
        "dates": ("created_date",),
        "codes": ("document_type",),
    },
    "form": {
        "columns": ("form_id", "child_id", "worker_id", "form_type", "form_date", "outcome"),
        "key": ("form_id",),
        "required": ("form_id", "child_id", "form_type", "form_date"),
        "dates": ("form_date",),
        "codes": ("form_type",),
    },
    "form_answer": {
        "columns": ("form_id", "question_code", "question", "answer_text"),
        "key": ("form_id", "question_code"),
        "required": ("form_id", "question_code"),
        "dates": (),
        "codes": (),
    },
    "adoption": {
        "columns": (
            "adoption_id",
            "child_id",
            "household_id",
            "entered_care",
            "decision_to_place",
            "placement_order",
            "matched",
            "placed",
            "adoption_order",
            "sibling_group_id",
            "adopted_by_foster_carer",
        ),
        "key": ("adoption_id",),
        "required": ("adoption_id", "child_id", "decision_to_place"),
        "dates": ("entered_care", "decision_to_place", "placement_order", "matched", "placed", "adoption_order"),
        "codes": ("adopted_by_foster_carer",),
    },
    "adopter_household": {
        "columns": (
            "household_id",
            "household_type",
            "adult_1_id",
            "adult_2_id",
            "adult_1_age",
            "adult_2_age",
            "ethnicity",
            "religion",
            "prior_fostering",
            "years_fostering",
            "birth_children",
            "occupation_sector",
            "region",
            "approval_date",
            "status",
            "pref_sibling_group",
            "pref_age_5_plus",
            "pref_minority_ethnic",
            "pref_disability",
            "report_text",
        ),
        "key": ("household_id",),
        "required": ("household_id", "household_type", "approval_date", "status"),
        "ints": ("adult_1_age", "adult_2_age", "years_fostering", "birth_children"),
        "ranges": {
            "adult_1_age": (18, 100),
            "adult_2_age": (18, 100),
            "years_fostering": (0, 60),
            "birth_children": (0, 20),
        },
        "dates": ("approval_date",),
        "codes": (
            "ethnicity",
            "prior_fostering",
            "pref_sibling_group",
            "pref_age_5_plus",
            "pref_minority_ethnic",
            "pref_disability",
        ),
    },
    "access_restriction": {
        "columns": ("child_id", "worker_id", "reason", "valid_from"),
        "key": ("child_id", "worker_id"),
        "required": ("child_id", "worker_id"),
        "dates": ("valid_from",),
        "codes": (),
    },
    "deleted_record": {
        "columns": ("table_name", "record_id", "deleted_at", "reason"),
        "key": ("table_name", "record_id"),
        "required": ("table_name", "record_id", "deleted_at"),
        "dates": (),
        "datetimes": ("deleted_at",),
        "codes": (),
    },
}


YES_NO_COLUMNS = frozenset(
    {
        "is_mother",
        "prior_fostering",
        "adopted_by_foster_carer",
        "pref_sibling_group",
        "pref_age_5_plus",
        "pref_minority_ethnic",
        "pref_disability",
        "referral_nfa",
        "child_seen",
        "outcome_nfa",
        "icpc_required",
        "cp_plan_required",
    }
)


def column_dtype(table: str, column: str) -> pl.DataType:
    """The typed column staging produces from a source's text."""
    spec = NEUTRAL_TABLES[table]
    if column in spec.get("datetimes", ()):
        return pl.Datetime("us", "UTC")
    if column in spec.get("dates", ()):
        return pl.Date()
    if column in spec.get("ints", ()):
        return pl.Int64()
    if column in YES_NO_COLUMNS:
        return pl.Boolean()
    return pl.String()


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


@dataclass(frozen=True)
class SourceSystem:
    name: str
    source: str  # the landing folder name
    delimiter: str
    tables: dict[str, str]
    columns: dict[str, dict[str, str]]  # neutral table -> neutral column -> flavour column
    codes: dict[str, dict[str, str]] = field(default_factory=dict)  # neutral column -> value map
    date_style: str = "uk"  # "uk" dd/mm/yyyy, "oracle" DD-MON-YYYY

    def table(self, neutral: str) -> str:
        return self.tables[neutral]

    def column(self, neutral_table: str, neutral_column: str) -> str:
        return self.columns.get(neutral_table, {}).get(neutral_column, neutral_column)

    def format_date(self, d: dt.date | None) -> str:
        if d is None:
            return ""
        if self.date_style == "uk":
            return f"{d.day:02d}/{d.month:02d}/{d.year:04d}"
        return f"{d.day:02d}-{_MONTHS[d.month - 1]}-{d.year:04d}"

    def format_datetime(self, t: dt.datetime | None) -> str:
        if t is None:
            return ""
        return f"{self.format_date(t.date())} {t:%H:%M:%S}"

    def code(self, neutral_column: str, value: str) -> str:
        return self.codes.get(neutral_column, {}).get(value, value)

    @property
    def strptime_date(self) -> str:
        return "%d/%m/%Y" if self.date_style == "uk" else "%d-%b-%Y"

    @property
    def strptime_datetime(self) -> str:
        return f"{self.strptime_date} %H:%M:%S"

    def source_codes(self, neutral_column: str) -> dict[str, str]:
        """Source value -> canonical value, for a coded column (booleans as "true"/"false")."""
        key = "yes_no" if neutral_column in YES_NO_COLUMNS else neutral_column
        return {v: k for k, v in self.codes.get(key, {}).items()}

    def table_for_file(self, file_stem: str) -> str | None:
        """The neutral table a source file holds, or None for a file this system does not send."""
        return {v: k for k, v in self.tables.items()}.get(file_stem)


def _upper_columns(prefix: str = "") -> dict[str, dict[str, str]]:
    return {t: {c: prefix + c.replace("_", "").upper() for c in spec["columns"]} for t, spec in NEUTRAL_TABLES.items()}


RELATION_CODES_LL = {
    "mother": "MOTHER",
    "father": "FATHER",
    "stepmother": "STEPMOTHER",
    "stepfather": "STEPFATHER",
    "brother": "BROTHER",
    "sister": "SISTER",
    "maternal grandmother": "MGM",
    "maternal grandfather": "MGF",
    "paternal grandmother": "PGM",
    "paternal grandfather": "PGF",
    "aunt": "AUNT",
    "uncle": "UNCLE",
    "family friend": "FAMFRIEND",
    "neighbour": "NEIGHBOUR",
    "foster carer": "FOSTERCARER",
    "mother's partner": "MPARTNER",
    "godparent": "GODPARENT",
}
RELATION_CODES_MO = {
    "mother": "Mother",
    "father": "Father",
    "stepmother": "Step-mother",
    "stepfather": "Step-father",
    "brother": "Sibling (brother)",
    "sister": "Sibling (sister)",
    "maternal grandmother": "Grandmother (maternal)",
    "maternal grandfather": "Grandfather (maternal)",
    "paternal grandmother": "Grandmother (paternal)",
    "paternal grandfather": "Grandfather (paternal)",
    "aunt": "Aunt",
    "uncle": "Uncle",
    "family friend": "Family friend",
    "neighbour": "Neighbour",
    "foster carer": "Foster carer",
    "mother's partner": "Mother's partner",
    "godparent": "Godparent",
}

LIQUIDLOGIC = SourceSystem(
    name="liquidlogic",
    source="liquidlogic",
    delimiter=",",
    tables={
        "person": "PERSON",
        "person_name": "PERSON_NAME_HISTORY",
        "person_gender": "PERSON_GENDER_HISTORY",
        "person_address": "PERSON_ADDRESS",
        "relationship": "RELATIONSHIP",
        "worker": "WORKER",
        "involvement": "INVOLVEMENT",
        "cin_episode": "CIN_EPISODE",
        "cp_plan": "CP_PLAN",
        "contact": "CONTACT",
        "assessment": "ASSESSMENT",
        "assessment_factor": "ASSESSMENT_FACTOR",
        "s47_enquiry": "SECTION47_ENQUIRY",
        "icpc": "INITIAL_CP_CONFERENCE",
        "cp_review": "CP_REVIEW",
        "cin_plan": "CIN_PLAN",
        "cla_episode": "LAC_EPISODE",
        "cla_review": "LAC_REVIEW",
        "missing_episode": "MISSING_EPISODE",
        "case_note": "CASE_NOTE",
        "document": "DOCUMENT_MANIFEST",
        "form": "FORM",
        "form_answer": "FORM_ANSWER",
        "adoption": "ADOPTION",
        "adopter_household": "ADOPTER_HOUSEHOLD",
        "access_restriction": "RECORD_RESTRICTION",
        "deleted_record": "DELETED_RECORDS",
    },
    columns=_upper_columns(),
    codes={
        "sex": {"M": "M", "F": "F"},
        "gender": {"male": "Male", "female": "Female", "non-binary": "Non-binary"},
        "relation": RELATION_CODES_LL,
        "person_type": {"child": "CHILD", "adult": "ADULT"},
        "yes_no": {"true": "Y", "false": "N"},
    },
    date_style="uk",
)

MOSAIC = SourceSystem(
    name="mosaic",
    source="mosaic",
    delimiter="|",
    tables={
        "person": "mo_persons",
        "person_name": "mo_person_names",
        "person_gender": "mo_person_genders",
        "person_address": "mo_person_addresses",
        "relationship": "mo_personal_relationships",
        "worker": "mo_workers",
        "involvement": "mo_worker_allocations",
        "cin_episode": "mo_cin_periods",
        "cp_plan": "mo_cp_registrations",
        "contact": "mo_contacts",
        "assessment": "mo_assessments",
        "assessment_factor": "mo_assessment_factors",
        "s47_enquiry": "mo_section_47s",
        "icpc": "mo_initial_conferences",
        "cp_review": "mo_cp_reviews",
        "cin_plan": "mo_cin_plans",
        "cla_episode": "mo_lac_periods",
        "cla_review": "mo_lac_reviews",
        "missing_episode": "mo_missing_periods",
        "case_note": "mo_case_notes",
        "document": "mo_documents",
        "form": "mo_forms",
        "form_answer": "mo_form_answers",
        "adoption": "mo_adoption_details",
        "adopter_household": "mo_adopter_approvals",
        "access_restriction": "mo_restricted_access",
        "deleted_record": "mo_deletions",
    },
    columns={
        "person": {
            "person_id": "person_ref",
            "first_name": "forename",
            "middle_name": "middle_names",
            "surname": "surname",
            "dob": "date_of_birth",
            "sex": "sex_at_birth",
            "gender": "gender_identity",
            "ethnicity": "ethnic_origin",
            "disability": "disability_type",
            "upn": "upn",
            "nhs_number": "nhs_no",
            "person_type": "person_category",
            "phone": "telephone",
            "email": "email_address",
            "is_mother": "is_a_mother",
        },
        "person_name": {
            "person_id": "person_ref",
            "name_seq": "name_no",
            "first_name": "forename",
            "surname": "surname",
            "valid_from": "start_date",
            "reason": "name_type",
        },
        "person_gender": {
            "person_id": "person_ref",
            "gender_seq": "gender_no",
            "gender": "gender_identity",
            "valid_from": "start_date",
        },
        "person_address": {
            "person_id": "person_ref",
            "address_id": "address_ref",
            "line1": "address_line_1",
            "town": "town",
            "postcode": "post_code",
            "valid_from": "start_date",
            "valid_to": "end_date",
        },
        "relationship": {
            "relationship_id": "relationship_ref",
            "child_id": "subject_person_ref",
            "person_id": "related_person_ref",
            "relation": "relationship_type",
            "valid_from": "start_date",
            "valid_to": "end_date",
        },
        "worker": {
            "worker_id": "worker_ref",
            "first_name": "forename",
            "surname": "surname",
            "role": "job_title",
            "team": "team_name",
            "email": "email_address",
            "phone": "telephone",
        },
        "involvement": {
            "involvement_id": "allocation_ref",
            "child_id": "person_ref",
            "worker_id": "worker_ref",
            "involvement_type": "allocation_role",
            "start_date": "allocated_from",
            "end_date": "allocated_to",
        },
        "cin_episode": {
            "episode_id": "period_ref",
            "child_id": "person_ref",
            "start_date": "referral_date",
            "end_date": "closure_date",
            "reason_code": "primary_need_code",
            "referral_source": "referral_source_code",
            "referral_nfa": "referral_nfa",
            "closure_reason": "closure_reason_code",
        },
        "cp_plan": {
            "episode_id": "registration_ref",
            "child_id": "person_ref",
            "start_date": "registration_date",
            "end_date": "deregistration_date",
            "category": "category_of_abuse",
            "referral_id": "period_ref",
            "icpc_id": "conference_ref",
            "latest_category": "latest_category_of_abuse",
        },
        "contact": {
            "contact_id": "contact_ref",
            "child_id": "person_ref",
            "contact_date": "contact_date",
            "contact_source": "contact_source_code",
            "outcome": "contact_outcome",
        },
        "assessment": {
            "assessment_id": "assessment_ref",
            "referral_id": "period_ref",
            "child_id": "person_ref",
            "start_date": "assessment_start",
            "authorised_date": "assessment_authorised",
            "child_seen": "child_seen_flag",
            "outcome_nfa": "outcome_nfa_flag",
        },
        "assessment_factor": {"assessment_id": "assessment_ref", "factor": "factor_code"},
        "s47_enquiry": {
            "s47_id": "section_47_ref",
            "referral_id": "period_ref",
            "child_id": "person_ref",
            "start_date": "strategy_discussion_date",
            "end_date": "enquiry_completed",
            "icpc_required": "conference_required",
        },
        "icpc": {
            "icpc_id": "conference_ref",
            "s47_id": "section_47_ref",
            "referral_id": "period_ref",
            "child_id": "person_ref",
            "target_date": "conference_due",
            "icpc_date": "conference_held",
            "cp_plan_required": "plan_required",
        },
        "cp_review": {
            "cp_review_id": "cp_review_ref",
            "cp_plan_id": "registration_ref",
            "child_id": "person_ref",
            "review_date": "review_held_on",
        },
        "cin_plan": {
            "cin_plan_id": "cin_plan_ref",
            "referral_id": "period_ref",
            "child_id": "person_ref",
            "start_date": "plan_start",
            "end_date": "plan_end",
        },
        "cla_episode": {
            "episode_id": "lac_period_ref",
            "child_id": "person_ref",
            "start_date": "period_start",
            "end_date": "period_end",
            "legal_status": "legal_status_code",
            "reason_new": "rne_code",
            "reason_end": "rec_code",
            "placement_type": "placement_type_code",
            "urn": "ofsted_urn",
            "reason_place_change": "placement_change_reason",
            "placement_postcode": "placement_post_code",
            "placement_provider": "provider_code",
            "carer_id": "carer_person_ref",
        },
        "cla_review": {
            "review_id": "review_ref",
            "child_id": "person_ref",
            "review_date": "review_held_on",
            "participation": "participation_code",
        },
        "missing_episode": {
            "missing_id": "missing_ref",
            "child_id": "person_ref",
            "missing_type": "missing_or_away",
            "start_date": "missing_from",
            "end_date": "missing_to",
        },
        "case_note": {
            "note_id": "case_note_ref",
            "child_id": "person_ref",
            "worker_id": "author_worker_ref",
            "note_type": "note_category",
            "event_date": "contact_date",
            "recorded_at": "entered_on",
            "note_text": "note_body",
        },
        "document": {
            "document_id": "document_ref",
            "child_id": "person_ref",
            "worker_id": "uploaded_by",
            "document_type": "document_category",
            "title": "document_title",
            "file_name": "stored_path",
            "created_date": "document_date",
        },
        "form": {
            "form_id": "form_ref",
            "child_id": "person_ref",
            "worker_id": "completed_by",
            "form_type": "form_name",
            "form_date": "completed_date",
            "outcome": "form_outcome",
        },
        "form_answer": {
            "form_id": "form_ref",
            "question_code": "question_ref",
            "question": "question_text",
            "answer_text": "answer_value",
        },
        "adoption": {
            "adoption_id": "adoption_ref",
            "child_id": "person_ref",
            "household_id": "adopter_approval_ref",
            "entered_care": "date_entered_care",
            "decision_to_place": "date_should_be_placed",
            "placement_order": "date_placement_order",
            "matched": "date_matched",
            "placed": "date_placed_for_adoption",
            "adoption_order": "date_adoption_order",
            "sibling_group_id": "sibling_group_ref",
            "adopted_by_foster_carer": "foster_carer_adoption",
        },
        "adopter_household": {
            "household_id": "adopter_approval_ref",
            "household_type": "household_composition",
            "adult_1_id": "applicant_1_ref",
            "adult_2_id": "applicant_2_ref",
            "adult_1_age": "applicant_1_age",
            "adult_2_age": "applicant_2_age",
            "ethnicity": "ethnic_origin",
            "religion": "religion",
            "prior_fostering": "has_fostered",
            "years_fostering": "years_fostered",
            "birth_children": "number_birth_children",
            "occupation_sector": "employment_sector",
            "region": "home_region",
            "approval_date": "date_approved",
            "status": "approval_status",
            "pref_sibling_group": "open_to_siblings",
            "pref_age_5_plus": "open_to_over_5",
            "pref_minority_ethnic": "open_to_minority_ethnic",
            "pref_disability": "open_to_disability",
            "report_text": "par_summary",
        },
        "access_restriction": {
            "child_id": "person_ref",
            "worker_id": "permitted_worker_ref",
            "reason": "restriction_reason",
            "valid_from": "restricted_from",
        },
        "deleted_record": {
            "table_name": "source_table",
            "record_id": "record_ref",
            "deleted_at": "deleted_on",
            "reason": "deletion_reason",
        },
    },
    codes={
        "sex": {"M": "Male", "F": "Female"},
        "gender": {"male": "M", "female": "F", "non-binary": "N"},
        "relation": RELATION_CODES_MO,
        "person_type": {"child": "Client", "adult": "Associated person"},
        "yes_no": {"true": "1", "false": "0"},
        "missing_type": {"M": "Missing", "A": "Away"},
    },
    date_style="oracle",
)

SOURCES = {f.name: f for f in (LIQUIDLOGIC, MOSAIC)}


def describe() -> str:
    """The mapping of every neutral table and column to each flavour, as Markdown."""
    out = ["| neutral table.column | " + " | ".join(f.name for f in SOURCES.values()) + " |", "| --- | --- | --- |"]
    for table, spec in NEUTRAL_TABLES.items():
        out.append(f"| **{table}** | " + " | ".join(f"**{f.table(table)}**" for f in SOURCES.values()) + " |")
        for col in spec["columns"]:
            out.append(f"| {table}.{col} | " + " | ".join(f.column(table, col) for f in SOURCES.values()) + " |")
    out.append("")
    out.append(
        "Dates: liquidlogic `dd/mm/yyyy` (datetimes `dd/mm/yyyy HH:MM:SS`), comma-delimited; "
        "mosaic `DD-MON-YYYY` (datetimes `DD-MON-YYYY HH:MM:SS`), pipe-delimited. Both UTF-8 CSV with a header."
    )
    out.append("")
    out.append("| code list | neutral | " + " | ".join(SOURCES) + " |")
    out.append("| --- | --- | --- | --- |")
    for col in ("sex", "gender", "person_type", "yes_no", "relation"):
        for value in LIQUIDLOGIC.codes[col]:
            out.append(f"| {col} | {value} | " + " | ".join(f.code(col, value) for f in SOURCES.values()) + " |")
    return "\n".join(out)
