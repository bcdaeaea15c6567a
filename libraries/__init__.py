"""Domain logic of app-google-sync. Nothing in this package imports Flask."""
