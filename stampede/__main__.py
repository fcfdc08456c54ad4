"""``python -m stampede``: the same command line as the ``stampede`` script."""

from stampede.cli import main

main()
