-- One row per run of a heavy step, with what it processed: the unit costs are taken from these. A step's items
-- are repeated on each of its rows (lake/ops/costs.py), so they are taken once; its cost is the sum of its rows.
with steps as (
    select
            run_id,
            step,
            min(cost_date) as cost_date,
            sum(total_cpu_seconds) as cpu_seconds,
            sum(wall_seconds) as wall_seconds,
            sum(model_seconds) as model_seconds,
            sum(compute_gbp) as compute_gbp,
            max(step_documents) as documents,
            max(step_pages) as pages,
            max(step_text_items) as text_items,
            max(step_chunks) as chunks
    from {{ ref('stg_ops__asset_costs') }}
    where status = 'materialized'
    group by run_id, step
)

select
        run_id,
        step,
        cost_date,
        case
            when documents > 0 then 'documents to text'
            when text_items > 0 then 'entity extraction'
            when chunks > 0 then 'search embedding'
        end as work,
        case
            when documents > 0 then documents
            when text_items > 0 then text_items
            else chunks
        end as items,
        pages,
        cpu_seconds,
        wall_seconds,
        model_seconds,
        compute_gbp
from steps
where documents > 0 or text_items > 0 or chunks > 0
