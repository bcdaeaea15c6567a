"""Templates of the web console plugin (views/google_sync/*.html)."""
