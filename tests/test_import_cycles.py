"""No import cycles between the package's modules (cli <-> demo.tour and blueprint <-> views were two).

Across the whole package, only imports run when a module is first imported count: those at module level. An
import inside a function runs later, on purpose (Flask or the Google client only when needed), and closes no
cycle. Within libraries/ even those count (locks -> store -> migrate -> locks hid in one), and each of its
sub-packages imports only the layers below it (MAY_IMPORT, the README's Development table).
"""

import ast
import importlib.util
import pkgutil
from pathlib import Path

# Sub-packages that live in their own top-level directory (setup.cfg's package_dir), which walking
# app_google_sync's own directory does not reach.
MAPPED = ("app_google_sync.controllers", "app_google_sync.libraries")


def _modules() -> dict[str, Path]:
    found = {}
    for package in ("app_google_sync", *MAPPED):
        spec = importlib.util.find_spec(package)
        found[package] = Path(spec.origin)
        for info in pkgutil.walk_packages(spec.submodule_search_locations, f"{package}."):
            sub = importlib.util.find_spec(info.name)
            if sub and sub.origin and sub.origin.endswith(".py"):
                found[info.name] = Path(sub.origin)
    return found


def _module_level_imports(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:  # module level only
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            candidates = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for candidate in candidates:
            # importing a.b.c runs a, a.b and a.b.c
            parts = candidate.split(".")
            targets.update(".".join(parts[:i]) for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in known)
    targets.discard(name)
    return targets


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state and (found := visit(target)):
                return found
        state[node] = "done"
        stack.pop()
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_no_module_level_import_cycle():
    modules = _modules()
    assert "app_google_sync.controllers.blueprint" in modules and "app_google_sync.demo.tour" in modules
    known = set(modules)
    # A package's __init__ runs before any of its modules; a cycle only through it is not one we made.
    graph = {
        name: {t for t in _module_level_imports(name, path, known) if not name.startswith(t + ".")}
        for name, path in modules.items()
    }
    assert _cycle(graph) == []


def test_the_graph_sees_the_cycles_it_must_catch():
    """The check itself: a blueprint that imports its views at the bottom, as it used to, is a cycle."""
    graph = {
        "pkg.controllers.blueprint": {"pkg.controllers.pages"},
        "pkg.controllers.pages": {"pkg.controllers.blueprint"},
    }
    assert _cycle(graph) == ["pkg.controllers.blueprint", "pkg.controllers.pages", "pkg.controllers.blueprint"]


def _imports_anywhere(path: Path) -> set[str]:
    """Every module named by an import statement, at any depth (function-level imports included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(
                f"{'.' * node.level}{node.module or ''}.{alias.name}".replace("..", ".") for alias in node.names
            )
            names.add(f"{'.' * node.level}{node.module or ''}")
    return names


def test_neither_half_of_the_old_cycles_imports_back():
    """The demo tour is handed the command line's main (it never imports cli, even lazily); the blueprint
    never imports its views (controllers.register, called by init_app, does)."""
    modules = _modules()
    tour = _imports_anywhere(modules["app_google_sync.demo.tour"])
    assert not any(name.endswith("cli") or name == "app_google_sync" for name in tour), tour
    blueprint = _imports_anywhere(modules["app_google_sync.controllers.blueprint"])
    views = {
        f"app_google_sync.controllers.{view}"
        for view in ("actions", "attributes", "groups", "imports", "pages", "settings")
    }
    assert not views & {name.rpartition(".")[0] if name.rpartition(".")[0] in views else name for name in blueprint}, (
        blueprint
    )


# -- libraries/: no circle even through function-level imports, and each layer imports only those below it --------

LIBRARIES = "app_google_sync.libraries"

# What each sub-package may import of libraries besides itself: the README's Development table, as a rule.
MAY_IMPORT = {
    "core": set(),
    "settings": {"core"},
    "state": {"core", "settings"},
    "google": {"core", "settings", "state"},
    "directory": {"core", "settings", "state"},
    "sync": {"core", "settings", "state", "google", "directory"},
    "ops": {"core", "settings", "state", "google"},  # health and check reach Google to test the token and scopes
    "reports": {"core", "settings", "state", "sync"},
    "runtime": {"core", "settings", "state", "google", "directory", "sync", "ops", "reports"},
}
# The pure modules decide without doing I/O: neither the layers that reach a server or a file nor their clients.
PURE = {f"{LIBRARIES}.sync.{name}" for name in ("planner", "plan", "undo", "safety", "photos")} | {
    f"{LIBRARIES}.google.answers",  # what Google's answers mean: the change types decide on its kinds
}
NOT_FOR_PURE_LAYERS = {"state", "google", "directory", "runtime", "ops"}
NOT_FOR_PURE_PACKAGES = {"ldap", "googleapiclient", "sqlalchemy"}
# libraries/ is the console-free core: no web framework, and nothing of the plugin, its controllers or its CLI.
NEVER_IMPORTED = {"flask"}

# Imports that break a rule today, each with what would remove it. The test fails on a new violation, and on an
# entry here that no longer happens (delete it then).
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _all_imports(name: str, path: Path, known: set[str]) -> list[tuple[str, bool]]:
    """Every module an import statement names, at any depth, each resolved to the most precise known module.

    Each comes with whether it runs: False for one under ``if TYPE_CHECKING:`` (a type's name, never imported)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, bool]] = []

    def walk(node: ast.AST, runs: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((alias.name, runs) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")
                    anchor = ".".join(parts[: len(parts) - child.level + 1])
                    base = f"{anchor}.{base}" if base else anchor
                found.extend(
                    (f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base, runs) for alias in child.names
                )
            walk(child, runs and not _is_type_checking(child))

    walk(ast.parse(path.read_text(encoding="utf-8")), True)
    return found


def _libraries() -> dict[str, Path]:
    return {name: path for name, path in _modules().items() if name.startswith(f"{LIBRARIES}.")}


def _runtime_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module → the modules it imports when it or any of its functions runs (a package's __init__ aside, as above)."""
    known = set(modules)
    return {
        name: {
            target
            for target, runs in _all_imports(name, path, known)
            if runs and target in known and target != name and not name.startswith(target + ".")
        }
        for name, path in modules.items()
    }


def _layer(module: str) -> str:
    return module.removeprefix(f"{LIBRARIES}.").partition(".")[0]


def _violations(modules: dict[str, Path]) -> dict[tuple[str, str], str]:
    """(importer, imported) → the rule it breaks, for every import in libraries/ (type-only ones included)."""
    known = set(modules) | {LIBRARIES}
    found = {}
    for name, path in modules.items():
        layer = _layer(name)
        for target, _ in _all_imports(name, path, known):
            top = target.partition(".")[0]
            other = _layer(target) if target.startswith(f"{LIBRARIES}.") else None
            if top in NEVER_IMPORTED or (top == "app_google_sync" and not (target == LIBRARIES or other)):
                found[name, target] = (
                    "libraries/ imports neither Flask nor the plugin (app_google_sync, its controllers)"
                )
            elif other and other != layer and other not in MAY_IMPORT[layer]:
                allowed = ", ".join(f"{other}/" for other in sorted(MAY_IMPORT[layer]))
                found[name, target] = f"{layer}/ may import {f'only {allowed}' if allowed else 'nothing of libraries/'}"
            elif name in PURE and target not in PURE and (other in NOT_FOR_PURE_LAYERS or top in NOT_FOR_PURE_PACKAGES):
                found[name, target] = (
                    "a pure module does no I/O: no state, google, directory, runtime, ops, ldap, googleapiclient or sqlalchemy (other pure modules aside)"
                )
    return found


def test_libraries_have_no_import_cycle_even_through_function_level_imports():
    modules = _libraries()
    assert f"{LIBRARIES}.state.locks" in modules and f"{LIBRARIES}.state.store" in modules
    assert _cycle(_runtime_graph(modules)) == []


def test_every_sub_package_of_libraries_has_a_layer():
    assert {_layer(name) for name in _libraries()} - {"__init__"} <= set(MAY_IMPORT)


def test_each_layer_imports_only_what_it_may():
    violations = _violations(_libraries())
    new = {pair: rule for pair, rule in violations.items() if pair not in KNOWN_VIOLATIONS}
    assert new == {}, "\n".join(f"{importer} imports {imported}: {rule}" for (importer, imported), rule in new.items())
    gone = set(KNOWN_VIOLATIONS) - set(violations)
    assert not gone, f"fixed, so delete from KNOWN_VIOLATIONS: {sorted(gone)}"


def _write_modules(root: Path, sources: dict[str, str]) -> dict[str, Path]:
    modules = {}
    for name, source in sources.items():
        path = root / (name.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
        modules[name] = path
    return modules


def test_the_checks_see_a_hidden_circle_an_upward_import_and_io_in_a_pure_module(tmp_path):
    """The checks themselves, on made-up modules: the old locks -> store -> migrate -> locks circle, closed by an
    import inside a function; a state module reaching up into sync; the pure plan importing the store and ldap."""
    modules = _write_modules(
        tmp_path,
        {
            f"{LIBRARIES}.state.locks": "def alive():\n    from .store import process_alive\n    return process_alive()\n",
            f"{LIBRARIES}.state.store": "from . import migrate\n",
            f"{LIBRARIES}.state.migrate": "from typing import TYPE_CHECKING\nfrom .locks import alive\nif TYPE_CHECKING:\n    from ..sync.engine import SyncEngine\n",
            f"{LIBRARIES}.sync.engine": "",
            f"{LIBRARIES}.sync.plan": "import ldap\nfrom ..state.store import Store\nfrom ..core import model\n",
            f"{LIBRARIES}.core.model": "import flask\n",
        },
    )
    cycle = _cycle(_runtime_graph(modules))
    assert cycle == [
        f"{LIBRARIES}.state.locks",
        f"{LIBRARIES}.state.store",
        f"{LIBRARIES}.state.migrate",
        f"{LIBRARIES}.state.locks",
    ]
    assert set(_violations(modules)) == {
        (f"{LIBRARIES}.state.migrate", f"{LIBRARIES}.sync.engine"),  # type-only, still an upward import
        (f"{LIBRARIES}.sync.plan", "ldap"),
        (f"{LIBRARIES}.sync.plan", f"{LIBRARIES}.state.store"),
        (f"{LIBRARIES}.core.model", "flask"),
    }
