-- CIN census CINdetails: one row per referral open in the census year.
select
    referral_id,
    child_id,
    referral_date,
    referral_source,
    primary_need,
    closure_date,
    closure_reason,
    referral_nfa
from {{ ref('int_cin__referrals_in_year') }}
