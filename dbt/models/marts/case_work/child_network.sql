-- Ecomap edges: the people around each child. For now from recorded relationships only (confidence
-- high, one source each); the entities issue adds people, places and organisations found in the text.
with relationship as (
    select * from {{ ref('stg_enterprise__relationship') }} where not is_deleted
),

person as (
    select * from {{ ref('stg_enterprise__person') }}
)

select
    relationship.relationship_id as edge_id,
    relationship.child_id,
    'person' as node_type,
    relationship.person_id as node_id,
    person.first_name || ' ' || person.surname as node_label,
    relationship.relation,
    'recorded relationship' as evidence,
    1 as mention_count,
    relationship.valid_from as first_seen,
    relationship.valid_to as last_seen,
    'high' as confidence_band,
    relationship.relationship_id as source_ids
from relationship
left join person on person.person_id = relationship.person_id
