"""KPI figures and their CSV: pure functions from the engine's aggregates to plotly figures and text.

The shared chart look (charts), number formats, the figures per chart family (stage, trend, goal) and the CSV export.
"""
