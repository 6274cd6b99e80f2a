"""Files attached to items (`file` fields), stored outside the database: see docs/architecture.md."""
