"""Failing-first tests of what an attacker or a careless client could do (issue: one bad event must not stop the engine)."""
