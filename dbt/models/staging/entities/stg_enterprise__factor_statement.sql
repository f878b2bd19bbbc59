-- Staging: renaming and typing only. Like the mentions, the table has no soft deletes: the entities stage prunes
-- the statements of deleted or changed texts, and the marts keep only statements in live records.
with source as (
    select * from {{ source('enterprise', 'factor_statements') }}
)

select
        statement_id || ':' || code as statement_label_id,
        statement_id,
        source_type,
        source_id,
        cast(page as integer) as page,
        child_id,
        cast("start" as integer) as span_start,
        cast("end" as integer) as span_end,
        statement as statement_text,
        code,
        kind,
        status,
        who,
        score,
        model_version,
        coded_at
from source
