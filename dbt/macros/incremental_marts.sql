{#
  The marts that grow with history are rebuilt for the children whose records changed, not in full (issue 38,
  docs/decisions/0038). Each such mart is materialized 'incremental' with the strategy 'changed_children':

  - before the mart is built (pre-hook, incremental_marts_begin), the children to recompute are written to
    dbt_state.changed_children: the children of every input row whose change stamp (the enterprise layer's
    _updated_at, the factor statements' coded_at) is newer than that input's mark, and the children the mart holds
    today for those rows (a record moved to another child leaves the first child's rows stale). The rule of each
    mart is a macro in changed_children.sql;
  - the model selects the rows of those children only (where {{ in_changed_children() }});
  - the strategy deletes every row of those children and inserts the new ones: a child whose rows all went (a
    deleted note, a record moved away) is emptied, which delete+insert on unique_key alone would not do;
  - after it (post-hook, incremental_marts_end) each input's mark moves to the newest stamp it held when the build
    began (taken in the pre-hook, before any row was read: a change committed while dbt runs is read again next
    time, never missed). A mark per input, not one for the mart: each input's stamps come from one writer's clock
    (the enterprise build, the entities stage), so a late commit by one writer is never hidden behind a newer stamp
    of another.

  A full build (the first, or --full-refresh) computes every child and takes the marks the same way. Everything
  runs inside the model's transaction: a build that fails moves no mark.
#}

{% macro incremental_marts_state() %}
    create schema if not exists dbt_state;
    create table if not exists dbt_state.marks (
        model varchar,
        input varchar,  -- the staging model whose stamp column is read
        mark timestamptz,  -- the newest stamp of the input the mart's last build had read
        pending timestamptz,  -- the newest stamp of the input when the build now running began
        primary key (model, input)
    );
    create table if not exists dbt_state.builds (
        model varchar primary key,
        children_recomputed bigint,  -- null after a full build
        rows_written bigint,  -- the rows the build wrote: those of the recomputed children, or every row
        built_at timestamptz
    );
    create table if not exists dbt_state.changed_children (model varchar, child_id varchar);
{% endmacro %}


{# The mark of one input of this mart: its newest stamp the last build read (-infinity before the first). #}
{% macro since(input) -%}
    coalesce(
        (select mark from dbt_state.marks where model = '{{ this.name }}' and input = '{{ input }}'),
        '-infinity'::timestamptz
    )
{%- endmacro %}


{#
  changes: what the mart's macro in changed_children.sql gives: inputs, a list of (staging model, stamp column);
  changed, SQL selecting child_id, the children to recompute (reading each input's mark with since()).
#}
{% macro incremental_marts_begin(changes) %}
    {{ incremental_marts_state() }}
    {%- for input, stamp in changes['inputs'] %}
    insert or replace into dbt_state.marks (model, input, mark, pending)
    select '{{ this.name }}', '{{ input }}', {{ since(input) }}, (select max({{ stamp }}) from {{ ref(input) }});
    {%- endfor %}
    delete from dbt_state.changed_children where model = '{{ this.name }}';
    {% if is_incremental() %}
        insert into dbt_state.changed_children
        select distinct '{{ this.name }}', child_id from ({{ changes['changed'] }}) as changed where child_id is not null;
    {% endif %}
{% endmacro %}


{% macro incremental_marts_end() %}
    update dbt_state.marks set mark = coalesce(pending, mark) where model = '{{ this.name }}';
    insert or replace into dbt_state.builds (model, children_recomputed, rows_written, built_at)
    select
        '{{ this.name }}',
        {% if is_incremental() -%}
            (select count(*) from dbt_state.changed_children where model = '{{ this.name }}')
        {%- else %}null{% endif %},
        (select count(*) from {{ this }} where {{ in_changed_children() }}),
        now();
{% endmacro %}


{# In the model: `where {{ in_changed_children() }}` (true in a full build). #}
{% macro in_changed_children(column='child_id') -%}
    {%- if is_incremental() -%}
        {{ column }} in (select child_id from dbt_state.changed_children where model = '{{ this.name }}')
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#
  The strategy: every row of the changed children goes, their new rows come in. (delete+insert keyed on child_id
  would keep the rows of a child who now has none.)
#}
{% macro get_incremental_changed_children_sql(arg_dict) %}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target }}
    where child_id in (select child_id from dbt_state.changed_children where model = '{{ target.identifier }}');
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }};
{% endmacro %}
