"""Failing-first tests of what an attacker or a careless client could do: one bad event must not stop
the engine, and no input may crash intake, the API or a page."""
