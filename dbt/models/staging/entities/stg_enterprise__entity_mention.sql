-- Staging: renaming and typing only. The mentions table has no soft deletes: the entities stage prunes the
-- mentions of deleted or changed texts, and the marts also keep only mentions in live records.
with source as (
    select * from {{ source('enterprise', 'entity_mentions') }}
)

select
        mention_id,
        source_type,
        source_id,
        cast(page as integer) as page,
        child_id,
        cast("start" as integer) as span_start,
        cast("end" as integer) as span_end,
        text as mention_text,
        label,
        score,
        method,
        model_id,
        model_version,
        extracted_at
from source
