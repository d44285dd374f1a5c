"""`python -m reelforge.cli`: the `reelforge` command."""

from reelforge.cli import main

main()
