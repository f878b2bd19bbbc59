-- Every coded statement in a child's live records, one row per label (a code or a strength, with its status):
-- the evidence behind child_factors, which the app lists under each code and opens at its span in the source.
-- Incremental (decision 0038): a next-day build recomputes the children whose statements or text records changed
-- (dbt/macros/changed_children.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='changed_children',
    on_schema_change='fail',
    pre_hook="{{ incremental_marts_begin(changes__child_factor_statements()) }}",
    post_hook="{{ incremental_marts_end() }}",
) }}
-- depends_on: {{ ref('stg_enterprise__case_note') }}
-- depends_on: {{ ref('stg_enterprise__document') }}
-- depends_on: {{ ref('stg_enterprise__form_response') }}
-- depends_on: {{ ref('stg_enterprise__factor_statement') }}
select * from {{ ref('int_concerns__statements') }}
where {{ in_changed_children() }}
