"""Administration pages: organisations, units, teams, users, assignments, audit, privacy."""
