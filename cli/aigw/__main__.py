"""`python -m aigw` runs the CLI."""

from aigw.cli import main

main()
