"""`python -m base_model_selector` runs the CLI."""

from .cli import main

main()
