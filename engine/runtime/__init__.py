"""The runtime: items created and fired, their time limits, timers and notifications.

Works inside a caller's SQLAlchemy session and never commits; docs/architecture.md
follows one `fire` call through it.
"""
