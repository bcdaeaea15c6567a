"""What outlives a process: the state database (runs, results, links, journal, push queue, held changes), its
Alembic migrations, the installation's keys and the run lock. Imports core and settings.
"""
