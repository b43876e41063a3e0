"""Policy-space response oracles (PSRO) with nash / uniform / projected-replicator / alpha-rank meta-solvers.

Paper: Lanctot, Zambaldi, Gruslys, Lazaridou, Tuyls, Pérolat, Silver, Graepel (2017), "A Unified
Game-Theoretic Approach to Multiagent Reinforcement Learning", NeurIPS 2017. With the Nash
meta-solver PSRO is double oracle (McMahan, Gordon and Blum 2003); with the uniform one it is
fictitious play over policies.

Each player keeps a population of policies. Each epoch:

1. fill the meta-game: the expected payoff of every combination of population members
   (read from the payoff tensor in :func:`solve_matrix`; estimated by playing matches with the
   tournament runner in :func:`run`);
2. meta-strategies ``sigma = MetaSolver(meta-game)``: ``nash`` (an LP equilibrium; two-player
   zero-/constant-sum only), ``uniform``, ``alpharank`` (alpha-rank's per-population marginals, Muller et al.
   2020, "A generalized training approach for multiagent learning"; general-sum and n-player), or ``prd`` (projected replicator dynamics,
   ``x <- Proj_{x >= floor}(x + step * x * (u - x.u))``, averaged over its trajectory);
3. record NashConv of ``sigma`` on the meta-game and, where the game is tabular, on the full game;
4. each player adds a best response to the others' ``sigma`` mixtures (a best-response oracle:
   exact for tabular games). With ``nash`` a best response already in the population is not added
   and PSRO stops when no player has a new one (double oracle's test: the meta-equilibrium is then
   an equilibrium of the full game); with ``uniform`` and ``prd`` a repeated best response is added
   again, so it gains weight (fictitious play), and PSRO runs all its epochs.

PSRO also stops, before step 4, when the full-game NashConv of step 3 is at most
``settings.nash_conv_tolerance`` (where the oracle computes it): the meta-strategies are then an
equilibrium of the full game up to the tolerance, whatever the best responses would add (GRTS's
diversity bonus keeps adding red policies at NashConv 0). The criterion that stopped a run is
recorded (:data:`CRITERIA`) and reported with it.

:func:`run` writes a run folder and a checkpoint after every epoch; a rerun on the same folder
resumes from it and gives the same result as an uninterrupted run (every match is seeded by the
run seed and its seating, meta-solvers and the exact oracle are deterministic)::

    config.yaml       the resolved config (a rerun may only change ``settings.iterations``, the tolerance and
                      where matches run)
    manifest.json     versions, seed, oracle
    matches.jsonl     one line per match played (appended and flushed; reused on resume)
    checkpoint.json   after every epoch: populations, policies, meta-strategies, traces (a :class:`PSROState`),
                      with its own sha256, the sha256 of every trained adapter file the policies load, and a
                      mark of ``matches.jsonl`` and of each oracle record (length, digest, the epoch's lines),
                      checked on resume (:func:`aligngames.runs.restore_lines`)
    solution.json, trace.json, exploitability.png   when the run ends

:func:`run` returns the final :class:`PSROState` in its :class:`PSROResult`, so a method built on PSRO
(GRTS) reads the populations and meta-strategies from memory, not from these files.
"""

from __future__ import annotations

import abc
import contextlib
import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from aligngames import registry
from aligngames.agent import AgentSpec
from aligngames.agents.basic import ConstantAgent, MixedStrategyAgent, RandomAgent
from aligngames.config import ConfigError, from_mapping, to_mapping
from aligngames.game import MatrixGame, MetaGame
from aligngames.play.tournament import (
    BACKENDS,
    Match,
    TournamentConfig,
    build_meta_game,
    play_matches,
    ray_session,
)
from aligngames.runs import (
    FRESH_START,
    RunFolder,
    atomic_write_json,
    check_digests,
    file_sha256,
    mark_lines,
    read_sealed_json,
    restore_lines,
    write_sealed_json,
)
from aligngames.solvers.equilibrium.nash import action_values, nash_conv, solve_zero_sum
from aligngames.solvers.equilibrium.results import plot_trace
from aligngames.solvers.equilibrium.simplex import RunningAverage, project_onto_simplex
from aligngames.solvers.evaluation.ratings import alpha_rank
from aligngames.solvers.inputs import check_settings

log = logging.getLogger(__name__)

META_SOLVERS = ("nash", "uniform", "prd", "alpharank")

#: The alpharank meta-solver's selection intensity times the meta-game's largest absolute payoff, and its
#: population size (Muller et al. 2020 use alpha-rank's per-population marginals as PSRO's meta-strategies).
ALPHARANK_SCALE = 10.0
ALPHARANK_POPULATION = 50


# --- meta-solvers (pure) -------------------------------------------------------------------------------

@dataclass(frozen=True)
class PRDSettings:
    """Projected replicator dynamics.

    Attributes:
        iterations: replicator steps per meta-solve.
        step: step size ``dt``.
        floor: the least probability of every policy (keeps exploration, as in Lanctot et al.).
    """

    iterations: int = 2000
    step: float = 0.05
    floor: float = 1e-6


def projected_replicator_dynamics(payoffs: np.ndarray, settings: PRDSettings = PRDSettings()) -> list[np.ndarray]:
    """The average of a PRD trajectory from uniform, one strategy per player; ``payoffs`` ``(P, n_1..n_P)``."""
    strategies = [np.full(size, 1.0 / size) for size in payoffs.shape[1:]]
    averages = [RunningAverage() for _ in strategies]
    floors = [min(settings.floor, 1.0 / size) for size in payoffs.shape[1:]]
    for _ in range(settings.iterations):
        values = action_values(payoffs, strategies)
        strategies = [project_onto_simplex(x + settings.step * x * (u - x @ u), floor)
                      for x, u, floor in zip(strategies, values, floors)]
        for average, strategy in zip(averages, strategies):
            average.add(strategy)
    return [average.value for average in averages]


def meta_strategies(payoffs: np.ndarray, meta_solver: str, prd: PRDSettings = PRDSettings()) -> list[np.ndarray]:
    """One mixed strategy per player over its population, for the meta-game ``payoffs`` ``(P, n_1..n_P)``."""
    if meta_solver == "uniform":
        return [np.full(size, 1.0 / size) for size in payoffs.shape[1:]]
    if meta_solver == "nash":
        if payoffs.shape[0] != 2:
            raise ValueError(f"the nash meta-solver needs a two-player game; this one has {payoffs.shape[0]} players")
        solution = solve_zero_sum(payoffs)  # refuses a general-sum meta-game
        return [solution.row, solution.col]
    if meta_solver == "prd":
        return projected_replicator_dynamics(payoffs, prd)
    if meta_solver == "alpharank":
        scale = float(np.abs(payoffs).max())
        result = alpha_rank(list(payoffs), alpha=ALPHARANK_SCALE / scale if scale > 0 else 1.0,
                            population_size=ALPHARANK_POPULATION)
        return [np.asarray(marginal) for marginal in result.marginals]
    raise ValueError(f"unknown meta-solver {meta_solver!r}; valid meta-solvers: {list(META_SOLVERS)}")


def _check_meta_solver(meta_solver: str, game: MatrixGame) -> None:
    if meta_solver not in META_SOLVERS:
        raise ValueError(f"unknown meta-solver {meta_solver!r}; valid meta-solvers: {list(META_SOLVERS)}")
    if meta_solver == "nash":
        game.info.require_two_player_constant_sum("PSRO with the nash meta-solver")


# --- PSRO on a matrix game ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PSROMatrixResult:
    """PSRO on a normal-form game.

    Attributes:
        strategies: the final meta-strategies as mixtures over each player's full action set.
        populations: each player's population (action indices in the order they were added; with the
            uniform and prd meta-solvers an action can appear more than once).
        nash_conv: NashConv of the meta-strategies on the full game, one value per epoch.
        meta_strategies: each epoch's meta-strategies over the populations.
    """

    strategies: tuple[np.ndarray, ...]
    populations: tuple[tuple[int, ...], ...]
    nash_conv: np.ndarray
    meta_strategies: tuple[tuple[np.ndarray, ...], ...]

    @property
    def row(self) -> np.ndarray:
        return self.strategies[0]

    @property
    def col(self) -> np.ndarray:
        return self.strategies[1]


def _as_matrix_game(payoffs) -> MatrixGame:
    if isinstance(payoffs, MetaGame):
        return payoffs.matrix_game()
    if isinstance(payoffs, MatrixGame):
        return payoffs
    array = np.asarray(payoffs, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"PSRO: pass a MatrixGame or a zero-sum row payoff matrix (m, n); got shape {array.shape}")
    return MatrixGame.zero_sum(array)


def _scatter(weights: np.ndarray, members: Sequence[int], size: int) -> np.ndarray:
    full = np.zeros(size)
    np.add.at(full, list(members), weights)
    return full


def solve_matrix(payoffs, *, meta_solver: str = "nash", iterations: int = 50, initial: Sequence[int] | None = None,
                 prd: PRDSettings = PRDSettings(), nash_conv_tolerance: float | None = None) -> PSROMatrixResult:
    """PSRO with exact best responses on a normal-form game.

    Args:
        payoffs: a :class:`MatrixGame` (any number of players; ``nash`` needs two-player
            zero-/constant-sum), a :class:`MetaGame`, or the row payoffs of a zero-sum game.
        meta_solver: ``"nash"`` (double oracle), ``"uniform"`` or ``"prd"``.
        iterations: best-response epochs (with ``nash``, PSRO stops earlier when no player has a new action).
        initial: each player's first action (default: action 0 for everyone).
        prd: projected replicator dynamics settings (``meta_solver="prd"``).
        nash_conv_tolerance: stop once the meta-strategies' NashConv is at most this (``None``: never).
    """
    game = _as_matrix_game(payoffs)
    _check_meta_solver(meta_solver, game)
    sizes = game.payoffs.shape[1:]
    start = tuple(initial) if initial is not None else (0,) * len(sizes)
    if len(start) != len(sizes) or any(not 0 <= a < n for a, n in zip(start, sizes)):
        raise ValueError(f"initial must give one action per player within {sizes}, got {start}")
    populations = [[int(a)] for a in start]
    trace, history = [], []
    for epoch in range(iterations + 1):
        meta = game.payoffs[(slice(None), *np.ix_(*populations))]  # (P, |pop_1|, ..., |pop_P|)
        sigma = meta_strategies(meta, meta_solver, prd)
        full = [_scatter(s, population, size) for s, population, size in zip(sigma, populations, sizes)]
        trace.append(nash_conv(game.payoffs, full))
        history.append(tuple(sigma))
        if epoch == iterations or within_tolerance(trace[-1], nash_conv_tolerance):
            break
        responses = [int(np.argmax(values)) for values in action_values(game.payoffs, full)]
        added = False
        for population, response in zip(populations, responses):
            if response not in population or meta_solver in ("uniform", "prd"):  # a repeat adds weight (fictitious play)
                population.append(response)
                added = True
        if not added:  # double oracle: every best response is already in the populations
            break
    return PSROMatrixResult(tuple(full), tuple(tuple(p) for p in populations), np.array(trace), tuple(history))


# --- best-response oracles ---------------------------------------------------------------------------

Mixture = Sequence[tuple[AgentSpec, float]]  # a seat's population members with their meta-probabilities


class BestResponseOracle(abc.ABC):
    """Makes a policy for one seat that best responds to the other seats' meta-strategy mixtures."""

    @abc.abstractmethod
    def best_response(self, seat: str, mixtures: Mapping[str, Mixture]) -> tuple[str, AgentSpec]:
        """``(name, agent spec)`` of a best response for ``seat`` (``mixtures`` covers every seat)."""

    def full_game_nash_conv(self, mixtures: Mapping[str, Mixture]) -> float | None:
        """NashConv of the mixtures on the full game, where the oracle can compute it (else ``None``)."""
        return None

    def describe(self) -> dict[str, Any]:
        return {"class": type(self).__name__}

    def records(self) -> dict[str, Path]:
        """JSON-lines files the oracle appends to, by name. PSRO's checkpoint marks them, and a resumed run
        puts them back to what it marked (the lines of an oracle call after it are written again)."""
        return {}

    def saved_folders(self) -> list[Path]:
        """Folders of files the oracle's agent specs load (trained adapters); the checkpoint records the
        sha256 of each file in them and a resumed run checks them."""
        return []


class ExactBestResponse(BestResponseOracle):
    """The exact best response in a tabular game: the best constant action against the mixtures.

    It knows the action distributions of the agents whose classes say what they play:
    :class:`~aligngames.agents.basic.ConstantAgent`, :class:`~aligngames.agents.basic.MixedStrategyAgent`
    and :class:`~aligngames.agents.basic.RandomAgent` (registered as ``constant``, ``mixed``, ``random``).

    Args:
        game: the env's tabular form (``env.unwrapped.matrix_game()``), players in seat order.
        seats: the env's seats.
    """

    def __init__(self, game: MatrixGame, seats: Sequence[str]) -> None:
        if game.info.num_players != len(seats):
            raise ValueError(f"the matrix game has {game.info.num_players} players but the env has seats {list(seats)}")
        self.game = game
        self.seats = tuple(seats)

    @classmethod
    def from_env(cls, env_name: str, env_kwargs: Mapping[str, Any]) -> ExactBestResponse:
        env = registry.make(env_name, **env_kwargs)
        tabular = getattr(env.unwrapped, "matrix_game", None)
        if tabular is None:
            raise ConfigError(f"{env_name} has no tabular form (matrix_game()), so it has no exact best response")
        oracle = cls(tabular(), env.possible_agents)
        env.close()
        return oracle

    def action_distribution(self, seat: str, spec: AgentSpec) -> np.ndarray:
        """The distribution over ``seat``'s actions that agent ``spec`` plays."""
        size = self.game.payoffs.shape[1 + self.seats.index(seat)]
        agent = spec.build()
        if isinstance(agent, ConstantAgent):
            return np.eye(size)[int(agent.action)]
        if isinstance(agent, MixedStrategyAgent):
            if agent.probabilities.shape != (size,):
                raise ValueError(f"a mixed agent for {seat} needs {size} probabilities, got {agent.probabilities.shape}")
            return agent.probabilities
        if isinstance(agent, RandomAgent):
            return np.full(size, 1.0 / size)
        raise ValueError(f"the exact oracle knows constant, mixed and random agents; {seat} has a {spec.type!r} agent "
                         f"({type(agent).__name__})")

    def profile(self, mixtures: Mapping[str, Mixture]) -> list[np.ndarray]:
        """Each seat's meta-strategy as a distribution over its actions."""
        return [sum(p * self.action_distribution(seat, spec) for spec, p in mixtures[seat]) for seat in self.seats]

    def best_response(self, seat, mixtures):
        values = action_values(self.game.payoffs, self.profile(mixtures))[self.seats.index(seat)]
        action = int(np.argmax(values))  # ties go to the lowest index: deterministic
        name = f"{seat}.{self.game.action_names[self.seats.index(seat)][action]}"
        return name, AgentSpec("constant", {"action": action})

    def full_game_nash_conv(self, mixtures):
        return nash_conv(self.game.payoffs, self.profile(mixtures))

    def describe(self):
        return {"class": "ExactBestResponse", "actions": [list(names) for names in self.game.action_names]}


# --- PSRO over an env, with simulated meta-games --------------------------------------------------------

@dataclass(frozen=True)
class PSROSettings:
    """PSRO settings shared by ``aligngames solve psro --env`` and ``--payoffs``.

    Attributes:
        iterations: the most best-response epochs (PSRO stops earlier when nothing new is added).
        nash_conv_tolerance: stop once the full-game NashConv of the meta-strategies is at most this
            (only where the oracle computes it, e.g. the exact and GRTS candidate oracles); null: never.
        meta_solver: nash (two-player zero-/constant-sum), uniform or prd.
        episodes: episodes per match when the meta-game is estimated by play (--env).
        seed: run seed; every match is seeded from it and its seating.
        batch_size: env copies advanced together in a match (results do not depend on it).
        matches_together: meta-game matches played together by the batched match engine (their LLM turns
            share generation batches); groups are cut from each epoch's new matches in order and always
            played whole, so a resumed run gives the same files (see the tournament config's key).
        prd_iterations: projected replicator dynamics steps per meta-solve.
        prd_step: projected replicator dynamics step size.
        prd_floor: least probability projected replicator dynamics gives a policy.
        backend: where meta-game matches run: local (this process, or a process pool with workers > 1) or
            ray (each match a Ray task); the results are the same.
        workers: local worker processes, or the CPUs of a local Ray instance.
        ray_address: the Ray cluster to join (default: RAY_ADDRESS, else a local Ray instance).
    """

    iterations: int = 10
    nash_conv_tolerance: float | None = 1e-9
    meta_solver: str = "nash"
    episodes: int = 10
    seed: int = 0
    batch_size: int = 16
    matches_together: int = 1
    prd_iterations: int = 2000
    prd_step: float = 0.05
    prd_floor: float = 1e-6
    backend: str = "local"
    workers: int = 1
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {list(BACKENDS)}, got {self.backend!r}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.meta_solver not in META_SOLVERS:
            raise ValueError(f"meta_solver must be one of {list(META_SOLVERS)}, got {self.meta_solver!r}")
        check_settings(("iterations", self.iterations, self.iterations >= 0, ">= 0"),
                       ("episodes", self.episodes, self.episodes >= 1, ">= 1"),
                       ("batch_size", self.batch_size, self.batch_size >= 1, ">= 1"),
                       ("matches_together", self.matches_together, self.matches_together >= 1, ">= 1"),
                       ("prd_iterations", self.prd_iterations, self.prd_iterations >= 1, ">= 1"))
        if self.nash_conv_tolerance is not None and not self.nash_conv_tolerance >= 0:
            raise ValueError(f"nash_conv_tolerance must be >= 0 (or null: never stop on NashConv), "
                             f"got {self.nash_conv_tolerance}")

    @property
    def prd(self) -> PRDSettings:
        return PRDSettings(self.prd_iterations, self.prd_step, self.prd_floor)


@dataclass(frozen=True)
class PSROConfig:
    """A PSRO run over an env.

    Attributes:
        env: a registered env name.
        env_kwargs: keyword arguments for the env.
        initial: each seat's first policy (default: the constant agent playing action 0).
        settings: the PSRO settings.
    """

    env: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    initial: dict[str, AgentSpec] = field(default_factory=dict)
    settings: PSROSettings = PSROSettings()


@dataclass(frozen=True)
class PSROResult:
    """The outcome of :func:`run`.

    Attributes:
        populations: each seat's policy names, in the order they were added.
        agents: every policy by name.
        meta_strategies: the final meta-strategy of each seat, ``{name: probability}``.
        nash_conv: NashConv of the meta-strategies on the full game, one value per meta-solve (each
            epoch's and the final populations'; ``None`` where the oracle cannot compute it).
        empirical_nash_conv: the same on the estimated meta-game.
        epochs: how many times the populations grew.
        history: the meta-strategies of every meta-solve, aligned with ``nash_conv``.
        state: the state PSRO checkpointed last (what ``checkpoint.json`` holds).
    """

    populations: dict[str, tuple[str, ...]]
    agents: dict[str, AgentSpec]
    meta_strategies: dict[str, dict[str, float]]
    nash_conv: tuple[float | None, ...]
    empirical_nash_conv: tuple[float, ...]
    epochs: int
    history: tuple[dict[str, dict[str, float]], ...]
    state: PSROState


CHECKPOINT_FILE = "checkpoint.json"
#: Why PSRO stopped before its epoch limit: no seat had a new best response (double oracle's test), or the
#: full-game NashConv of the meta-strategies was within ``settings.nash_conv_tolerance``.
NO_NEW_POLICY, NASH_CONV_WITHIN_TOLERANCE = "no new best response", "full-game NashConv <= tolerance"
CRITERIA = (NO_NEW_POLICY, NASH_CONV_WITHIN_TOLERANCE)
#: Settings that choose where matches run; a run may resume with other values.
EXECUTION_SETTINGS = ("backend", "workers", "ray_address")
MATCHES_FILE = "matches.jsonl"


def _spec_data(spec: AgentSpec) -> dict[str, Any]:
    return {"type": spec.type, "kwargs": to_mapping(spec.kwargs)}


@dataclass
class PSROState:
    """PSRO after an epoch: what ``checkpoint.json`` holds and a resumed run starts from.

    Attributes:
        epoch: best-response epochs done (a last one that stopped PSRO counts, though it added nothing).
        converged: PSRO stopped before the epoch limit; ``criterion`` says why.
        populations: each seat's policy names, in the order they were added (in the env's seat order).
        agents: every policy by name (specs as plain data, as they read back from JSON).
        meta_strategies: each epoch's meta-strategies ``{seat: {name: probability}}``, before its best responses.
        nash_conv: NashConv of those meta-strategies on the full game (``None`` where the oracle cannot compute it).
        empirical_nash_conv: the same on the estimated meta-game.
        criterion: what stopped PSRO (one of :data:`CRITERIA`), ``None`` while it has not converged.
    """

    epoch: int
    converged: bool
    populations: dict[str, list[str]]
    agents: dict[str, AgentSpec]
    meta_strategies: list[dict[str, dict[str, float]]] = field(default_factory=list)
    nash_conv: list[float | None] = field(default_factory=list)
    empirical_nash_conv: list[float] = field(default_factory=list)
    criterion: str | None = None

    @classmethod
    def start(cls, initial: Mapping[str, AgentSpec]) -> PSROState:
        """Epoch 0: each seat's population is its initial policy, ``SEAT.initial``."""
        return cls(0, False, {seat: [f"{seat}.initial"] for seat in initial},
                   {f"{seat}.initial": _plain(spec) for seat, spec in initial.items()})

    def add(self, seat: str, name: str, spec: AgentSpec) -> str:
        """Add ``spec`` to ``seat``'s population under ``name`` (primed until it is unique); return the name."""
        while name in self.agents:
            name += "'"
        self.agents[name] = _plain(spec)
        self.populations[seat].append(name)
        return name

    def record(self, meta_strategies: dict[str, dict[str, float]], nash_conv: float | None,
               empirical_nash_conv: float) -> None:
        self.meta_strategies.append(meta_strategies)
        self.nash_conv.append(nash_conv)
        self.empirical_nash_conv.append(empirical_nash_conv)

    def to_json(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "converged": self.converged, "populations": self.populations,
                "agents": {name: _spec_data(spec) for name, spec in self.agents.items()},
                "meta_strategies": self.meta_strategies, "nash_conv": self.nash_conv,
                "empirical_nash_conv": self.empirical_nash_conv, "criterion": self.criterion}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], seats: Sequence[str]) -> PSROState:
        """Read a checkpoint; ``seats`` restores the env's seat order (JSON sorts the keys: blue < red_0)."""
        return cls(int(data["epoch"]), bool(data["converged"]),
                   {seat: list(data["populations"][seat]) for seat in seats},
                   {name: from_mapping(AgentSpec, spec, f"agents.{name}") for name, spec in data["agents"].items()},
                   list(data["meta_strategies"]), list(data["nash_conv"]), list(data["empirical_nash_conv"]),
                   data.get("criterion", NO_NEW_POLICY if data["converged"] else None))  # older checkpoints lack it


def _plain(spec: AgentSpec) -> AgentSpec:
    """``spec`` with its keyword arguments as plain data (tuples as lists), as a checkpoint reads it back."""
    return from_mapping(AgentSpec, _spec_data(spec), spec.type)


def run(config: PSROConfig, out: str | Path, *, oracle: BestResponseOracle | None = None,
        progress: bool = False, command: str = "solve psro") -> PSROResult:
    """PSRO over ``config.env`` with meta-games estimated by the tournament runner; resumes ``out``.

    Args:
        config: the env, the initial policies and the settings (``settings.backend`` chooses where
            matches run: in this process, a local process pool, or Ray; the results are the same).
        out: the run folder (an existing one is resumed from its checkpoint).
        oracle: the best-response oracle (default: :class:`ExactBestResponse` on the env's tabular form).
        progress: show a progress bar over epochs.
        command: the command the run folder records (GRTS runs PSRO in its own folder).
    """
    with contextlib.ExitStack() as session:
        if config.settings.backend == "ray":  # connect once for the whole run, not once per epoch
            session.enter_context(ray_session(config.settings.ray_address, config.settings.workers))
        return _run(config, out, oracle=oracle, progress=progress, command=command)


def _run(config: PSROConfig, out: str | Path, *, oracle: BestResponseOracle | None, progress: bool,
         command: str) -> PSROResult:
    settings = config.settings
    oracle = oracle or ExactBestResponse.from_env(config.env, config.env_kwargs)
    probe = TournamentConfig(config.env, {"probe": AgentSpec("random")}, config.env_kwargs)
    env = probe.make_env()
    seats, info = tuple(env.possible_agents), env.unwrapped.game_info
    env.close()
    if settings.meta_solver == "nash":
        info.require_two_player_constant_sum("PSRO with the nash meta-solver")
    unknown = sorted(set(config.initial) - set(seats))
    if unknown:
        raise ConfigError(f"key 'initial': {unknown[0]!r} is not a seat of {config.env}; its seats are {list(seats)}")

    # a rerun may extend settings.iterations, and change how and where matches run, not what they compute
    may_differ = [f"settings.{key}" for key in ("iterations", "nash_conv_tolerance", *EXECUTION_SETTINGS)]
    with RunFolder.open(out, command=command, config=to_mapping(config), seed=settings.seed, may_differ=may_differ,
                        manifest={"solver": "psro", "game_info": info.to_dict(), "oracle": oracle.describe()}) as run:
        return _epochs(config, run, oracle, seats, progress)


def _epochs(config: PSROConfig, run: RunFolder, oracle: BestResponseOracle, seats: tuple[str, ...],
            progress: bool) -> PSROResult:
    settings, out = config.settings, run.path
    checkpoint_path = out / CHECKPOINT_FILE
    records = {MATCHES_FILE: out / MATCHES_FILE,
               **{_relative(path, out): path for path in oracle.records().values()}}
    if checkpoint_path.exists():
        data = _read_checkpoint(checkpoint_path)
        state = PSROState.from_json(data, seats)
        marks = _check_checkpoint(data, out, records)
        if (state.criterion == NASH_CONV_WITHIN_TOLERANCE
                and not within_tolerance(state.nash_conv[-1], settings.nash_conv_tolerance)):
            # a tighter tolerance than the one that stopped the run: undo that stop (it made no best responses)
            state.epoch, state.converged, state.criterion = state.epoch - 1, False, None
            for trace in (state.meta_strategies, state.nash_conv, state.empirical_nash_conv):
                trace.pop()
        log.info("resuming PSRO from epoch %d", state.epoch)
    else:
        state = PSROState.start({seat: config.initial.get(seat, AgentSpec("constant", {"action": 0})) for seat in seats})
        marks = {}
        for path in oracle.records().values():  # a call of epoch 0 that was cut off is made again
            path.unlink(missing_ok=True)
    played = {tuple(line["seating"][seat] for seat in seats): line for line in run.read(MATCHES_FILE)}

    def evaluate() -> tuple[dict[str, tuple[str, ...]], dict[str, Mixture], dict[str, Any]]:
        """Steps 1-3 on the current populations: play missing matches, meta-solve, NashConv."""
        agents = dict(state.agents)
        populations = {seat: tuple(state.populations[seat]) for seat in seats}
        tournament = TournamentConfig(config.env, agents, config.env_kwargs, seats=populations,
                                      episodes=settings.episodes, seed=settings.seed, batch_size=settings.batch_size,
                                      matches_together=settings.matches_together, backend=settings.backend, ray_address=settings.ray_address)
        seatings = list(itertools.product(*(populations[seat] for seat in seats)))
        # step 1: play the matches the meta-game lacks, on the tournament runner's backend (matches are
        # seeded by the run seed and their seating alone, so the backend does not change the results)
        # this epoch's new matches (those recorded before an interruption included) fix the groups the
        # engine plays together, so a resumed epoch batches its remaining matches as the first try did
        new = [Match(index, dict(zip(seats, seating))) for index, seating in enumerate(seatings)
               if seating not in played or played[seating].get("epoch") == state.epoch]
        todo = [match for match in new if tuple(match.seating[seat] for seat in seats) not in played]
        finished: dict[int, dict[str, Any]] = {}
        position = 0
        for line, _ in play_matches(tournament, todo, workers=settings.workers, canonical=new):
            finished[line["match"]] = line
            while position < len(todo) and todo[position].index in finished:  # recorded in match order
                line = {**finished.pop(todo[position].index), "match": len(played), "epoch": state.epoch}
                run.append(MATCHES_FILE, line)
                played[tuple(line["seating"][seat] for seat in seats)] = line
                position += 1
        meta_game = build_meta_game(tournament, [played[seating] for seating in seatings]).matrix_game()
        sigma = meta_strategies(meta_game.payoffs, settings.meta_solver, settings.prd)  # step 2
        mixtures = {seat: [(agents[name], float(p)) for name, p in zip(populations[seat], s)] for seat, s in zip(seats, sigma)}
        record = {"meta_strategies": {seat: dict(zip(populations[seat], map(float, s))) for seat, s in zip(seats, sigma)},
                  "nash_conv": oracle.full_game_nash_conv(mixtures),
                  "empirical_nash_conv": nash_conv(meta_game.payoffs, sigma)}  # step 3
        return populations, mixtures, record

    # the bar counts what the result reports as epochs: best responses that grew a population; the
    # round that adds nothing (the nash meta-solver's stopping test) ends the bar early instead
    bar = tqdm(total=settings.iterations, initial=min(grown_epochs(state), settings.iterations), unit="epoch",
               desc="psro", disable=not progress)
    if state.converged:
        _mark_converged(bar, state.criterion)
    while not state.converged and state.epoch < settings.iterations:
        populations, mixtures, record = evaluate()
        state.record(**record)
        added = False
        if within_tolerance(record["nash_conv"], settings.nash_conv_tolerance):
            state.criterion = NASH_CONV_WITHIN_TOLERANCE  # an equilibrium of the full game: no step 4
            seats_to_extend: tuple[str, ...] = ()
        else:
            seats_to_extend = seats
        for seat in seats_to_extend:  # step 4
            name, spec = oracle.best_response(seat, mixtures)
            known = any(_spec_data(state.agents[member]) == _spec_data(spec) for member in populations[seat])
            if known and settings.meta_solver == "nash":  # double oracle adds only new policies
                continue
            state.add(seat, name, spec)
            added = True
        state.epoch += 1
        state.converged = not added
        if state.converged and state.criterion is None:
            state.criterion = NO_NEW_POLICY
        marks = {name: mark_lines(path, marks.get(name)) for name, path in records.items()}
        files = {_relative(path, out): file_sha256(path) for folder in oracle.saved_folders()
                 for path in sorted(Path(folder).rglob("*")) if path.is_file()}
        write_sealed_json(checkpoint_path, {**state.to_json(), "files": files, "lines": marks})  # a rerun resumes here
        if state.converged:
            _mark_converged(bar, state.criterion)
        else:
            bar.update()
        log.info("epoch %d: nash_conv %s, empirical %.3g", state.epoch, record["nash_conv"], record["empirical_nash_conv"])
    bar.close()

    # the meta-strategies of the final populations (already the last record when PSRO converged)
    history, full, empirical = list(state.meta_strategies), list(state.nash_conv), list(state.empirical_nash_conv)
    if not state.converged:
        record = evaluate()[2]
        history.append(record["meta_strategies"])
        full.append(record["nash_conv"])
        empirical.append(record["empirical_nash_conv"])
    result = PSROResult({seat: tuple(names) for seat, names in state.populations.items()}, dict(state.agents),
                        history[-1], tuple(full), tuple(empirical), len(full) - 1, tuple(history), state)
    _write_results(out, result, oracle)
    return result


def within_tolerance(value: float | None, tolerance: float | None) -> bool:
    """Whether a full-game NashConv ``value`` (``None``: not computed) stops PSRO at ``tolerance`` (``None``: never)."""
    return value is not None and tolerance is not None and value <= tolerance


def stop_description(epochs: int, criterion: str | None, settings: PSROSettings) -> str:
    """``"N epochs (converged: CRITERION)"``, or ``"(not converged: ...)"`` at the epoch limit: the CLI's words,
    with the numbers its progress bar showed."""
    counted = f"{epochs} epoch{'' if epochs == 1 else 's'}"
    if criterion == NASH_CONV_WITHIN_TOLERANCE:
        return f"{counted} (converged: full-game NashConv <= tolerance {settings.nash_conv_tolerance:g})"
    if criterion is not None:
        return f"{counted} (converged: {criterion})"
    return f"{counted} (not converged: stopped at the limit, iterations={settings.iterations})"


def grown_epochs(state: PSROState) -> int:
    """The epochs that added a policy: every best-response round but a last one that added none
    (what :attr:`PSROResult.epochs` reports)."""
    return state.epoch - int(state.converged)


def _mark_converged(bar: tqdm, criterion: str) -> None:
    """End the epoch bar where PSRO converged: its total becomes the epochs run."""
    bar.total = bar.n
    bar.set_postfix_str(f"converged: {criterion}", refresh=False)  # drawn by the next update or close


_CHECKPOINT_KEYS = ("epoch", "converged", "populations", "agents", "meta_strategies", "nash_conv", "empirical_nash_conv")


def _checkpoint_remedy(path: Path) -> str:
    return (f"restore it, delete {path} to start PSRO again from epoch 0 (the matches played are reused), "
            f"or {FRESH_START}")


def _read_checkpoint(path: Path) -> dict[str, Any]:
    return read_sealed_json(path, keys=_CHECKPOINT_KEYS, remedy=_checkpoint_remedy(path))


def _check_checkpoint(data: Mapping[str, Any], out: Path, records: Mapping[str, Path]) -> dict[str, Any]:
    """Check the files the checkpoint depends on and put its records back to what it marked; return the marks.

    Adapters it lists must match their digests. ``matches.jsonl`` keeps the matches played after the
    checkpoint (they depend only on their seating); an oracle's records lose the lines of calls after it
    (those calls are made again)."""
    path = out / CHECKPOINT_FILE
    check_digests(out, data.get("files", {}), shown=out, remedy=_checkpoint_remedy(path))
    marks = data.get("lines", {})
    for name, file in records.items():
        if name in marks:
            restore_lines(file, marks[name], shown=file, keep_later=name == MATCHES_FILE,
                          remedy=_checkpoint_remedy(path))
    return marks


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(Path(path).resolve())


def _write_results(out: Path, result: PSROResult, oracle: BestResponseOracle) -> None:
    state = result.state
    solution: dict[str, Any] = {"solver": "psro", "epochs": result.epochs, "converged": state.converged,
                                "criterion": state.criterion,
                                "populations": state.populations, "agents": state.to_json()["agents"],
                                "meta_strategies": result.meta_strategies, "nash_conv": result.nash_conv[-1],
                                "empirical_nash_conv": result.empirical_nash_conv[-1]}
    if isinstance(oracle, ExactBestResponse):
        last = result.meta_strategies
        mixtures = {seat: [(state.agents[name], p) for name, p in last[seat].items()] for seat in oracle.seats}
        solution["action_mixtures"] = {
            seat: dict(zip(names, map(float, mixture)))
            for seat, names, mixture in zip(oracle.seats, oracle.game.action_names, oracle.profile(mixtures))}
    trace = {"iteration": list(range(len(result.nash_conv))), "nash_conv": list(result.nash_conv),
             "empirical_nash_conv": list(result.empirical_nash_conv)}
    atomic_write_json(out / "solution.json", solution)
    atomic_write_json(out / "trace.json", trace)
    plot_trace(out / "exploitability.png", trace, title="psro: NashConv of the meta-strategies")


__all__ = [
    "CRITERIA", "META_SOLVERS", "NASH_CONV_WITHIN_TOLERANCE", "NO_NEW_POLICY", "BestResponseOracle", "ExactBestResponse", "PRDSettings", "PSROConfig", "PSROMatrixResult",
    "PSROResult", "PSROSettings", "PSROState", "meta_strategies", "projected_replicator_dynamics", "run", "solve_matrix",
    "stop_description",
]
