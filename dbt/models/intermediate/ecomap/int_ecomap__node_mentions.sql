-- Every mention that is a node of a child's ecomap: the people (named, or a kinship word linked to a recorded
-- person), organisations, schools and addresses the entities stage found in a child's live case notes, document
-- pages and form answers, each with its node, edge,
-- record date and source key. child_network aggregates it into edges; child_network_mentions lists it.
with record as (
    select * from {{ ref('int_case_work__text_records') }}
),

mention as (
    select mention.*, record.record_date
    from {{ ref('stg_enterprise__entity_mention') }} as mention
    inner join record
        on record.source_type = mention.source_type
        and record.source_id = mention.source_id
        and record.child_id = mention.child_id
    -- risk and protective factors, professional roles, dates, phones, e-mails, postcodes and NHS numbers are not
    -- nodes; a kinship word is one only where resolution linked it to a person ("Mum said" -> the mother)
    where mention.label in ('person', 'kinship_role', 'organisation', 'school', 'address')
),

person_mention as (
    select * from {{ ref('stg_enterprise__person_mention') }}
),

-- an organisation, school or address is one node per normalised text across the council, typed by the label
-- the text most often has (so the same text is one node whichever label one mention got)
place_text as (
    select
        mention_id,
        lower(trim(regexp_replace(mention_text, '\s+', ' ', 'g'))) as normalised,
        label
    from mention
    where label in ('organisation', 'school', 'address')
),

place_type as (
    select normalised, first(label order by n desc, label) as node_type
    from (select normalised, label, count(*) as n from place_text group by all)
    group by all
),

node_mention as (
    select mention.*, 'person' as node_type, person_mention.resolved_person_id as node_id,
        person_mention.match_probability
    from mention
    inner join person_mention on person_mention.mention_id = mention.mention_id
    -- the child is the centre of their own ecomap, not a node on it; a kinship word is in person_mention only
    -- where it was linked to a recorded person
    where mention.label in ('person', 'kinship_role') and person_mention.resolved_person_id <> mention.child_id
    union all
    select mention.*, place_type.node_type,
        case place_type.node_type when 'organisation' then 'ORG-' when 'school' then 'SCH-' else 'ADR-' end
            || left(md5(place_text.normalised), 12),
        null
    from mention
    inner join place_text on place_text.mention_id = mention.mention_id
    inner join place_type on place_type.normalised = place_text.normalised
)

select
    'E-' || left(md5(child_id || '|' || node_id), 16) as edge_id,
    child_id,
    node_id,
    node_type,
    mention_id,
    source_type,
    source_id,
    page,
    span_start,
    span_end,
    mention_text,
    label,
    cast(record_date as date) as mention_date,
    case source_type
        when 'document_page' then source_type || ':' || source_id || '#' || page
        else source_type || ':' || source_id
    end as source_key,
    cast(match_probability as double) as match_probability,
    method,
    model_id,
    model_version
from node_mention
