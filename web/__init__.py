"""The staff web UI (Flask): it translates HTTP to engine calls and back.

The pages arrive with their own issue; the engine (engine/) never imports this package.
"""
