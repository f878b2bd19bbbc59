-- Measured unit costs of the heavy work, beside the pilot's quoted cloud prices (per 1,000).
with runs as (
    select * from {{ ref('int_ops__work_runs') }}
)

select
        work,
        case work
            when 'documents to text' then 'documents'
            when 'entity extraction' then 'text items'
            else 'chunks'
        end as unit,
        count(*) as runs,
        sum(items) as items,
        sum(cpu_seconds) as cpu_seconds,
        sum(wall_seconds) as wall_seconds,
        sum(model_seconds) as model_seconds,
        sum(compute_gbp) as compute_gbp,
        1000 * sum(cpu_seconds) / sum(items) as cpu_seconds_per_1000,
        1000 * sum(compute_gbp) / sum(items) as gbp_per_1000,
        cast(case work
            when 'documents to text' then {{ var('pilot_ocr_gbp_per_1000_documents') }}
            when 'entity extraction' then {{ var('pilot_ner_gbp_per_1000_items') }}
        end as double) as pilot_gbp_per_1000
from runs
group by work
