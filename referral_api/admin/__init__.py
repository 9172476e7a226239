"""Partner administration (the admin API, the staff partner pages, seed files) and the audit
log page: changes to partners that release held referral cards, above partners and referrals."""
