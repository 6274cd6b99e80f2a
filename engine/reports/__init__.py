"""Reports: figures defined in YAML (docs/reports.md), computed from the store, exported and sent."""
