-- Staging: renaming and typing only, one view per enterprise table.
with source as (
    select * from {{ source('enterprise', 'worker') }}
)

select
        worker_id,
        first_name,
        surname,
        role,
        team,
        {{ enterprise_lineage() }}
from source
