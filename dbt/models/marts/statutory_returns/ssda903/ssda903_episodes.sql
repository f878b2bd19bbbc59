-- SSDA903 Episodes table for the collection year, in the DfE column names, codes and date format.
select
    episode.child_id as "CHILD",
    strftime(episode.start_date, '%d/%m/%Y') as "DECOM",
    episode.reason_new as "RNE",
    episode.legal_status as "LS",
    episode.cin_code as "CIN",
    episode.placement_type as "PLACE",
    episode.placement_provider as "PLACE_PROVIDER",
    strftime(episode.end_date, '%d/%m/%Y') as "DEC",
    episode.reason_end as "REC",
    episode.reason_place_change as "REASON_PLACE_CHANGE",
    episode.home_postcode as "HOME_POST",
    episode.placement_postcode as "PL_POST",
    episode.urn as "URN"
from {{ ref('int_ssda903__episodes_in_year') }} as episode
