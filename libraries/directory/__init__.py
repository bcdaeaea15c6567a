"""The directory's side: reading OpenLDAP users and groups, who is in scope (sources), the syncrepl watcher.
Imports core, settings and state.
"""
