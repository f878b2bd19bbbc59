-- One row per adoption journey with the scorecard measures and the cohorts of children who wait longest.
--   A1  days from entering care to moving in with the adoptive family
--   A2  days from the placement order to the match with the adopters
--   A10 A1, but for a child adopted by their foster carer, counted to the day they moved in with that
--       carer: the last foster placement before the adoption placement that began with a move
-- Cohorts (docs/decisions/0003): sibling group; aged 5 or over when placed (today, if not yet placed);
-- minority ethnic; disabled.
with adoption as (
    select * from {{ ref('stg_enterprise__adoption') }} where not is_deleted
),

child as (
    select * from {{ ref('stg_enterprise__child') }}
),

foster_moves as (
    -- foster placements that began with a move (RNE 'L' is a change of legal status only, no move)
    select placement.child_id, placement.start_date
    from {{ ref('stg_enterprise__placement') }} as placement
    inner join {{ ref('stg_enterprise__episode') }} as episode on episode.episode_id = placement.placement_id
    where placement.placement_type in ('U1', 'U2', 'U3', 'U4', 'U5', 'U6')
        and coalesce(episode.reason_new, 'S') <> 'L'
),

moved_in_with_carer as (
    -- the last move into a foster placement before the adoption placement: the carer who adopts
    select adoption.adoption_id, max(foster_moves.start_date) as moved_in_with_carer
    from adoption
    inner join foster_moves
        on foster_moves.child_id = adoption.child_id
        and foster_moves.start_date >= adoption.entered_care
        and foster_moves.start_date < coalesce(adoption.placed, current_date)
    where adoption.adopted_by_foster_carer
    group by adoption.adoption_id
),

journeys as (
    select
        adoption.adoption_id,
        adoption.child_id,
        adoption.household_id,
        adoption.entered_care,
        adoption.decision_to_place,
        adoption.placement_order,
        adoption.matched,
        adoption.placed,
        adoption.adoption_order,
        adoption.sibling_group_id,
        adoption.adopted_by_foster_carer,
        child.dob,
        child.ethnicity,
        child.disability,
        date_diff('day', adoption.entered_care, adoption.placed) as a1_days,
        date_diff('day', adoption.placement_order, adoption.matched) as a2_days,
        case
            when adoption.adopted_by_foster_carer
                then date_diff('day', adoption.entered_care, coalesce(moved_in_with_carer.moved_in_with_carer, adoption.placed))
            else date_diff('day', adoption.entered_care, adoption.placed)
        end as a10_days,
        date_diff('year', child.dob, coalesce(adoption.placed, current_date))
            - case
                when strftime(coalesce(adoption.placed, current_date), '%m%d') < strftime(child.dob, '%m%d') then 1
                else 0
            end as age_when_placed
    from adoption
    left join child on child.child_id = adoption.child_id
    left join moved_in_with_carer on moved_in_with_carer.adoption_id = adoption.adoption_id
)

select
    *,
    sibling_group_id is not null as is_sibling_group,
    age_when_placed >= 5 as is_age_5_plus,
    ethnicity not in ('WBRI', 'WIRI', 'WOTH', 'REFU', 'NOBT') as is_minority_ethnic,
    coalesce(disability not in ('NONE'), false) as is_disabled
from journeys
