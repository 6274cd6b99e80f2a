"""The organisation: estates, buildings, units and residents, staff and their roles, the audit and access logs."""
