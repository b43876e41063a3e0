"""Import hygiene, read from the source with ``ast``: imports inside functions are only for heavy optional
dependencies, and the package's modules import each other without a cycle."""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]

#: Source folder -> import name (pyproject's ``[tool.setuptools.package-dir]``).
PACKAGES = {"aligngames": "aligngames", "envs": "aligngames.envs", "agents": "aligngames.agents",
            "solvers": "aligngames.solvers"}

#: Top-level packages that may be imported inside a function: heavy (torch 2.1 s) or needed only on some paths
#: (models, GPU serving, plots, benchmarks). pref_voting is here because ``pref_voting.voting_methods`` took
#: 0.9 s on top of scipy (measured on the 2-core dev machine); scipy itself (0.7 s for scipy.stats) is imported
#: at the top like any other dependency.
LAZY_ALLOWED = frozenset({
    "torch", "transformers", "vllm", "ray", "open_spiel", "pyspiel", "peft", "accelerate",
    "sentence_transformers", "matplotlib", "safetensors", "gguf", "sklearn", "datasets", "cvxpy", "nashpy",
    "pref_voting",
})

#: Files whose owners are still moving their function-level imports to the top (or breaking the cycle that
#: made them lazy). Every other file is checked; an entry whose file is clean fails
#: :func:`test_pending_files_still_need_their_entry`, so the list only shrinks.
PENDING_FILES: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Import:
    path: str          # source file, relative to the repository root
    line: int
    module: str        # the absolute module named by the statement
    names: tuple[str, ...]  # ``from module import names`` (empty for ``import module``)
    in_function: bool
    type_checking: bool


def source_files() -> dict[str, Path]:
    """``{module name: file}`` for every module of the package."""
    modules = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join([package, *parts])] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(module: str, path: Path, source: str | None = None) -> list[Import]:
    """Every import statement in ``path`` (or in ``source``, read as that file), with whether it runs inside a
    function or under ``TYPE_CHECKING``."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    relative = str(path.relative_to(ROOT))
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool, type_checking: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(Import(relative, child.lineno, alias.name, (), in_function, type_checking))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                names = tuple(alias.name for alias in child.names)
                found.append(Import(relative, child.lineno, base, names, in_function, type_checking))
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, True, type_checking)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for statement in child.body:
                    visit(ast.Module(body=[statement], type_ignores=[]), in_function, True)
                for statement in child.orelse:
                    visit(ast.Module(body=[statement], type_ignores=[]), in_function, type_checking)
            else:
                visit(child, in_function, type_checking)

    visit(ast.parse(path.read_text() if source is None else source, filename=relative), False, False)
    return found


def all_imports() -> list[Import]:
    return [item for module, path in source_files().items() for item in imports_of(module, path)]


def lazy_violations() -> list[Import]:
    return [item for item in all_imports()
            if item.in_function and not item.type_checking and item.module.split(".")[0] not in LAZY_ALLOWED]


def module_graph() -> nx.DiGraph:
    """Module -> the package modules it imports when it is imported (function bodies and ``TYPE_CHECKING``
    blocks left out). ``from package import name`` points at ``package.name`` when that is a module."""
    modules = source_files()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for module, path in modules.items():
        for item in imports_of(module, path):
            if item.in_function or item.type_checking:
                continue
            submodules = [f"{item.module}.{name}" for name in item.names if f"{item.module}.{name}" in modules]
            targets = submodules or [item.module]
            if len(submodules) < len(item.names) and item.module not in targets:
                targets.append(item.module)  # names defined in the package's __init__
            for target in targets:
                if target in modules and target != module:
                    graph.add_edge(module, target, line=f"{item.path}:{item.line}")
    return graph


def describe(item: Import) -> str:
    what = f"from {item.module} import {', '.join(item.names)}" if item.names else f"import {item.module}"
    return f"{item.path}:{item.line}: {what}"


def test_imports_inside_functions_are_only_heavy_optional_dependencies():
    found = [describe(item) for item in lazy_violations() if item.path not in PENDING_FILES]
    assert not found, ("imports inside functions (move them to the module top; break a cycle by moving the shared "
                       "piece to the lower module). Allowed lazily: " + ", ".join(sorted(LAZY_ALLOWED))
                       + "\n" + "\n".join(found))


def test_pending_files_still_need_their_entry():
    """An entry in PENDING_FILES comes out when its file is clean, so the list shows what is left."""
    still_lazy = {item.path for item in lazy_violations()}
    clean = sorted(PENDING_FILES - still_lazy)
    assert not clean, f"these files no longer import inside functions; remove them from PENDING_FILES: {clean}"


def test_solvers_leave_the_command_line_to_aligngames_cli():
    """Solvers sit below the CLI: the ``aligngames solve`` commands live in ``aligngames.cli.solve``."""
    found = [describe(item) for item in all_imports() if item.path.startswith("solvers/")
             and (item.module == "argparse" or item.module.startswith("aligngames.cli"))]
    assert not found, "solver modules importing argparse or aligngames.cli:\n" + "\n".join(found)


def test_every_package_is_installed():
    """Each folder with an ``__init__.py`` is in pyproject's ``[tool.setuptools] packages`` (else a regular
    install leaves it out)."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {module for module, path in source_files().items() if path.name == "__init__.py"}
    assert packages - listed == set(), f"add to pyproject's [tool.setuptools] packages: {sorted(packages - listed)}"


def test_no_import_cycle_between_package_modules():
    graph = module_graph()
    cycles = []
    for component in nx.strongly_connected_components(graph):
        if len(component) > 1:
            cycle = nx.find_cycle(graph.subgraph(component))
            cycles.append(" -> ".join([*(source for source, _ in cycle), cycle[0][0]])
                          + "\n    " + "\n    ".join(graph.edges[edge]["line"] for edge in cycle))
    assert not cycles, "import cycles (module -> module, then the import lines):\n" + "\n".join(cycles)


SAMPLE = '''
from typing import TYPE_CHECKING
from . import games
from .simplex import mirror_step
if TYPE_CHECKING:
    from aligngames.game import MatrixGame
else:
    import json
class Solver:
    def run(self):
        import yaml
        def inner():
            from ..training import llm_oracle
'''


def test_the_walker_reads_each_kind_of_import():
    """Top level, relative, TYPE_CHECKING, its else branch, a method and a function nested in it."""
    path = ROOT / "solvers" / "equilibrium" / "sample.py"
    found = {(item.module, item.names, item.in_function, item.type_checking)
             for item in imports_of("aligngames.solvers.equilibrium.sample", path, SAMPLE)}
    assert found == {
        ("typing", ("TYPE_CHECKING",), False, False),
        ("aligngames.solvers.equilibrium", ("games",), False, False),
        ("aligngames.solvers.equilibrium.simplex", ("mirror_step",), False, False),
        ("aligngames.game", ("MatrixGame",), False, True),
        ("json", (), False, False),
        ("yaml", (), True, False),
        ("aligngames.solvers.training", ("llm_oracle",), True, False),
    }


def test_the_checks_see_the_package():
    """The walkers find known modules and edges (so an empty result means clean, not unread)."""
    modules = source_files()
    assert {"aligngames.registry", "aligngames.envs.cirl", "aligngames.solvers.equilibrium.nash",
            "aligngames.cli.solve.nash"} <= set(modules)
    graph = module_graph()
    assert graph.has_edge("aligngames.solvers.equilibrium.mmd", "aligngames.solvers.equilibrium.simplex")
    assert graph.has_edge("aligngames.cli.solve.nash", "aligngames.cli.driver")  # `from aligngames.cli import driver`
