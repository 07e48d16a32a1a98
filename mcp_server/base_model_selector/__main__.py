"""`python -m base_model_selector` runs the CLI."""

from base_model_selector.cli import main

main()
