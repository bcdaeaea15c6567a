"""The console's web layer: the blueprint (``blueprint``) and the thin views attached to it."""

from __future__ import annotations

VIEW_MODULES = (
    "actions",
    "attributes",
    "exports",
    "groups",
    "imports",
    "leavers",
    "pages",
    "safety",
    "settings",
    "sources",
)


def register(app, url_prefix: str) -> None:
    """Attach every view to the blueprint, then the blueprint to ``app``; ``GoogleSync.init_app`` calls it.

    Each view module declares its routes on the blueprint when first imported, so they are imported
    here, before the blueprint's first registration (Flask refuses routes added after it).
    """
    from importlib import import_module  # noqa: PLC0415

    from .blueprint import blueprint  # noqa: PLC0415  (Flask only once the console is set up)

    for name in VIEW_MODULES:
        import_module(f"{__name__}.{name}")
    app.register_blueprint(blueprint, url_prefix=url_prefix)
