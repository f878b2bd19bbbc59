{% macro enterprise_lineage() %}
    -- the enterprise layer's lineage columns, as every staging model exposes them
    _deleted_at is not null as is_deleted,
    _updated_at as updated_at,  -- when the row was inserted or last changed (a soft delete changes it): the incremental marts' change stamp
    _source as source_system,
    _extract_id as source_extract_id
{%- endmacro %}
