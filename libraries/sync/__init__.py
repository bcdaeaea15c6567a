"""The pipeline: the pure planner (a diff of desired and existing state), the plan and its change types, the
executor that applies a plan in batches, the engine that runs it all under the lock, undo, and the console's
overview. The planner, plan and undo do no I/O. Imports core, settings, state, google and directory.
"""
