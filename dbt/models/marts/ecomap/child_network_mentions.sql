-- One row per mention behind a text edge of child_network, for the app to list a node's mentions and open
-- each source at its span (the logic is in int_ecomap__node_mentions, which child_network aggregates).
select
    edge_id,
    child_id,
    node_id,
    node_type,
    mention_id,
    source_type,
    source_id,
    page,
    span_start as "start",
    span_end as "end",
    mention_text,
    label,
    mention_date,
    match_probability,
    method,
    model_id,
    model_version
from {{ ref('int_ecomap__node_mentions') }}
