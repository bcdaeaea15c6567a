"""The configuration: its schema (declared once), the loader that validates it into a Settings object, the file
editor the console writes through, and the generated reference. Imports core only.
"""
