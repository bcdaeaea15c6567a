"""Web console routes (Flask blueprint)."""
