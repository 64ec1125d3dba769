"""The command line of SPEC §7; `run.py` calls `cli.main.main`."""
