"""A local, faithful emulator of the Google Admin SDK Directory API and OAuth token endpoint."""
