"""`python -m aigw` runs the CLI."""

from aigw._entry import main

main()
