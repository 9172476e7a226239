"""Referrals: a person's request to be contacted by a partner, its slot, events and relay."""
