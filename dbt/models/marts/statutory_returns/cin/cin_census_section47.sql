-- CIN census Section47 of the year's referrals: enquiries whose initial conference fell in the year, or that
-- started in it; the conference's target and date (blank after 31 March), and whether none was needed.
select
    enquiry.s47_id,
    referral.referral_id,
    referral.child_id,
    enquiry.start_date,
    conference.target_date as icpc_target_date,
    {{ cin_by_year_end('conference.icpc_date') }} as icpc_date,
    not coalesce(enquiry.icpc_required, false) as icpc_not_required
{{ cin_module_of_referral('stg_enterprise__s47_enquiry', 'enquiry') }}
left join {{ ref('stg_enterprise__icpc') }} as conference
    on conference.s47_id = enquiry.s47_id and not conference.is_deleted
where not enquiry.is_deleted
    and enquiry.start_date <= {{ cin_year_end() }}
    and (
        conference.icpc_date between {{ cin_year_start() }} and {{ cin_year_end() }}
        or enquiry.start_date >= {{ cin_year_start() }}
    )
