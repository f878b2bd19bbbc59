-- Every coded statement in a child's live records, one row per label (a code or a strength, with its status):
-- the evidence behind child_factors, which the app lists under each code and opens at its span in the source.
select * from {{ ref('int_concerns__statements') }}
