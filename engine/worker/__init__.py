"""The engine's clock: the APScheduler wiring that advances due runs, delivers the outbox and runs scheduled entries.

The only module that imports apscheduler; runs inside the web app or as journey worker processes.
"""

from engine.worker.scheduler import Engine, EngineSettings, cron_trigger

__all__ = ["Engine", "EngineSettings", "cron_trigger"]
