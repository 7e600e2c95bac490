"""Running customers through their plans: pure decisions, the walk that writes what happened, entries,
reactions to events, the lifecycle of a journey (launch, pause, resume, stop) and the launch-control read model.
"""
