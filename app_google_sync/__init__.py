"""app-google-sync: push OpenLDAP users, groups and passwords to Google Workspace.

``GoogleSync`` is the admin-console plugin (a Flask extension); it is loaded
on first use so that the command line does not import Flask.
"""

__version__ = "0.2.0"  # the one place of the version (setup.cfg reads it; CHANGELOG.md says what it changed)
__all__ = ["GoogleSync", "__version__"]


def __getattr__(name):
    if name == "GoogleSync":
        from .extension import GoogleSync  # noqa: PLC0415  (on first use: the command line never loads the console plugin)

        return GoogleSync
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
