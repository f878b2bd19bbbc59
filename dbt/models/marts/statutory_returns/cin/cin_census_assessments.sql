-- CIN census Assessments of the year's referrals: those authorised in the year, and those still open that started
-- in it (rules 8696/8736); the factors identified, comma-separated, once the assessment is authorised.
with factor as (
    select assessment_id, string_agg(factor, ',' order by factor) as factors
    from {{ ref('stg_enterprise__assessment_factor') }}
    where not is_deleted
    group by assessment_id
)

select
    assessment.assessment_id,
    referral.referral_id,
    referral.child_id,
    assessment.start_date,
    {{ cin_by_year_end('assessment.authorised_date') }} as authorised_date,
    {{ cin_by_year_end('assessment.authorised_date', 'factor.factors') }} as factors
{{ cin_module_of_referral('stg_enterprise__assessment', 'assessment') }}
left join factor on factor.assessment_id = assessment.assessment_id
where not assessment.is_deleted
    and assessment.start_date <= {{ cin_year_end() }}
    and (
        assessment.authorised_date between {{ cin_year_start() }} and {{ cin_year_end() }}
        or (
            (assessment.authorised_date is null or assessment.authorised_date > {{ cin_year_end() }})
            and assessment.start_date >= {{ cin_year_start() }}
        )
    )
