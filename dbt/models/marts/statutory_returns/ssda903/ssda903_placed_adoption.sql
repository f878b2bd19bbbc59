-- SSDA903 PlacedAdoption table: children looked after in the year with a decision that they should be
-- placed for adoption. In the DfE's terms DATE_PLACED is the date of that decision (not the move);
-- DATE_PLACED_CEASED / REASON_PLACED_CEASED record a *reversal* of the decision, which the source does
-- not hold yet, so they are blank (an adoption is not a reversal).
{% set year_end = var('ssda903_year') ~ '-03-31' %}
select
    journey.child_id as "CHILD",
    strftime(journey.dob, '%d/%m/%Y') as "DOB",
    strftime(journey.decision_to_place, '%d/%m/%Y') as "DATE_PLACED",
    cast(null as varchar) as "DATE_PLACED_CEASED",
    cast(null as varchar) as "REASON_PLACED_CEASED"
from {{ ref('int_adoption__journeys') }} as journey
where journey.decision_to_place <= date '{{ year_end }}'
    and journey.child_id in (select child_id from {{ ref('int_ssda903__episodes_in_year') }})
