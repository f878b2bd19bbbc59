-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'cin_plan') }}
)

select
        cin_plan_id,
        referral_id,
        child_id,
        start_date,
        end_date,
        {{ enterprise_lineage() }}
from source
