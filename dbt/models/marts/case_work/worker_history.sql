-- Every allocation of a worker to a child, in order: "how many social workers has this child had?"
-- The allocations are computed in int_case_work__worker_allocations (child_timeline reads them too).
-- Incremental (decision 0038): a next-day build recomputes the children whose allocations or workers changed
-- (dbt/macros/changed_children.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='changed_children',
    on_schema_change='fail',
    pre_hook="{{ incremental_marts_begin(changes__worker_history()) }}",
    post_hook="{{ incremental_marts_end() }}",
) }}
-- depends_on: {{ ref('stg_enterprise__involvement') }}
-- depends_on: {{ ref('stg_enterprise__worker') }}
select
    involvement_id,
    child_id,
    worker_id,
    worker_name,
    worker_role,
    worker_team,
    involvement_type,
    valid_from,
    valid_to,
    is_current,
    allocation_number,
    workers_in_total
from {{ ref('int_case_work__worker_allocations') }}
where {{ in_changed_children() }}
