"""What the console and the command line show at a real directory's size: plans kept by checksum, long lists
filtered, searched and paged on the server, a run's results counted in the database, and the Users and groups
overview. Imports core, settings, state and sync.
"""
