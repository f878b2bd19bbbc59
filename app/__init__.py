"""The query service (users, roles, access rules, the audit log: the one way people read case data) and,
on top of it, the Panel app."""
