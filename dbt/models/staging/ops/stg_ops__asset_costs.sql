-- Staging: typing only. One row per asset materialization and partition (lake/ops/costs.py).
with source as (
    select * from {{ source('ops', 'asset_costs') }}
)

select
        run_id,
        step,
        asset_key,
        partition,
        status,
        started_at,
        cast(started_at as date) as cost_date,
        share,
        step_assets,
        wall_seconds,
        cpu_seconds,
        worker_cpu_seconds,
        cpu_seconds + worker_cpu_seconds as total_cpu_seconds,
        peak_memory_mb,
        model_seconds,
        rows_read,
        rows_written,
        bytes_written,
        step_documents,
        step_pages,
        step_text_items,
        step_chunks,
        step_files,
        compute_gbp,
        storage_gbp_month
from source
