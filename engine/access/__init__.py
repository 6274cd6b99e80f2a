"""Who may do what: the actor (engine/access/actor.py) and every permission rule (engine/access/permissions.py).

The layer between the store and the runtime: it reads the language (definitions,
guards) and the store (users, roles, estates), and the runtime, the read side
(engine/views) and the web UI ask it; it never imports them.
"""
