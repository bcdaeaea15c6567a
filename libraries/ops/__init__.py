"""Telling people how it goes: mail notifications, the worker's heartbeat, health checks and metrics.
Imports core, settings and state.
"""
