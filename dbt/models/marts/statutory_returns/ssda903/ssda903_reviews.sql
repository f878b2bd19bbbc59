-- SSDA903 Reviews table: each review in the collection year of a child in the return.
{% set year_end = var('ssda903_year') ~ '-03-31' %}
{% set year_start = (var('ssda903_year') - 1) ~ '-04-01' %}
select
    review.child_id as "CHILD",
    strftime(child.dob, '%d/%m/%Y') as "DOB",
    strftime(review.review_date, '%d/%m/%Y') as "REVIEW",
    review.participation_code as "REVIEW_CODE"
from {{ ref('stg_enterprise__cla_review') }} as review
inner join {{ ref('stg_enterprise__child') }} as child on child.child_id = review.child_id
where not review.is_deleted
    and review.review_date between date '{{ year_start }}' and date '{{ year_end }}'
    and review.child_id in (select child_id from {{ ref('int_ssda903__episodes_in_year') }})
