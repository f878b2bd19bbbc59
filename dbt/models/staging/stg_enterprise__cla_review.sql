-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'cla_review') }}
)

select
        review_id,
        child_id,
        review_date,
        participation as participation_code,
        {{ enterprise_lineage() }}
from source
