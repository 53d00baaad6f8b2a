"""The repository check's edge: walking a checkout (scan.py) and the `repo-check` command."""
