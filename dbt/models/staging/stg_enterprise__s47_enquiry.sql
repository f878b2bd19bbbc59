-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 's47_enquiry') }}
)

select
        s47_id,
        referral_id,
        child_id,
        start_date,
        end_date,
        icpc_required,
        {{ enterprise_lineage() }}
from source
