"""Live KPIs of a journey: the overlay's stage and node figures, percentiles, and the KPI page's report.

Every figure is a query over what the engine records (transitions, runs, messages): no second bookkeeping.
"""
