"""repairlab: a self-healing daemon that repairs failing tool bundles from a queue
directory (README.md).

This directory, the repository root, is the package: pyproject.toml maps the import
name `repairlab` onto it, so the folders install as `repairlab.actors`,
`repairlab.supervision`, `repairlab.messages`, `repairlab.config`, ... and nothing
else becomes a top-level name. From a checkout that is not installed, `run.py` makes
the same package of it. Importing this module imports nothing else.
"""
