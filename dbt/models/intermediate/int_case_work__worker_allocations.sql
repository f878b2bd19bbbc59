-- Every live allocation of a worker to a child, with the worker's name, role and team, numbered in order,
-- and the child's total number of distinct workers: the single place allocations are computed, read by
-- worker_history ("how many social workers has this child had?") and child_timeline (allocation events).
with involvement as (
    select * from {{ ref('stg_enterprise__involvement') }} where not is_deleted
),

worker as (
    select * from {{ ref('stg_enterprise__worker') }}
)

select
    involvement.involvement_id,
    involvement.child_id,
    involvement.worker_id,
    worker.first_name || ' ' || worker.surname as worker_name,
    worker.role as worker_role,
    worker.team as worker_team,
    involvement.involvement_type,
    involvement.valid_from,
    involvement.valid_to,
    involvement.valid_to is null as is_current,
    row_number() over (partition by involvement.child_id order by involvement.valid_from, involvement.involvement_id)
        as allocation_number,
    count(distinct involvement.worker_id) over (partition by involvement.child_id) as workers_in_total
from involvement
left join worker on worker.worker_id = involvement.worker_id
