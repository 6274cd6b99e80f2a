"""The `estateflow` command line: engine/cli/main.py is the entry point; each command's
module is imported only when that command runs."""
