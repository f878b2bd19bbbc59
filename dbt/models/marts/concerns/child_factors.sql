-- One row per child and CIN census factor code (or strength) that a live record of theirs states as current:
-- when it was first and last recorded, in how many statements and records, and how many more statements mention
-- it as historic, negated or hypothetical. An aid to reading the file, never a decision: every row leads to its
-- statements (listed by child_factor_statements), which the app opens at their place in the source.
-- A view over child_factor_statements (decision 0038): that mart is rebuilt for the children whose statements
-- changed, and this aggregate of one child's statements costs nothing to build and little to read by child_id
-- (the app's query); a table would be rebuilt whole each day, or need the children the statements' mart had
-- before its build, which only that mart knew.
{{ config(materialized='view') }}
with statement as (
    select * from {{ ref('child_factor_statements') }}
)

select
    child_id,
    code,
    any_value(kind) as kind,
    any_value(who) filter (where status = 'current') as who,
    count(*) filter (where status = 'current') as current_statements,
    count(*) filter (where status <> 'current') as other_statements,
    count(distinct source_key) filter (where status = 'current') as records,
    min(record_date) filter (where status = 'current') as first_seen,
    max(record_date) filter (where status = 'current') as last_seen,
    max(score) filter (where status = 'current') as best_score
from statement
group by child_id, code
having count(*) filter (where status = 'current') > 0
