"""The command-line side shared by every solver: where the game comes from, the config, the run folder.

``aligngames solve SOLVER (--env ENV [-e KEY=VALUE ...] | --payoffs TOURNAMENT_RUN_DIR) --out RUN_DIR``

- ``--env``: a registered env in its tabular form (``env.unwrapped.matrix_game()``), e.g.
  ``--env preference_game_v0 -e mode=tabular -e scenario=food``.
- ``--payoffs``: the meta-game of a finished tournament run folder (its ``payoffs.json``).
- solver settings: one flag per field of the solver's config dataclass (``--alpha 0.05``; a field of a
  nested settings dataclass is a dotted flag, ``--trainer.learning-rate 5e-4``), or a YAML file of them
  (``--config settings.yaml``, nested as ``trainer: {learning_rate: 5e-4}``; flags win). ``--help`` shows
  each field's default in the config the command fills.

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
from aligngames.cli import add_force_new_argument
from aligngames.config import (
    ConfigError,
    field_default,
    from_mapping,
    load_yaml,
    parse_assignment,
    to_mapping,
)
from aligngames.game import BudgetConstraint, MatrixGame, MetaGame
from aligngames.play.tournament import load_meta_game
from aligngames.runs import RunFolder
from aligngames.solvers.equilibrium.games import skew_symmetric_matrix, zero_sum_matrix
from aligngames.solvers.equilibrium.results import plot_trace


@dataclass(frozen=True)
class GameSource:
    """A game loaded for a solver, and where it came from (recorded in ``config.yaml``)."""

    game: MatrixGame | MetaGame
    description: dict[str, Any]
    constraint: BudgetConstraint | None = None

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
    add_force_new_argument(parser)


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


@dataclass(frozen=True)
class ConfigFlag:
    """The command-line flag of one config field; a field of a nested settings dataclass has a dotted
    path (``trainer.learning_rate`` -> ``--trainer.learning-rate``).

    Attributes:
        path: the field names from the config class down to the field.
        kind: int, float, str or bool (what the flag parses).
        default: the value the config takes when neither the flag nor ``--config`` sets it (``"required"``
            for a field without one).
        help: the field's line of its class's ``Attributes:`` docstring.
    """

    path: tuple[str, ...]
    kind: type
    default: Any
    help: str

    @property
    def dest(self) -> str:
        return ".".join(self.path)

    @property
    def flag(self) -> str:
        return "--" + ".".join(name.replace("_", "-") for name in self.path)


def _flag_kind(hint: Any) -> Any:
    """``X`` for a field typed ``X`` or ``X | None``."""
    optional = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(optional) == 1:
        return optional[0]  # X | None: the flag gives an X (None is the default)
    return hint


def config_flags(config_class: type, *, exclude: tuple[str, ...] = (), defaults: Any = None,
                 prefix: tuple[str, ...] = ()) -> list[ConfigFlag]:
    """One :class:`ConfigFlag` per int, float, str or bool field of ``config_class`` (or ``X | None``), nested
    settings dataclasses included with their own defaults in this config; richer fields (mappings, lists) are
    YAML-only. ``exclude`` names top-level fields (or dotted paths) to leave out."""
    hints = typing.get_type_hints(config_class)
    helps = _field_help(config_class)
    flags: list[ConfigFlag] = []
    for field in dataclasses.fields(config_class):
        path = (*prefix, field.name)
        if ".".join(path) in exclude:
            continue
        default = getattr(defaults, field.name) if defaults is not None else field_default(field)
        kind = _flag_kind(hints[field.name])
        if dataclasses.is_dataclass(kind):
            flags += config_flags(kind, exclude=exclude, defaults=default, prefix=path)
        elif kind in (bool, int, float, str):
            flags.append(ConfigFlag(path, kind, "required" if default is dataclasses.MISSING else default,
                                    helps.get(field.name, "")))
    return flags


def add_config_arguments(parser: argparse.ArgumentParser, config_class: type, *, exclude: tuple[str, ...] = (),
                         title: str = "solver settings", config_flag: bool = True) -> None:
    """One ``--flag`` per field of ``config_class`` (:func:`config_flags`), plus ``--config YAML``; ``exclude``
    skips fields whose flags another call adds. The flags of a nested settings dataclass form their own group."""
    field_helps = _field_help(config_class)
    groups = {(): parser.add_argument_group(title)}
    if config_flag:
        groups[()].add_argument("--config", metavar="YAML", help="a YAML mapping of these settings (flags override it)")
    for flag in config_flags(config_class, exclude=exclude):
        nesting = flag.path[:-1]
        if nesting not in groups:
            groups[nesting] = parser.add_argument_group(f"{title}: {'.'.join(nesting)}", field_helps.get(nesting[0]))
        text = f"{flag.help} (default: {flag.default})".replace("%", "%%")  # argparse %-formats help
        if flag.kind is bool:
            action = groups[nesting].add_argument(flag.flag, dest=flag.dest, action=argparse.BooleanOptionalAction,
                                                  default=None, help=text)
        else:
            action = groups[nesting].add_argument(flag.flag, dest=flag.dest, type=flag.kind, default=None, help=text)
        action.config_class = config_class  # which dataclass the flag fills (tests/core/cli/test_help.py reads it)


def config_flags_given(config_class: type, args: argparse.Namespace, *, exclude: tuple[str, ...] = ()) -> list[str]:
    """The dotted names of ``config_class``'s flags that were set on the command line."""
    return [flag.dest for flag in config_flags(config_class, exclude=exclude) if getattr(args, flag.dest, None) is not None]


def config_from_args(config_class: type, args: argparse.Namespace, *, config_file: bool = True):
    """The config dataclass from ``--config`` (if given and ``config_file``) overridden by the flags that were set;
    a nested field's flags and YAML mapping keep the rest of that field's defaults."""
    path = getattr(args, "config", None) if config_file else None
    data: dict[str, Any] = load_yaml(path) if path else {}
    for flag in config_flags(config_class):
        value = getattr(args, flag.dest, None)
        if value is None:
            continue
        level = data
        for name in flag.path[:-1]:
            if not isinstance(level.get(name), dict):
                level[name] = {}
            level = level[name]
        level[flag.path[-1]] = value
    return from_mapping(config_class, data, path or "command line")


def env_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return dict(parse_assignment(item, "--env-arg") for item in args.env_arg)


def load_game(args: argparse.Namespace, *, budget_ok: bool = False) -> GameSource:
    """The game named by ``--env``/``-e`` (its tabular form) or ``--payoffs`` (a tournament's meta-game).

    A game with a budget on expected costs (``preference_game_v0`` with ``costs`` and ``budget``) is refused
    unless ``budget_ok``: a solver that ignored the budget would answer another game.
    """
    if args.payoffs:
        if args.env_arg:
            raise ConfigError("-e/--env-arg applies to --env, not to --payoffs")
        return GameSource(load_meta_game(args.payoffs), {"payoffs": str(Path(args.payoffs).resolve())})
    kwargs = env_kwargs(args)
    env = registry.make(args.env, **kwargs)
    tabular = getattr(env.unwrapped, "matrix_game", None)
    if tabular is None:
        raise ConfigError(f"{args.env} has no tabular form (env.unwrapped.matrix_game()); matrix solvers need one")
    game = tabular()
    constraint = getattr(env.unwrapped, "budget_constraint", lambda: None)()
    env.close()
    if constraint is not None and not budget_ok:
        raise ConfigError(f"{args.env} has a budget on expected costs (-e costs=... -e budget=...); only "
                          f"`aligngames solve nash` solves budgeted games")
    return GameSource(game, {"env": args.env, "env_kwargs": kwargs}, constraint)


# --- outputs ------------------------------------------------------------------------------------------

def named(vector: np.ndarray, names: tuple[str, ...]) -> dict[str, float] | list[float]:
    """A probability vector as ``{action name: probability}`` (a list when there are no names)."""
    values = [float(v) for v in vector]
    return dict(zip(names, values)) if names else values


def write_run(out: str | Path, solver: str, config: Any, source: GameSource, solution: dict[str, Any],
              trace: dict[str, list] | None, *, seed: int | None = None) -> Path:
    """Write ``config.yaml``, ``manifest.json``, ``solution.json`` and, with a trace, ``trace.json`` and the plot."""
    resolved = {"solver": solver, "game": source.description, "settings": to_mapping(config)}
    manifest = {"solver": solver, "game": source.description, "game_info": source.info.to_dict()}
    with RunFolder.open(out, command=f"solve {solver}", config=resolved, seed=seed, manifest=manifest) as run:
        run.write_json("solution.json", {"solver": solver, **solution})
        if trace is not None:
            run.write_json("trace.json", trace)
            plot_trace(run.file("exploitability.png"), trace, title=f"{solver}: exploitability (NashConv)")
    return run.path


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


def add_solver_arguments(parser: argparse.ArgumentParser, config_class: type) -> None:
    """The game source, ``--out`` and one flag per setting of ``config_class``."""
    add_game_arguments(parser)
    add_config_arguments(parser, config_class)


def run_matrix_solver(args: argparse.Namespace, solver: str, config_class: type, run: Callable) -> int:
    """``aligngames solve SOLVER`` for a two-player iterative solver: ``run(zero_sum_matrix, config)``
    returns a :class:`~aligngames.solvers.equilibrium.results.MatrixSolverResult`."""
    config = config_from_args(config_class, args)
    source = load_game(args)
    matrix = zero_sum_matrix(source.game, solver)
    write_matrix_result(args.out, solver, config, source, matrix, run(matrix, config))
    return 0


def run_symmetric_solver(args: argparse.Namespace, solver: str, config_class: type, run: Callable) -> int:
    """``aligngames solve SOLVER`` for a self-play solver: ``run(skew_symmetric_matrix, config)``
    returns a :class:`~aligngames.solvers.equilibrium.results.SymmetricSolverResult`."""
    config = config_from_args(config_class, args)
    source = load_game(args)
    matrix = skew_symmetric_matrix(source.game, solver)
    write_symmetric_result(args.out, solver, config, source, matrix, run(matrix, config),
                           seed=getattr(config, "seed", None))
    return 0


def report(out: str | Path, summary: str) -> None:
    """The CLI's one-line summary and where the files are."""
    print(f"{summary}\nrun folder: {out}")
