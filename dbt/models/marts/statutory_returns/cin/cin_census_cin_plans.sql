-- CIN census CINPlanDates of the year's referrals: plans open at any time in the year, an end after 31 March blank.
select
    plan.cin_plan_id,
    referral.referral_id,
    referral.child_id,
    plan.start_date,
    {{ cin_by_year_end('plan.end_date') }} as end_date
{{ cin_module_of_referral('stg_enterprise__cin_plan', 'plan') }}
where not plan.is_deleted
    and plan.start_date <= {{ cin_year_end() }}
    and (plan.end_date is null or plan.end_date >= {{ cin_year_start() }})
