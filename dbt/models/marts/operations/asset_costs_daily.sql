-- What each asset cost each day: every materialization's share of its step (lake/ops/costs.py), summed.
select
        cost_date,
        asset_key,
        any_value(step) as step,
        count(distinct run_id) as runs,
        count(*) as materializations,
        count(*) filter (where status = 'failed') as failed,
        sum(wall_seconds) as wall_seconds,
        sum(total_cpu_seconds) as cpu_seconds,
        sum(model_seconds) as model_seconds,
        max(peak_memory_mb) as peak_memory_mb,
        sum(rows_read) as rows_read,
        sum(rows_written) as rows_written,
        sum(bytes_written) as bytes_written,
        sum(compute_gbp) as compute_gbp,
        sum(storage_gbp_month) as storage_gbp_month
from {{ ref('stg_ops__asset_costs') }}
group by cost_date, asset_key
