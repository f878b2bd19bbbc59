-- Referrals (CIN episodes) open at any time in the CIN census year (1 April to 31 March, var cin_year) of children
-- the lake holds, in canonical types; a closure after 31 March is blanked, as if still open. The cin_census_*
-- marts hang every other module of the census on these.
select
    referral.referral_id,
    referral.child_id,
    referral.referral_date,
    {{ cin_by_year_end('referral.closure_date') }} as closure_date,
    {{ cin_by_year_end('referral.closure_date', 'referral.closure_reason') }} as closure_reason,
    referral.referral_source,
    referral.primary_need,
    coalesce(referral.referral_nfa, false) as referral_nfa
from {{ ref('stg_enterprise__referral') }} as referral
inner join {{ ref('stg_enterprise__child') }} as child on child.child_id = referral.child_id and not child.is_deleted
where not referral.is_deleted
    and referral.referral_date <= {{ cin_year_end() }}
    and (referral.closure_date is null or referral.closure_date >= {{ cin_year_start() }})
