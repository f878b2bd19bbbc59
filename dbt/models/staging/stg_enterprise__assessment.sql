-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'assessment') }}
)

select
        assessment_id,
        referral_id,
        child_id,
        start_date,
        authorised_date,
        child_seen,
        outcome_nfa,
        {{ enterprise_lineage() }}
from source
