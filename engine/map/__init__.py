"""The journey map: the document designers draw, and what reads it without running it.

Document models, durations, conditions on traits and events, edits the canvas makes, and the starter maps.
"""
