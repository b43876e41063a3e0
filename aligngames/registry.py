"""Registries of envs, agents, judges and solvers by name.

Entries point at ``"module:attribute"`` and are imported only when used, so ``import aligngames``
stays light. The core lists no built-in entry: each package registers its own (``envs``,
``agents``, ``solvers``, the judges and the CLI's solve commands) from a small ``registrations``
module that the ``aligngames.registrations`` entry-point group names. The registries read the
entry points the first time they are used, in every process (tournament workers included).

Other packages plug in the same way, or with one entry per name in the groups
``aligngames.envs``, ``aligngames.agents``, ``aligngames.judges`` and ``aligngames.solvers``::

    [project.entry-points."aligngames.agents"]
    my_agent = "my_package.agents:MyAgent"

A script registers its own entries with :func:`register_env`, :func:`register_agent`,
:func:`register_judge` and :func:`register_solver`. An unknown name raises a ``KeyError`` that
lists the valid names.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import inspect
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_ENV_NAME = re.compile(r"^[a-z][a-z0-9_]*_v\d+$")


@dataclass(frozen=True)
class Spec:
    """One registry entry.

    Attributes:
        name: the registered name (envs carry a version suffix, ``preference_game_v0``).
        entry_point: ``"module"`` (envs and solvers) or ``"module:attribute"`` (agents).
        description: one line, shown by ``aligngames list``.
    """

    name: str
    entry_point: str
    description: str

    def load(self) -> Any:
        module_name, _, attribute = self.entry_point.partition(":")
        module = importlib.import_module(module_name)
        return getattr(module, attribute) if attribute else module


HOOK_GROUP = "aligngames.registrations"
_plugins_loaded = False
_loading = False  # True while the hooks and entry points register (those are found again by every process)


def load_plugins() -> None:
    """Run every registration hook and read the per-kind entry-point groups (once per process)."""
    global _plugins_loaded, _loading
    if _plugins_loaded:
        return
    _plugins_loaded = _loading = True
    try:
        _run_hooks()
    finally:
        _loading = False


def _run_hooks() -> None:
    hooks = sorted(importlib.metadata.entry_points(group=HOOK_GROUP), key=lambda point: point.name)
    if not any(point.value.startswith("aligngames.") for point in hooks):
        raise RuntimeError(f"no built-in {HOOK_GROUP!r} entry points: aligngames is not installed "
                           "(run `pip install -e .` in the repository, or `pip install aligngames`)")
    for point in hooks:
        try:
            point.load()()
        except Exception as error:
            raise RuntimeError(f"registration hook {point.name} = {point.value!r} failed: {error}") from error
    for kind, register in (("env", register_env), ("agent", register_agent), ("judge", register_judge),
                           ("solver", register_solver)):
        for point in importlib.metadata.entry_points(group=f"aligngames.{kind}s"):
            source = point.dist.name if point.dist is not None else "an entry point"
            register(point.name, point.value, f"(from {source}) {point.value}")


class Registry:
    """Name -> :class:`Spec`, with errors that list the valid names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._specs: dict[str, Spec] = {}
        self._in_process: list[str] = []  # registered by the running program, not by a hook or entry point

    def register(self, name: str, entry_point: str, description: str) -> None:
        load_plugins()
        if name in self._specs:
            raise ValueError(f"{self.kind} {name!r} is already registered ({self._specs[name].entry_point})")
        self._specs[name] = Spec(name, entry_point, description)
        if not _loading:
            self._in_process.append(name)

    def in_process(self) -> list[Spec]:
        """What the running program registered itself (a worker process does not see it unless handed it)."""
        return [self._specs[name] for name in self._in_process]

    def spec(self, name: str) -> Spec:
        load_plugins()
        if name not in self._specs:
            valid = ", ".join(sorted(self._specs))
            close = difflib.get_close_matches(name, self._specs, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise KeyError(f"unknown {self.kind} {name!r}.{hint} Valid {self.kind}s: {valid}")
        return self._specs[name]

    def names(self) -> list[str]:
        load_plugins()
        return sorted(self._specs)

    def specs(self) -> list[Spec]:
        return [self._specs[name] for name in self.names()]

    def __contains__(self, name: object) -> bool:
        load_plugins()
        return name in self._specs


ENVS = Registry("env")
AGENTS = Registry("agent")
SOLVERS = Registry("solver")
JUDGES = Registry("judge")


def register_env(name: str, module: str, description: str) -> None:
    """Register an env module that defines ``env()``, ``raw_env`` and ``parallel_env()``."""
    if not _ENV_NAME.match(name):
        raise ValueError(f"env names are lower_snake_case with a version suffix like 'my_game_v0'; got {name!r}")
    ENVS.register(name, module, description)


def register_agent(name: str, entry_point: str, description: str) -> None:
    """Register an agent class or factory as ``"module:attribute"``."""
    if ":" not in entry_point:
        raise ValueError(f"agent entry points are 'module:attribute', got {entry_point!r}")
    AGENTS.register(name, entry_point, description)


def in_process_registrations() -> list[tuple[str, str, str, str]]:
    """``(kind, name, entry_point, description)`` of everything the running program registered itself, e.g.
    ``register_agent("mine", "__main__:MyAgent", ...)`` in a script: what a worker process needs handed to it
    (:func:`restore_registrations`), since it finds only the hooks and entry points by itself."""
    return [(registry.kind, spec.name, spec.entry_point, spec.description)
            for registry in (ENVS, AGENTS, JUDGES, SOLVERS) for spec in registry.in_process()]


def restore_registrations(entries) -> None:
    """Register ``entries`` (from :func:`in_process_registrations`) that this process does not have yet."""
    kinds = {"env": register_env, "agent": register_agent, "judge": register_judge, "solver": register_solver}
    registries = {"env": ENVS, "agent": AGENTS, "judge": JUDGES, "solver": SOLVERS}
    for kind, name, entry_point, description in entries:
        if name not in registries[kind]:
            kinds[kind](name, entry_point, description)


def register_solver(name: str, module: str, description: str) -> None:
    """Register a solver module (it defines the solver's config, ``solve`` and CLI driver)."""
    SOLVERS.register(name, module, description)


def register_judge(name: str, entry_point: str, description: str) -> None:
    """Register a judge class or factory as ``"module:attribute"``."""
    if ":" not in entry_point:
        raise ValueError(f"judge entry points are 'module:attribute', got {entry_point!r}")
    JUDGES.register(name, entry_point, description)


# --- code shipped with models -----------------------------------------------------------------------

REMOTE_CODE_VARIABLE = "ALIGNGAMES_TRUST_REMOTE_CODE"


def allow_remote_code() -> None:
    """Let configs turn on ``trust_remote_code`` (the CLI's ``--trust-remote-code``); inherited by workers."""
    os.environ[REMOTE_CODE_VARIABLE] = "1"


def _check_remote_code(kind: str, name: str, kwargs: Mapping[str, Any]) -> None:
    if kwargs.get("trust_remote_code") and os.environ.get(REMOTE_CODE_VARIABLE) != "1":
        raise PermissionError(f"{kind} {name!r}: trust_remote_code=True runs code shipped with the model; allow it "
                              f"explicitly with the command-line flag --trust-remote-code "
                              f"(in Python: aligngames.registry.allow_remote_code())")


def keywords(function: Any) -> list[str] | None:
    """The keyword arguments ``function`` (or a class's constructor) accepts; None if it takes ``**kwargs``."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters):
        return None
    return [parameter.name for parameter in parameters
            if parameter.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]


def _check_keywords(kind: str, name: str, valid: list[str] | None, kwargs: Mapping[str, Any]) -> None:
    """Refuse keyword arguments that ``name`` does not take, with the ones it does (and the nearest)."""
    if valid is None:
        return
    for key in kwargs:
        if key not in valid:
            near = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise TypeError(f"{kind} {name!r} has no keyword {key!r}{hint}; its keywords: "
                            f"{', '.join(valid) if valid else 'none'}")


def env_keywords(module: Any) -> list[str] | None:
    """An env module's keywords: ``make_rules``'s and ``render_mode`` (None where it has no ``make_rules``)."""
    make_rules = getattr(module, "make_rules", None)
    valid = keywords(make_rules) if callable(make_rules) else None
    return None if valid is None else [*valid, "render_mode"]


def env_seats(module: Any) -> tuple[tuple[str, ...], dict[str, Any]] | None:
    """The seats of an env module's first tabular example (or its first example), and those settings; None
    where the module has no ``make_rules``. Some games' seats depend on their settings (``num_red``,
    ``stakeholders``), so the settings come with them."""
    make_rules = getattr(module, "make_rules", None)
    if not callable(make_rules):
        return None
    examples = getattr(module, "EXAMPLE_KWARGS", ({},))
    settings = next((kwargs for kwargs in examples if kwargs.get("mode") == "tabular"), examples[0])
    return tuple(make_rules(**settings).possible_agents), dict(settings)


# --- public helpers ---------------------------------------------------------------------------

def make(name: str, **kwargs: Any):
    """Create the wrapped AEC env registered as ``name`` (``aligngames.make("preference_game_v0")``)."""
    module = ENVS.spec(name).load()
    _check_keywords("env", name, env_keywords(module), kwargs)
    return module.env(**kwargs)


def make_parallel(name: str, **kwargs: Any):
    """Create the Parallel env registered as ``name``; an env without one raises ``ValueError``."""
    module = ENVS.spec(name).load()
    if not callable(getattr(module, "parallel_env", None)):
        raise ValueError(f"env {name!r} has no Parallel form (its players move one after another); "
                         f"use its AEC env, aligngames.make({name!r}, ...)")
    _check_keywords("env", name, env_keywords(module), kwargs)
    return module.parallel_env(**kwargs)


def make_agent(name: str, **kwargs: Any):
    """Create the agent registered as ``name`` with keyword arguments ``kwargs``."""
    _check_remote_code("agent", name, kwargs)
    factory = AGENTS.spec(name).load()
    _check_keywords("agent", name, keywords(factory), kwargs)
    try:
        return factory(**kwargs)
    except TypeError as error:
        raise TypeError(f"agent {name!r}: {error}") from error


#: ``"replay"``: (judge, kwargs) -> a stand-in or None; ``"record"``: (made, judge, kwargs) -> the judge to use.
_judge_hooks: dict[str, Any] = {}


def set_judge_hooks(*, replay: Any, record: Any) -> None:
    """Install what :func:`make_judge` consults to replay and to record judge calls
    (:mod:`aligngames.judges.recording` installs them from its registration hook)."""
    _judge_hooks.update(replay=replay, record=record)


def make_judge(judge: Any, judge_kwargs: Mapping[str, Any] | None = None, *, expected: type | None = None):
    """A judge from a registered name with keyword arguments, or an instance used as it is.

    Args:
        judge: a registered judge name (``aligngames list`` shows them) or a judge object.
        judge_kwargs: keyword arguments for the judge's constructor (only with a name).
        expected: the judge class the caller needs (``PreferenceJudge``, ``HarmJudge``, ...).
    """
    load_plugins()  # installs the judge hooks (aligngames.judges.recording)
    stand_in = _judge_hooks["replay"](judge, judge_kwargs) if "replay" in _judge_hooks else None
    if stand_in is not None:  # a replayed run builds no judge
        if expected is not None and not isinstance(stand_in, expected):
            raise TypeError(f"judge {judge!r} was recorded as a {type(stand_in).__name__}, not a {expected.__name__}")
        return stand_in
    if isinstance(judge, str):
        _check_remote_code("judge", judge, judge_kwargs or {})
        factory = JUDGES.spec(judge).load()
        _check_keywords("judge", judge, keywords(factory), judge_kwargs or {})
        try:
            made = factory(**dict(judge_kwargs or {}))
        except TypeError as error:
            raise TypeError(f"judge {judge!r}: {error}") from error
    else:
        if judge_kwargs:
            raise ValueError("judge_kwargs are only used when the judge is given by name")
        made = judge
    if expected is not None and not isinstance(made, expected):
        raise TypeError(f"judge {judge!r} is not a {expected.__name__} (it is a {type(made).__name__})")
    return _judge_hooks["record"](made, judge, judge_kwargs) if "record" in _judge_hooks else made


def list_envs() -> list[str]:
    return ENVS.names()


def list_agents() -> list[str]:
    return AGENTS.names()


def list_solvers() -> list[str]:
    return SOLVERS.names()


def list_judges() -> list[str]:
    return JUDGES.names()
