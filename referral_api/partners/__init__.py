"""Partners: the contact points a person can be referred to, their hours and counsellors."""
