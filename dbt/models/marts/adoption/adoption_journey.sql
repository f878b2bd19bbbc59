-- Per child's adoption journey: milestones, scorecard measures A1, A2, A10, and waiting-cohort flags.
select
    adoption_id,
    child_id,
    household_id,
    entered_care,
    decision_to_place,
    placement_order,
    matched,
    placed,
    adoption_order,
    sibling_group_id,
    adopted_by_foster_carer,
    a1_days,
    a2_days,
    a10_days,
    age_when_placed,
    is_sibling_group,
    is_age_5_plus,
    is_minority_ethnic,
    is_disabled,
    (is_sibling_group or is_age_5_plus or is_minority_ethnic or is_disabled) as is_in_a_waiting_cohort
from {{ ref('int_adoption__journeys') }}
