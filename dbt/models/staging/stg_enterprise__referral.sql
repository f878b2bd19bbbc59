-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'referral') }}
)

select
        referral_id,
        child_id,
        referral_date,
        closure_date,
        primary_need,
        referral_source,
        referral_nfa,
        closure_reason,
        {{ enterprise_lineage() }}
from source
