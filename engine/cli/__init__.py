"""The journey command line, one module per command group.

python -m engine.cli runs it too.
"""
