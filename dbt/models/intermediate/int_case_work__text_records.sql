-- Every live record with free text the entities stage reads (a case note, a document, a form answer), with the
-- date child_timeline gives it: a note's event date, else the day it was recorded; a document's created date; a
-- form's date. The ecomap's mentions and the child's factor statements take their dates from here.
with case_note as (
    select * from {{ ref('stg_enterprise__case_note') }} where not is_deleted
),

document as (
    select * from {{ ref('stg_enterprise__document') }} where not is_deleted
),

form_response as (
    select * from {{ ref('stg_enterprise__form_response') }} where not is_deleted
)

select 'case_note' as source_type, note_id as source_id, child_id,
    cast(coalesce(event_date, cast(recorded_at as date)) as date) as record_date
from case_note
union all
select 'document_page', document_id, child_id, cast(created_date as date) from document
union all
select 'form_answer', form_id || ':' || question_code, child_id, cast(form_date as date) from form_response
