"""`python -m warroom` runs the command line."""

from warroom.cli import main

main()
