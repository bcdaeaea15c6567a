"""app-google-sync: push OpenLDAP users, groups and passwords to Google Workspace."""

__version__ = "0.1.0"
