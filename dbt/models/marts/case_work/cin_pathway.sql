-- The children-in-need pathway, one row per referral: what followed it and how quickly, as the DfE measures it.
-- Assessment within 45 working days of the referral's assessment starting; initial conference within 15 working
-- days of the strategy discussion (the section 47 enquiry's start); how long the plans lasted; whether the
-- referral came within 12 months of the child's previous one (the DfE's re-referral: referral date to referral
-- date). Working days leave out weekends, not bank holidays.
with referral as (
    select * from {{ ref('stg_enterprise__referral') }} where not is_deleted
),

assessment as (
    select referral_id, min(start_date) as assessment_start, min(authorised_date) as assessment_authorised,
        bool_or(outcome_nfa) as assessment_nfa
    from {{ ref('stg_enterprise__assessment') }} where not is_deleted
    group by referral_id
),

conference as (
    select enquiry.referral_id, min(enquiry.start_date) as strategy_discussion, min(icpc.icpc_date) as icpc_date
    from {{ ref('stg_enterprise__s47_enquiry') }} as enquiry
    left join {{ ref('stg_enterprise__icpc') }} as icpc on icpc.s47_id = enquiry.s47_id and not icpc.is_deleted
    where not enquiry.is_deleted
    group by enquiry.referral_id
),

cp_plan as (
    select referral_id, min(start_date) as cp_plan_start, max(end_date) as cp_plan_end,
        sum(coalesce(end_date, current_date) - start_date) as cp_plan_days, arg_min(initial_category, start_date) as cp_category
    from {{ ref('stg_enterprise__cp_plan') }} where not is_deleted
    group by referral_id
),

cin_plan as (
    select referral_id, sum(coalesce(end_date, current_date) - start_date) as cin_plan_days
    from {{ ref('stg_enterprise__cin_plan') }} where not is_deleted
    group by referral_id
),

timed as (
    select
        referral.referral_id,
        referral.child_id,
        referral.referral_date,
        referral.closure_date,
        referral.referral_source,
        referral.primary_need,
        coalesce(referral.referral_nfa, false) as referral_nfa,
        referral.closure_reason,
        lag(referral.referral_date) over (partition by referral.child_id order by referral.referral_date, referral.referral_id)
            as previous_referral_date,
        assessment.assessment_start,
        assessment.assessment_authorised,
        assessment.assessment_nfa,
        {{ working_days_between('assessment.assessment_start', 'assessment.assessment_authorised') }}
            as assessment_working_days,
        conference.strategy_discussion,
        conference.icpc_date,
        {{ working_days_between('conference.strategy_discussion', 'conference.icpc_date') }} as icpc_working_days,
        cp_plan.cp_plan_start,
        cp_plan.cp_plan_end,
        cp_plan.cp_plan_days,
        cp_plan.cp_category,
        cin_plan.cin_plan_days
    from referral
    left join assessment on assessment.referral_id = referral.referral_id
    left join conference on conference.referral_id = referral.referral_id
    left join cp_plan on cp_plan.referral_id = referral.referral_id
    left join cin_plan on cin_plan.referral_id = referral.referral_id
)

select
    *,
    coalesce(previous_referral_date >= referral_date - interval 12 month, false) as is_re_referral_within_12_months,
    assessment_working_days <= 45 as assessment_within_45_working_days,
    icpc_working_days <= 15 as icpc_within_15_working_days,
    closure_date is null as is_open
from timed
