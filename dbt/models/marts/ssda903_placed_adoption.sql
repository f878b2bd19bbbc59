-- SSDA903 PlacedAdoption table: children placed for adoption (A3-A6) in the year and not yet adopted.
select
    journey.child_id as "CHILD",
    strftime(journey.dob, '%d/%m/%Y') as "DOB",
    strftime(journey.placed, '%d/%m/%Y') as "DATE_PLACED",
    cast(null as varchar) as "DATE_PLACED_CEASED",
    cast(null as varchar) as "REASON_PLACED_CEASED"
from {{ ref('int_adoption__journeys') }} as journey
where journey.placed is not null
    and journey.adoption_order is null
    and journey.child_id in (
        select child_id from {{ ref('int_ssda903__episodes_in_year') }} where placement_type in ('A3', 'A4', 'A5', 'A6')
    )
