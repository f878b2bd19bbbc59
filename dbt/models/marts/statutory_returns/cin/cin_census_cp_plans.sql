-- CIN census ChildProtectionPlans of the year's referrals: plans open at any time in the year, an end after
-- 31 March blank; NumberOfPreviousCPP counts the child's plans that started before this one (not all of them).
with plan as (
    select * from {{ ref('stg_enterprise__cp_plan') }} where not is_deleted
)

select
    plan.cp_plan_id,
    referral.referral_id,
    referral.child_id,
    plan.start_date,
    {{ cin_by_year_end('plan.end_date') }} as end_date,
    plan.initial_category,
    coalesce(plan.latest_category, plan.initial_category) as latest_category,
    (
        select count(*) from plan as earlier
        where earlier.child_id = plan.child_id and earlier.start_date < plan.start_date
    ) as previous_plans
from plan
inner join {{ ref('int_cin__referrals_in_year') }} as referral on referral.referral_id = plan.referral_id
where plan.start_date <= {{ cin_year_end() }}
    and (plan.end_date is null or plan.end_date >= {{ cin_year_start() }})
