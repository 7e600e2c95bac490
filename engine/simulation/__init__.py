"""Synthetic customers for a live journey and the demo journey: planned from the map, sent through /v1/batch.

Nothing here writes customers to the database directly; they arrive through the public intake.
"""
