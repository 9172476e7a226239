"""Staff accounts: login, passwords, roles, the audit records, and the accounts' pages."""
