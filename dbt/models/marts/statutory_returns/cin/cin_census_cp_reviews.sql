-- CIN census Reviews: the reviews held in the year of the census's CP plans.
select
    review.cp_review_id,
    plan.cp_plan_id,
    plan.child_id,
    review.review_date
from {{ ref('stg_enterprise__cp_review') }} as review
inner join {{ ref('cin_census_cp_plans') }} as plan on plan.cp_plan_id = review.cp_plan_id
where not review.is_deleted
    and review.review_date between {{ cin_year_start() }} and {{ cin_year_end() }}
