-- Every event in a child's record, with the date it happened and the date it was recorded kept apart and
-- labelled: timeline_date is the event date where there is one, otherwise the recording date, and
-- timeline_date_is says which.
-- Incremental (decision 0038): a next-day build recomputes the children whose records, episodes, allocations or
-- allocated workers changed (dbt/macros/changed_children.sql).
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
