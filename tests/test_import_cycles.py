"""No import cycles between the package's modules (cli <-> demo.tour and blueprint <-> views were two).

Only imports run when a module is first imported count: those at module level. An import inside a
function runs later, on purpose (Flask or the Google client only when needed), and closes no cycle.
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
                return stack[stack.index(target):] + [target]
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
    graph = {name: {t for t in _module_level_imports(name, path, known) if not name.startswith(t + ".")} for name, path in modules.items()}
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
            names.update(f"{'.' * node.level}{node.module or ''}.{alias.name}".replace("..", ".") for alias in node.names)
            names.add(f"{'.' * node.level}{node.module or ''}")
    return names


def test_neither_half_of_the_old_cycles_imports_back():
    """The demo tour is handed the command line's main (it never imports cli, even lazily); the blueprint
    never imports its views (controllers.register, called by init_app, does)."""
    modules = _modules()
    tour = _imports_anywhere(modules["app_google_sync.demo.tour"])
    assert not any(name.endswith("cli") or name == "app_google_sync" for name in tour), tour
    blueprint = _imports_anywhere(modules["app_google_sync.controllers.blueprint"])
    views = {f"app_google_sync.controllers.{view}" for view in ("actions", "attributes", "groups", "imports", "pages", "settings")}
    assert not views & {name.rpartition(".")[0] if name.rpartition(".")[0] in views else name for name in blueprint}, blueprint
