"""The reference host console: a small ClearOS-style admin console that plugins drop into.

``create_app(config)`` builds it; ``demo.run_console()`` serves it over the
throwaway demo directory and emulator. README.md beside this file documents the
plugin contract, the layout's blocks and the CSS classes.
"""

from .app import ConsoleConfigError, create_app

__all__ = ["ConsoleConfigError", "create_app"]
