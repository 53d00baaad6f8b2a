"""Organisation dashboards, analysis exports and backups (PRODUCT.md sections 7 and 9)."""
