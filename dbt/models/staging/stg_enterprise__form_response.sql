-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'form_response') }}
)

select
        form_id,
        question_code,
        child_id,
        worker_id,
        form_type,
        form_date,
        outcome,
        question,
        answer_text,
        {{ enterprise_lineage() }}
from source
