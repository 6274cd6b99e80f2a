"""`python -m engine` runs the estateflow command line."""

from engine.cli import main

main()
