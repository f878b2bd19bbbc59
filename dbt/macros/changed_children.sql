{#
  What each incremental mart recomputes on a next-day build (decision 0038), for incremental_marts_begin: its inputs
  with their stamp columns, and the children to recompute: the children of every input row stamped after that
  input's mark, and the children the mart holds today for those rows. Every relation named here is declared in its
  model (ref, or a `-- depends_on:` line), so that dbt builds it first.
#}

{#
  records: (staging model, the mart's name for the table, its id as the mart holds it). The changed rows are read
  with their id so that the children the mart holds for them (by source table and id) are recomputed too: a record
  moved to another child leaves nothing stamped under the first.
#}
{% macro _changed_records(records) -%}
    {%- for model, table, id in records %}
    select child_id, '{{ table }}' as source_table, {{ id }} as source_id
    from {{ ref(model) }} where updated_at > {{ since(model) }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}


{# An allocated worker renamed or moved team: every child the worker is allocated to. #}
{% macro _children_of_changed_workers() -%}
    select involvement.child_id
    from {{ ref('stg_enterprise__involvement') }} as involvement
    inner join {{ ref('stg_enterprise__worker') }} as worker on worker.worker_id = involvement.worker_id
    where worker.updated_at > {{ since('stg_enterprise__worker') }}
{%- endmacro %}


{% macro _stamped(records, more=[]) -%}
    {%- set inputs = [] -%}
    {%- for model, table, id in records -%}
        {%- do inputs.append((model, 'updated_at')) -%}
    {%- endfor -%}
    {{ return(inputs + more) }}
{%- endmacro %}


{% macro changes__worker_history() %}
    {%- set records = [('stg_enterprise__involvement', 'involvement', 'involvement_id')] -%}
    {%- set changed -%}
        with record as ({{ _changed_records(records) }})
        select child_id from record
        union all
        select mart.child_id from {{ this }} as mart inner join record on record.source_id = mart.involvement_id
        union all
        {{ _children_of_changed_workers() }}
    {%- endset -%}
    {{ return({'inputs': _stamped(records, [('stg_enterprise__worker', 'updated_at')]), 'changed': changed}) }}
{% endmacro %}


{% macro changes__placement_history() %}
    {# a placement's row is its CLA episode's: the episode and the placement share their id #}
    {%- set records = [
        ('stg_enterprise__placement', 'placement', 'placement_id'),
        ('stg_enterprise__episode', 'episode', 'episode_id'),
    ] -%}
    {%- set changed -%}
        with record as ({{ _changed_records(records) }})
        select child_id from record
        union all
        select mart.child_id from {{ this }} as mart inner join record on record.source_id = mart.placement_id
    {%- endset -%}
    {{ return({'inputs': _stamped(records), 'changed': changed}) }}
{% endmacro %}


{% macro changes__child_timeline() %}
    {%- set records = [
        ('stg_enterprise__case_note', 'case_note', 'note_id'),
        ('stg_enterprise__document', 'document', 'document_id'),
        ('stg_enterprise__form_response', 'form_response', 'form_id'),
        ('stg_enterprise__episode', 'episode', 'episode_id'),
        ('stg_enterprise__involvement', 'involvement', 'involvement_id'),
        ('stg_enterprise__contact', 'contact', 'contact_id'),
        ('stg_enterprise__assessment', 'assessment', 'assessment_id'),
        ('stg_enterprise__s47_enquiry', 's47_enquiry', 's47_id'),
        ('stg_enterprise__icpc', 'icpc', 'icpc_id'),
        ('stg_enterprise__cp_review', 'cp_review', 'cp_review_id'),
        ('stg_enterprise__cin_plan', 'cin_plan', 'cin_plan_id'),
    ] -%}
    {%- set changed -%}
        with record as ({{ _changed_records(records) }})
        select child_id from record
        union all
        select mart.child_id from {{ this }} as mart
        inner join record on record.source_table = mart.source_table and record.source_id = mart.source_id
        union all
        {{ _children_of_changed_workers() }}
        union all
        -- a factor recorded or changed: the child of its assessment (a factor row names no child)
        select assessment.child_id
        from {{ ref('stg_enterprise__assessment_factor') }} as factor
        inner join {{ ref('stg_enterprise__assessment') }} as assessment on assessment.assessment_id = factor.assessment_id
        where factor.updated_at > {{ since('stg_enterprise__assessment_factor') }}
    {%- endset -%}
    {%- set more = [('stg_enterprise__worker', 'updated_at'), ('stg_enterprise__assessment_factor', 'updated_at')] -%}
    {{ return({'inputs': _stamped(records, more), 'changed': changed}) }}
{% endmacro %}


{#
  The factor statements: a statement coded since the mark (a new or changed text, or a new coder: the entities stage
  codes it again), a text record changed since the mark (its statements were pruned, or it was deleted or moved:
  the mart joins statements to live records), and the children whose statements the mart holds from a coder version
  no longer in the table (a new coder that finds nothing in a text leaves no stamped row behind).
#}
{% macro changes__child_factor_statements() %}
    {%- set records = [
        ('stg_enterprise__case_note', 'case_note', 'note_id'),
        ('stg_enterprise__document', 'document_page', 'document_id'),
        ('stg_enterprise__form_response', 'form_answer', "form_id || ':' || question_code"),
    ] -%}
    {%- set statement = 'stg_enterprise__factor_statement' -%}
    {%- set changed -%}
        with record as ({{ _changed_records(records) }})
        select child_id from record
        union all
        select mart.child_id from {{ this }} as mart
        inner join record on record.source_table = mart.source_type and record.source_id = mart.source_id
        union all
        select child_id from {{ ref(statement) }} where coded_at > {{ since(statement) }}
        union all
        select mart.child_id from {{ this }} as mart
        where mart.model_version not in (
            select distinct model_version from {{ ref(statement) }} where model_version is not null
        )
    {%- endset -%}
    {{ return({'inputs': _stamped(records, [(statement, 'coded_at')]), 'changed': changed}) }}
{% endmacro %}
