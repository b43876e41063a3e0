"""The command-line side shared by every solver: where the game comes from, the config, the run folder.

``aligngames solve SOLVER (--env ENV [-e KEY=VALUE ...] | --payoffs TOURNAMENT_RUN_DIR) --out RUN_DIR``

- ``--env``: a registered env in its tabular form (``env.unwrapped.matrix_game()``), e.g.
  ``--env preference_game_v0 -e mode=tabular -e scenario=food``.
- ``--payoffs``: the meta-game of a finished tournament run folder (its ``payoffs.json``).
- solver settings: one flag per field of the solver's config dataclass (``--alpha 0.05``), or a
  YAML file of them (``--config settings.yaml``; flags win).

The run folder::

    config.yaml        the solver, the game's source and every setting (defaults filled in)
    manifest.json      versions, git commit, command, game metadata
    solution.json      the strategies (by action name), the value or final exploitabilities
    trace.json         one entry per iteration: exploitability of the last and of the average iterate
    exploitability.png the trace on a log scale (iterative solvers)
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aligngames import registry
from aligngames.config import ConfigError, from_mapping, load_yaml, to_mapping
from aligngames.game import MatrixGame, MetaGame
from aligngames.runs import atomic_write_json, atomic_write_text

#: Exploitability is drawn on a log scale; exact zeros are drawn at this floor.
PLOT_FLOOR = 1e-16


@dataclass(frozen=True)
class GameSource:
    """A game loaded for a solver, and where it came from (recorded in ``config.yaml``)."""

    game: MatrixGame | MetaGame
    description: dict[str, Any]

    @property
    def info(self):
        return self.game.info


# --- arguments ----------------------------------------------------------------------------------------

def add_game_arguments(parser: argparse.ArgumentParser) -> None:
    """``--env``/``-e``/``--payoffs`` (one game source) and ``--out``."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--env", help="a registered env with a tabular form, e.g. preference_game_v0")
    source.add_argument("--payoffs", metavar="TOURNAMENT_RUN_DIR",
                        help="solve the meta-game of a finished tournament run folder (payoffs.json)")
    parser.add_argument("--env-arg", "-e", action="append", default=[], metavar="KEY=VALUE",
                        help="env keyword argument (repeatable), e.g. -e mode=tabular -e scenario=food")
    parser.add_argument("--out", required=True, help="run folder for the solution, traces and plots")


def _field_help(config_class: type) -> dict[str, str]:
    """``{field: text}`` from the ``Attributes:`` section of a config dataclass's docstring."""
    doc = config_class.__doc__ or ""
    section = doc.split("Attributes:", 1)[1] if "Attributes:" in doc else ""
    helps: dict[str, str] = {}
    current: list[str] = []
    for line in section.splitlines():
        match = re.match(r"^\s{4,8}([a-z_][a-z0-9_, ]*):\s*(.*)$", line)
        if match:
            current = [name.strip() for name in match.group(1).split(",")]
            for name in current:
                helps[name] = match.group(2)
        elif line.strip() and current:
            for name in current:
                helps[name] += " " + line.strip()
    return helps


def add_config_arguments(parser: argparse.ArgumentParser, config_class: type, *, exclude: tuple[str, ...] = (),
                         title: str = "solver settings", config_flag: bool = True) -> None:
    """One ``--flag`` per field of ``config_class`` (int, float, str, bool, or one of them or None), plus
    ``--config YAML``; ``exclude`` skips fields whose flags another call adds."""
    hints = typing.get_type_hints(config_class)
    helps = _field_help(config_class)
    group = parser.add_argument_group(title)
    if config_flag:
        group.add_argument("--config", metavar="YAML", help="a YAML mapping of these settings (flags override it)")
    for field in dataclasses.fields(config_class):
        if field.name in exclude:
            continue
        hint = hints[field.name]
        optional = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(optional) == 1:
            hint = optional[0]  # X | None: the flag gives an X (None is the default)
        flag = "--" + field.name.replace("_", "-")
        default = field.default if field.default is not dataclasses.MISSING else "required"
        text = f"{helps.get(field.name, '')} (default: {default})"
        if hint is bool:
            group.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction, default=None, help=text)
        elif hint in (int, float, str):
            group.add_argument(flag, dest=field.name, type=hint, default=None, help=text)
        # richer fields (mappings, lists) come from --config only


def config_from_args(config_class: type, args: argparse.Namespace):
    """The config dataclass from ``--config`` (if given) overridden by the flags that were set."""
    data: dict[str, Any] = load_yaml(args.config) if getattr(args, "config", None) else {}
    for field in dataclasses.fields(config_class):
        value = getattr(args, field.name, None)
        if value is not None:
            data[field.name] = value
    return from_mapping(config_class, data, args.config or "command line")


def env_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    from aligngames.config import parse_assignment

    return dict(parse_assignment(item, "--env-arg") for item in args.env_arg)


def load_game(args: argparse.Namespace) -> GameSource:
    """The game named by ``--env``/``-e`` (its tabular form) or ``--payoffs`` (a tournament's meta-game)."""
    if args.payoffs:
        if args.env_arg:
            raise ConfigError("-e/--env-arg applies to --env, not to --payoffs")
        from aligngames.play.tournament import load_meta_game

        return GameSource(load_meta_game(args.payoffs), {"payoffs": str(Path(args.payoffs).resolve())})
    kwargs = env_kwargs(args)
    env = registry.make(args.env, **kwargs)
    tabular = getattr(env.unwrapped, "matrix_game", None)
    if tabular is None:
        raise ConfigError(f"{args.env} has no tabular form (env.unwrapped.matrix_game()); matrix solvers need one")
    game = tabular()
    env.close()
    return GameSource(game, {"env": args.env, "env_kwargs": kwargs})


# --- outputs ------------------------------------------------------------------------------------------

def named(vector: np.ndarray, names: tuple[str, ...]) -> dict[str, float] | list[float]:
    """A probability vector as ``{action name: probability}`` (a list when there are no names)."""
    values = [float(v) for v in vector]
    return dict(zip(names, values)) if names else values


def write_run(out: str | Path, solver: str, config: Any, source: GameSource, solution: dict[str, Any],
              trace: dict[str, list] | None, *, seed: int | None = None) -> Path:
    """Write ``config.yaml``, ``manifest.json``, ``solution.json`` and, with a trace, ``trace.json`` and the plot."""
    import yaml

    from aligngames.runs import build_manifest

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    resolved = {"solver": solver, "game": source.description, "settings": to_mapping(config)}
    atomic_write_text(out / "config.yaml", yaml.safe_dump(resolved, sort_keys=False))
    manifest = build_manifest(seed, extra={"solver": solver, "game": source.description,
                                           "game_info": source.info.to_dict()})
    atomic_write_json(out / "manifest.json", manifest)
    atomic_write_json(out / "solution.json", {"solver": solver, **solution})
    if trace is not None:
        atomic_write_json(out / "trace.json", trace)
        plot_trace(out / "exploitability.png", trace, title=f"{solver}: exploitability (NashConv)")
    return out


def trace_of(last: np.ndarray, average: np.ndarray) -> dict[str, list]:
    return {"iteration": list(range(1, len(last) + 1)), "exploitability": [float(v) for v in last],
            "average_exploitability": [float(v) for v in average]}


def write_matrix_result(out, solver: str, config, source: GameSource, matrix, result) -> Path:
    """The run folder of a two-player iterative solver (:class:`~aligngames.solvers.equilibrium.results.MatrixSolverResult`)."""
    solution = {
        "row": named(result.row, matrix.row_names), "col": named(result.col, matrix.col_names),
        "average_row": named(result.average_row, matrix.row_names),
        "average_col": named(result.average_col, matrix.col_names),
        "exploitability": float(result.exploitability[-1]),
        "average_exploitability": float(result.average_exploitability[-1]),
    }
    path = write_run(out, solver, config, source, solution, trace_of(result.exploitability, result.average_exploitability))
    report(out, f"last-iterate exploitability {solution['exploitability']:.3g}, "
                f"average {solution['average_exploitability']:.3g}")
    return path


def write_symmetric_result(out, solver: str, config, source: GameSource, matrix, result, *, seed: int | None = None) -> Path:
    """The run folder of a self-play solver (:class:`~aligngames.solvers.equilibrium.results.SymmetricSolverResult`)."""
    solution = {
        "policy": named(result.policy, matrix.names),
        "average_policy": named(result.average_policy, matrix.names),
        "exploitability": float(result.exploitability[-1]),
        "average_exploitability": float(result.average_exploitability[-1]),
    }
    path = write_run(out, solver, config, source, solution, trace_of(result.exploitability, result.average_exploitability),
                     seed=seed)
    report(out, f"last-iterate exploitability {solution['exploitability']:.3g}, "
                f"average {solution['average_exploitability']:.3g}")
    return path


def plot_trace(path: Path, trace: dict[str, list], title: str) -> None:
    """Exploitability per iteration, last iterate against average, on a log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.5, 4.0))
    x = trace["iteration"]
    for key, label in (("exploitability", "last iterate"), ("average_exploitability", "average iterate"),
                       ("nash_conv", "meta-strategy (full game)"), ("empirical_nash_conv", "meta-strategy (empirical game)")):
        values = trace.get(key)
        if values is None or all(v is None or np.isnan(v) for v in values):
            continue
        ys = [np.nan if v is None else max(float(v), PLOT_FLOOR) for v in values]
        axes.plot(x, ys, label=label, marker="o" if len(x) <= 30 else None)
    axes.set_yscale("log")
    axes.set_xlabel("iteration")
    axes.set_ylabel("exploitability (NashConv)")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def add_solver_arguments(parser: argparse.ArgumentParser, config_class: type) -> None:
    """The game source, ``--out`` and one flag per setting of ``config_class``."""
    add_game_arguments(parser)
    add_config_arguments(parser, config_class)


def run_matrix_solver(args: argparse.Namespace, solver: str, config_class: type, run: Callable) -> int:
    """``aligngames solve SOLVER`` for a two-player iterative solver: ``run(zero_sum_matrix, config)``
    returns a :class:`~aligngames.solvers.equilibrium.results.MatrixSolverResult`."""
    from aligngames.solvers.equilibrium.games import zero_sum_matrix

    config = config_from_args(config_class, args)
    source = load_game(args)
    matrix = zero_sum_matrix(source.game, solver)
    write_matrix_result(args.out, solver, config, source, matrix, run(matrix, config))
    return 0


def run_symmetric_solver(args: argparse.Namespace, solver: str, config_class: type, run: Callable) -> int:
    """``aligngames solve SOLVER`` for a self-play solver: ``run(skew_symmetric_matrix, config)``
    returns a :class:`~aligngames.solvers.equilibrium.results.SymmetricSolverResult`."""
    from aligngames.solvers.equilibrium.games import skew_symmetric_matrix

    config = config_from_args(config_class, args)
    source = load_game(args)
    matrix = skew_symmetric_matrix(source.game, solver)
    write_symmetric_result(args.out, solver, config, source, matrix, run(matrix, config),
                           seed=getattr(config, "seed", None))
    return 0


def report(out: str | Path, summary: str) -> None:
    """The CLI's one-line summary and where the files are."""
    print(f"{summary}\nrun folder: {out}")
