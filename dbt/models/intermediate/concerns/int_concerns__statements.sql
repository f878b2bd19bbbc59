-- Every coded statement in a child's live records, one row per label (a code or a strength, with its status),
-- dated as the record is (int_case_work__text_records): the one place the factor marts take their statements
-- from (child_factors aggregates them, child_factor_statements lists them).
with statement as (
    select * from {{ ref('stg_enterprise__factor_statement') }}
),

record as (
    select * from {{ ref('int_case_work__text_records') }}
)

select
    statement.statement_label_id,
    statement.statement_id,
    statement.child_id,
    statement.code,
    statement.kind,
    statement.status,
    statement.who,
    statement.score,
    statement.source_type,
    statement.source_id,
    statement.page,
    statement.span_start,
    statement.span_end,
    cast(record.record_date as date) as record_date,
    case statement.source_type
        when 'document_page' then statement.source_type || ':' || statement.source_id || '#' || statement.page
        else statement.source_type || ':' || statement.source_id
    end as source_key,
    statement.model_version
from statement
inner join record
    on record.source_type = statement.source_type
    and record.source_id = statement.source_id
    and record.child_id = statement.child_id
