"""`python -m engine` runs the estateflow command line."""

from engine.cli.main import main

main()
