-- The pilot council's backlog and a year of its new data, costed at the measured unit rates, beside the pilot's
-- own estimates. Text items: a case note is one, a document one per page (pages per document as measured here);
-- chunks: as many per text item as measured here. The pilot counted a document as one entity item.
with runs as (
    select * from {{ ref('int_ops__work_runs') }}
),

rates as (
    select * from {{ ref('cost_unit_rates') }}
),

shape as (
    select
            (select sum(pages) / nullif(sum(items), 0) from runs where work = 'documents to text')
                as pages_per_document,
            (select sum(items) from runs where work = 'search embedding')
                / nullif((select sum(items) from runs where work = 'entity extraction'), 0) as chunks_per_text_item
),

volumes as (
    select scope, documents, notes from (values
        ('backlog', {{ var('pilot_documents') }}, {{ var('pilot_notes') }}),
        ('new data per year', {{ var('pilot_new_documents_per_year') }}, {{ var('pilot_new_notes_per_year') }})
    ) as v(scope, documents, notes)
),

work as (
    select
            v.scope,
            'documents to text' as work,
            cast(v.documents as double) as items,
            v.documents / 1000.0 * {{ var('pilot_ocr_gbp_per_1000_documents') }} as pilot_gbp
    from volumes as v
    union all
    select
            v.scope,
            'entity extraction',
            v.notes + v.documents * s.pages_per_document,
            (v.notes + v.documents) / 1000.0 * {{ var('pilot_ner_gbp_per_1000_items') }}
    from volumes as v cross join shape as s
    union all
    select
            v.scope,
            'search embedding',
            (v.notes + v.documents * s.pages_per_document) * s.chunks_per_text_item,
            null
    from volumes as v cross join shape as s
)

select
        w.scope,
        w.work,
        r.unit,
        w.items,
        w.items / 1000 * r.cpu_seconds_per_1000 / 3600 as cpu_hours,
        w.items / 1000 * r.gbp_per_1000 as estimated_gbp,
        cast(w.pilot_gbp as double) as pilot_gbp
from work as w
left join rates as r on r.work = w.work
