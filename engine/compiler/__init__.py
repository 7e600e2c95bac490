"""Map -> plan: a pure function that reports every problem at once, and the plan it produces.

The plan is what the runtime runs; its steps, triggers and settings are frozen, JSON-serialisable values.
"""
