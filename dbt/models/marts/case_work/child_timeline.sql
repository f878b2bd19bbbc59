-- Every event in a child's record, with the date it happened and the date it was recorded kept apart and
-- labelled: timeline_date is the event date where there is one, otherwise the recording date, and
-- timeline_date_is says which.
-- Incremental (decision 0038): a next-day build recomputes the children whose records, episodes, allocations or
-- allocated workers changed (dbt/macros/changed_children.sql), and their pathway's records (issue 40).
{{ config(
    materialized='incremental',
    incremental_strategy='changed_children',
    on_schema_change='fail',
    pre_hook="{{ incremental_marts_begin(changes__child_timeline()) }}",
    post_hook="{{ incremental_marts_end() }}",
) }}
-- depends_on: {{ ref('stg_enterprise__involvement') }}
-- depends_on: {{ ref('stg_enterprise__worker') }}
with notes as (
    select child_id, 'case note' as event_type, note_type as event_subtype, left(note_text, 120) as summary,
        event_date, cast(recorded_at as date) as recorded_date, 'case_note' as source_table, note_id as source_id
    from {{ ref('stg_enterprise__case_note') }} where not is_deleted and {{ in_changed_children() }}
),

documents as (
    select child_id, 'document' as event_type, document_type as event_subtype, title as summary, null::date as event_date,
        created_date as recorded_date, 'document' as source_table, document_id as source_id
    from {{ ref('stg_enterprise__document') }} where not is_deleted and {{ in_changed_children() }}
),

forms as (
    select distinct child_id, 'form' as event_type, form_type as event_subtype, outcome as summary, form_date as event_date,
        null::date as recorded_date, 'form_response' as source_table, form_id as source_id
    from {{ ref('stg_enterprise__form_response') }} where not is_deleted and {{ in_changed_children() }}
),

episodes as (
    select child_id, kind || ' episode started' as event_type, code as event_subtype, null as summary,
        start_date as event_date, null::date as recorded_date, 'episode' as source_table, episode_id as source_id
    from {{ ref('stg_enterprise__episode') }} where not is_deleted and {{ in_changed_children() }}
    union all
    select child_id, kind || ' episode ended', code, null, end_date, null::date, 'episode', episode_id
    from {{ ref('stg_enterprise__episode') }} where not is_deleted and end_date is not null and {{ in_changed_children() }}
),

-- The children-in-need pathway (issue 40): the referral and its CP plan are the CIN and CP episodes above.
factors as (
    select assessment_id, string_agg(factor, ', ' order by factor) as factors
    from {{ ref('stg_enterprise__assessment_factor') }} where not is_deleted
    group by assessment_id
),

pathway as (
    select child_id, 'contact' as event_type, contact_source as event_subtype, outcome as summary,
        contact_date as event_date, null::date as recorded_date, 'contact' as source_table, contact_id as source_id
    from {{ ref('stg_enterprise__contact') }} where not is_deleted and {{ in_changed_children() }}
    union all
    select child_id, 'assessment started', null, null, start_date, null::date, 'assessment', assessment_id
    from {{ ref('stg_enterprise__assessment') }} where not is_deleted and {{ in_changed_children() }}
    union all
    select assessment.child_id, 'assessment authorised',
        case when assessment.outcome_nfa then 'no further action' end, 'factors identified: ' || factors.factors,
        assessment.authorised_date, null::date, 'assessment', assessment.assessment_id
    from {{ ref('stg_enterprise__assessment') }} as assessment
    left join factors on factors.assessment_id = assessment.assessment_id
    where not assessment.is_deleted and assessment.authorised_date is not null
        and {{ in_changed_children('assessment.child_id') }}
    union all
    select child_id, 'section 47 enquiry started', null, null, start_date, null::date, 's47_enquiry', s47_id
    from {{ ref('stg_enterprise__s47_enquiry') }} where not is_deleted and {{ in_changed_children() }}
    union all
    select child_id, 'initial child protection conference', case when cp_plan_required then 'plan made' end, null,
        icpc_date, null::date, 'icpc', icpc_id
    from {{ ref('stg_enterprise__icpc') }} where not is_deleted and {{ in_changed_children() }}
    union all
    select child_id, 'CP plan review', null, null, review_date, null::date, 'cp_review', cp_review_id
    from {{ ref('stg_enterprise__cp_review') }} where not is_deleted and {{ in_changed_children() }}
    union all
    select child_id, 'CIN plan started', null, null, start_date, null::date, 'cin_plan', cin_plan_id
    from {{ ref('stg_enterprise__cin_plan') }} where not is_deleted and {{ in_changed_children() }}
    union all
    select child_id, 'CIN plan ended', null, null, end_date, null::date, 'cin_plan', cin_plan_id
    from {{ ref('stg_enterprise__cin_plan') }} where not is_deleted and end_date is not null and {{ in_changed_children() }}
),

allocations as (
    select child_id, 'worker allocated' as event_type, worker_role as event_subtype, worker_name as summary,
        valid_from as event_date, null::date as recorded_date, 'involvement' as source_table, involvement_id as source_id
    from {{ ref('int_case_work__worker_allocations') }} where {{ in_changed_children() }}
),

events as (
    {% set columns = 'child_id, event_type, event_subtype, summary, event_date, recorded_date, source_table, source_id' %}
    -- named columns, not *, so Dagster can trace column-level lineage through the union
    select {{ columns }} from notes
    union all select {{ columns }} from documents
    union all select {{ columns }} from forms
    union all select {{ columns }} from episodes
    union all select {{ columns }} from pathway
    union all select {{ columns }} from allocations
)

select
    md5(source_table || ':' || source_id || ':' || event_type) as timeline_event_id,
    child_id,
    coalesce(event_date, recorded_date) as timeline_date,
    case when event_date is not null then 'event date' else 'recording date' end as timeline_date_is,
    event_date,
    recorded_date,
    event_type,
    event_subtype,
    summary,
    source_table,
    source_id
from events
