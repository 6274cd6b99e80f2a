"""The workflow language: YAML definitions in, immutable compiled definitions out.

Pure Python: nothing here touches a database. engine/language/loader.py runs the
pipeline (source -> overlay -> schema -> checks -> compiler); docs/architecture.md
draws the layers.
"""
