"""The organisation: estates, buildings, units and residents, staff and their roles, the audit and access logs.

    estates        estates, buildings, units, residents; find_units (by 房号, name, phone)
    staff          accounts, passwords, roles per estate, disabling, leave (writes); staff_views (reads)
    roles          the role catalogue staff may be given (the published one)
    imports        spreadsheets in: plan (preview) and apply, all or nothing; staff_imports for users
    exports        spreadsheets out, in the columns the imports read; tables reads and writes CSV/XLSX
    privacy        the residents' rights (PIPL): export, correct, anonymise
    audit          who changed what (audit_log), whose data was seen (access_log)
    values         what staff type, checked; residents' names and phones masked

Writes run in the caller's transaction and record an audit row; who may do what is asked of
engine/access/permissions.py. docs/organisation.md describes the whole.
"""
