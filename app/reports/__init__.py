"""Team and organisation reports: chart specs, typed contexts, HTML pages and locked-down PDFs."""
