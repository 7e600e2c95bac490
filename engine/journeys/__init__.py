"""Journeys as stored things: create, drafts, publish (compile and freeze a version), seed the starters.

Also the published plans as the engine loads them, and which journeys are live.
"""
