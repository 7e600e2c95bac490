"""The journey command line, one module per command group.

python -m engine.cli runs it too.
"""

from engine.cli.main import Command, build_parser, main

__all__ = ["Command", "build_parser", "main"]
