"""The directory's side: reading OpenLDAP users and groups, the syncrepl watcher, passwords and their hashes.
Imports core, settings and state.
"""
