-- Every allocation of a worker to a child, in order: "how many social workers has this child had?"
-- The allocations are computed in int_case_work__worker_allocations (child_timeline reads them too).
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
