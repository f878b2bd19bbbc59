-- Ecomap edges: one row per (child, node). A node is a recorded person (a recorded relationship), or a
-- person, organisation, school or address the entities stage found in the child's live records. People
-- found in text are the resolved people of lake/entities/resolution.py (a recorded person or worker keeps
-- their id); an organisation, school or address is one node per normalised text across the council.
-- The confidence band rule is documented in child_network.yml and docs/marts.md, and measured by
-- evaluation/ecomap.py.
with relationship as (
    select * from {{ ref('stg_enterprise__relationship') }} where not is_deleted
),

person as (
    select * from {{ ref('stg_enterprise__person') }} where not is_deleted
),

worker as (
    select * from {{ ref('stg_enterprise__worker') }} where not is_deleted
),

resolved as (
    select * from {{ ref('stg_enterprise__resolved_person') }}
),

mention as (
    select * from {{ ref('int_ecomap__node_mentions') }}
),

recorded as (
    select
        relationship.child_id,
        relationship.person_id as node_id,
        -- one row per child and person: the current relationship's relation if the person has several
        arg_max(relationship.relation, relationship.valid_from) as relation,
        min(relationship.valid_from) as valid_from,
        case when bool_or(relationship.valid_to is null) then null else max(relationship.valid_to) end as valid_to,
        list_sort(list(relationship.relationship_id)) as relationship_ids
    from relationship
    group by all
),

text as (
    select
        child_id,
        node_id,
        any_value(node_type) as node_type,
        count(*) as mention_count,
        count(distinct source_type || ':' || source_id) as source_records,
        min(mention_date) as first_seen,
        max(mention_date) as last_seen,
        max(match_probability) as match_probability,
        list_sort(list(distinct source_key)) as source_keys
    from mention
    group by all
),

place_label as (
    -- the name as most often written across the council, ties broken by the text
    select node_id, first(mention_text order by n desc, mention_text) as label
    from (select node_id, mention_text, count(*) as n from mention where node_type <> 'person' group by all)
    group by all
),

edge as (
    select
        coalesce(recorded.child_id, text.child_id) as child_id,
        coalesce(recorded.node_id, text.node_id) as node_id,
        coalesce(text.node_type, 'person') as node_type,
        recorded.relation as recorded_relation,
        case
            when text.node_id is null then 'recorded'
            when recorded.node_id is null then 'text'
            else 'recorded and text'
        end as evidence,
        coalesce(text.mention_count, 0) as mention_count,
        coalesce(text.source_records, 0) as source_records,
        case when text.node_id is null then recorded.valid_from else text.first_seen end as first_seen,
        case when text.node_id is null then recorded.valid_to else text.last_seen end as last_seen,
        text.match_probability,
        list_concat(coalesce(recorded.relationship_ids, []), coalesce(text.source_keys, [])) as source_ids
    from recorded
    full outer join text on text.child_id = recorded.child_id and text.node_id = recorded.node_id
)

select
    'E-' || left(md5(edge.child_id || '|' || edge.node_id), 16) as edge_id,
    edge.child_id,
    edge.node_id,
    edge.node_type,
    coalesce(
        person.first_name || ' ' || person.surname,
        worker.first_name || ' ' || worker.surname,
        resolved.name_as_written,
        place_label.label
    ) as node_label,
    coalesce(
        edge.recorded_relation,
        case when worker.worker_id is not null then 'social worker' end,
        resolved.mentioned_role
    ) as relation,
    edge.evidence,
    cast(edge.mention_count as integer) as mention_count,
    cast(edge.first_seen as date) as first_seen,
    cast(edge.last_seen as date) as last_seen,
    cast(edge.match_probability as double) as match_probability,
    case
        -- the rule is in child_network.yml and docs/marts.md; measured by evaluation/ecomap.py
        when edge.evidence <> 'text' then 'high'
        -- a text-only person whose name is only the child's own first name or surname (or its initial and
        -- surname) is as likely the child, unresolved, as anyone in the family
        when edge.node_type = 'person' and person.person_id is null and worker.worker_id is null
            and regexp_replace(lower(resolved.name_as_written), '[^a-z ]', ' ', 'g') similar to
                '\s*(' || lower(child.first_name) || '|' || lower(child.surname)
                || '|[a-z]\s+' || lower(child.surname) || ')\s*' then 'low'
        when edge.source_records >= 2
            and (person.person_id is not null or worker.worker_id is not null) then 'high'
        -- names of organisations, schools and places are written with capitals: a span without one is a
        -- phrase the model took for a name ("hours team" of "out of hours team")
        when edge.node_type <> 'person' and place_label.label = lower(place_label.label) then 'low'
        when edge.node_type <> 'person' and edge.source_records >= 3 then 'high'
        when edge.source_records >= 2 and edge.node_type in ('organisation', 'school') then 'medium'
        when edge.source_records >= 2 and edge.node_type = 'person' and edge.match_probability is not null
            then 'medium'
        else 'low'
    end as confidence_band,
    cast(edge.source_ids as varchar[]) as source_ids
from edge
left join person on edge.node_type = 'person' and person.person_id = edge.node_id
left join worker on edge.node_type = 'person' and worker.worker_id = edge.node_id
left join resolved on edge.node_type = 'person' and resolved.resolved_person_id = edge.node_id
left join place_label on place_label.node_id = edge.node_id
left join person as child on child.person_id = edge.child_id
