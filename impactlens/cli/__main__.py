"""`python -m impactlens.cli`."""

from impactlens.cli import main

main()
