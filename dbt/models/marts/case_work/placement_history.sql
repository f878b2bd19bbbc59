-- Every care placement of a child, in order: "how many placements has this child had?"
-- A new legal status with the same carer (RNE 'L') is not a move and does not count as a placement.
-- Incremental (decision 0038): a next-day build recomputes the children whose placements or episodes changed.
{{ config(
    materialized='incremental',
    incremental_strategy='changed_children',
    on_schema_change='fail',
    pre_hook="{{ incremental_marts_begin(changes__placement_history()) }}",
    post_hook="{{ incremental_marts_end() }}",
) }}
with placement as (
    select * from {{ ref('stg_enterprise__placement') }} where {{ in_changed_children() }}
),

episode as (
    select * from {{ ref('stg_enterprise__episode') }} where not is_deleted
)

select
    placement.placement_id,
    placement.child_id,
    placement.placement_type,
    placement.placement_provider,
    placement.placement_postcode,
    placement.start_date,
    placement.end_date,
    episode.code as legal_status,
    episode.reason_new,
    coalesce(episode.reason_new, 'S') <> 'L' as is_a_move,
    sum(case when coalesce(episode.reason_new, 'S') <> 'L' then 1 else 0 end) over (
        partition by placement.child_id order by placement.start_date, placement.placement_id
    ) as placement_number,
    sum(case when coalesce(episode.reason_new, 'S') <> 'L' then 1 else 0 end) over (partition by placement.child_id)
        as placements_in_total
from placement
inner join episode on episode.episode_id = placement.placement_id
