"""Users, sign-in sessions, roles and tenancy, invitations, API tokens, CSRF and the audit log."""
