"""Reproducible tournaments: every pairing of an agent pool, N episodes each, in a run folder.

A *match* puts one pool agent in each seat of the env and plays ``episodes`` episodes. Matches are
the cartesian product of the seat pools (by default every agent in every seat). Seeds come from
the run seed alone: episode ``e`` of every match resets the env with ``derive_seed(seed, "episode",
e)`` (common random numbers: every pairing sees the same prompts), and each agent is reset with a
seed derived from the run seed, the match's seating and its seat.

The run folder::

    config.yaml          the resolved config (every default filled in)
    manifest.json        seed, package versions, git commit, agent settings, judge and game info
    matches.jsonl        one line per finished match, appended and flushed as it finishes
    transcripts/         match_NNNN.jsonl: one line per episode (the env's record and returns)
    payoffs.json         the meta-game: mean return and 95% CI per seat and seating
    report.md, payoffs.png

Running again on the same folder resumes: finished matches are kept and the rest are played.
When all matches are done ``matches.jsonl`` is rewritten in match order, so the final files do
not depend on the number of workers, on finishing order, or on interruptions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import logging
import multiprocessing
import os
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from aligngames import registry
from aligngames.agent import AgentSpec
from aligngames.config import ConfigError, from_mapping, load_yaml, to_mapping
from aligngames.game import Dynamics, GameInfo, MetaGame, Utility
from aligngames.intervals import mean_and_ci95
from aligngames.play.report import write_report
from aligngames.play.rollout import Episode, MatchJob
from aligngames.play.rollout import play_matches as play_jobs
from aligngames.runs import RunFolder
from aligngames.seeding import check_seed, derive_seed

log = logging.getLogger(__name__)

MATCHES_FILE = "matches.jsonl"
PAYOFFS_FILE = "payoffs.json"
BACKENDS = ("local", "ray")
#: Config keys that choose where matches run, not what they compute: a run may resume with others.
EXECUTION_KEYS = frozenset({"backend", "ray_address"})


@dataclass(frozen=True)
class TournamentConfig:
    """A tournament.

    Attributes:
        env: a registered env name.
        agents: the pool, by the name used in tables and reports.
        env_kwargs: keyword arguments for the env.
        seats: which pool agents play each seat (default: every agent in every seat).
        episodes: episodes per match.
        seed: the run seed; every random decision derives from it.
        batch_size: env copies of one match advanced together (agents answer them in one batch).
        matches_together: matches played together by the batched match engine (consecutive matches in
            match order form a group; an LLM's turns in all of them share generation batches). Part of what
            the results are: batched kernels of another shape can change an LLM's sampled token on rare
            turns, so a group is always played whole (a resume replays an unfinished group) and the files
            do not depend on workers, backend or interruptions. 1: every match on its own.
        backend: ``"local"`` (this process, or a local process pool with ``--workers``) or ``"ray"``
            (each match is a Ray task); the results are the same either way.
        ray_address: the Ray cluster to join (default: ``RAY_ADDRESS``, else a local Ray instance).
    """

    env: str
    agents: dict[str, AgentSpec]
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    seats: dict[str, tuple[str, ...]] | None = None
    episodes: int = 10
    seed: int = 0
    batch_size: int = 16
    matches_together: int = 1
    backend: str = "local"
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if self.env not in registry.ENVS:
            registry.ENVS.spec(self.env)  # raises with the list of valid names
        if not self.agents:
            raise ValueError("key 'agents': the pool needs at least one agent")
        for name, spec in self.agents.items():
            if spec.type not in registry.AGENTS:
                valid = ", ".join(registry.list_agents())
                raise ValueError(f"key 'agents.{name}.type': unknown agent type {spec.type!r}; valid types: {valid}")
        if self.episodes < 1:
            raise ValueError(f"key 'episodes': expected a positive integer, got {self.episodes}")
        if self.batch_size < 1:
            raise ValueError(f"key 'batch_size': expected a positive integer, got {self.batch_size}")
        if self.matches_together < 1:
            raise ValueError(f"key 'matches_together': expected a positive integer, got {self.matches_together}")
        check_seed(self.seed, "key 'seed'")
        if self.backend not in BACKENDS:
            raise ValueError(f"key 'backend': expected one of {list(BACKENDS)}, got {self.backend!r}")
        for seat, pool in (self.seats or {}).items():
            unknown = [name for name in pool if name not in self.agents]
            if unknown:
                raise ValueError(f"key 'seats.{seat}': unknown agent {unknown[0]!r}; the pool is {list(self.agents)}")
            if not pool:
                raise ValueError(f"key 'seats.{seat}': needs at least one agent")

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> TournamentConfig:
        data = load_yaml(path)
        data.update({k: v for k, v in overrides.items() if v is not None})
        return from_mapping(cls, data, str(path))

    def make_env(self):
        return registry.make(self.env, **self.env_kwargs)

    def resolve(self) -> TournamentConfig:
        """The same config with ``seats`` filled in from the env's seats."""
        env = self.make_env()
        seats = list(env.possible_agents)
        env.close()
        given = self.seats or {}
        unknown = sorted(set(given) - set(seats))
        if unknown:
            raise ConfigError(f"key 'seats': {unknown[0]!r} is not a seat of {self.env}; its seats are {seats}")
        resolved = {seat: tuple(given.get(seat, tuple(self.agents))) for seat in seats}
        return dataclasses.replace(self, seats=resolved)


@dataclass(frozen=True)
class Match:
    index: int
    seating: dict[str, str]  # seat -> pool agent name


def matches(config: TournamentConfig) -> list[Match]:
    """Every seating of a resolved config, in a fixed order."""
    assert config.seats is not None, "resolve() the config first"
    seats = list(config.seats)
    product = itertools.product(*(config.seats[seat] for seat in seats))
    return [Match(i, dict(zip(seats, names))) for i, names in enumerate(product)]


def episode_seeds(config: TournamentConfig) -> list[int]:
    return [derive_seed(config.seed, "episode", e) for e in range(config.episodes)]


def agent_seed(config: TournamentConfig, match: Match, seat: str) -> int:
    seating = [f"{s}={name}" for s, name in match.seating.items()]
    return derive_seed(config.seed, "agent", seat, *seating)


def match_job(config: TournamentConfig, match: Match) -> MatchJob:
    """The match's episodes for the match engine, with its agents built and reset to their seeds."""
    seat_agents = {}
    for seat, name in match.seating.items():
        agent = config.agents[name].build()
        agent.reset(agent_seed(config, match, seat))
        seat_agents[seat] = agent
    seating = ", ".join(f"{seat}={name}" for seat, name in match.seating.items())
    return MatchJob(config.make_env, seat_agents, episode_seeds(config), chunk_size=config.batch_size,
                    name=f"match {match.index} ({seating})")


def play_match(config: TournamentConfig, match: Match) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Play one match on its own; return its ``matches.jsonl`` line and its transcript lines."""
    ((_, episodes),) = play_jobs([match_job(config, match)])
    return match_result(match, episodes)


def play_group(config: TournamentConfig, group: Sequence[Match],
               wanted: Collection[int] | None = None) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Play the matches of ``group`` together in one batched match engine and yield ``(matches.jsonl line,
    transcript lines)`` for each one in ``wanted`` (default all) as it finishes."""
    jobs = [match_job(config, match) for match in group]
    for index, episodes in play_jobs(jobs):
        if wanted is None or group[index].index in wanted:
            yield match_result(group[index], episodes)


def match_groups(todo: Sequence[Match], canonical: Sequence[Match], size: int) -> list[list[Match]]:
    """The groups of ``size`` consecutive matches of ``canonical`` that hold a match of ``todo``."""
    wanted = {match.index for match in todo}
    missing = wanted - {match.index for match in canonical}
    if missing:
        raise ValueError(f"matches {sorted(missing)[:5]} are not in the list the groups are cut from")
    groups = [list(canonical[start:start + size]) for start in range(0, len(canonical), size)]
    return [group for group in groups if any(match.index in wanted for match in group)]


def _play_group_in_worker(config_data: dict[str, Any], indices: list[int], wanted: list[int], registrations=()):
    registry.restore_registrations(registrations)
    config = from_mapping(TournamentConfig, config_data, "config")
    by_index = {match.index: match for match in matches(config)}
    return list(play_group(config, [by_index[index] for index in indices], set(wanted)))


def match_result(match: Match, episodes: list[Episode]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A finished match's ``matches.jsonl`` line and transcript lines."""
    returns = {seat: [episode.returns[seat] for episode in episodes] for seat in match.seating}
    line = {
        "match": match.index,
        "seating": match.seating,
        "returns": returns,
        "mean": {seat: float(np.mean(values)) for seat, values in returns.items()},
    }
    return line, [episode.to_json() for episode in episodes]


# --- the run folder -----------------------------------------------------------------------------

def _transcript_name(index: int) -> str:
    return f"transcripts/match_{index:04d}.jsonl"


def _finished(run: RunFolder) -> dict[int, dict[str, Any]]:
    """The recorded matches whose transcript is on disk and intact (the others are played again)."""
    done = {}
    for line in run.read(MATCHES_FILE):
        path = run.file(_transcript_name(line["match"]))
        digest = line.get("transcript_sha256")
        if not path.is_file() or (digest is not None and hashlib.sha256(path.read_bytes()).hexdigest() != digest):
            log.warning("%s is missing or damaged: match %d is played again", path, line["match"])
            continue
        done[line["match"]] = line
    return done


def run_tournament(config: TournamentConfig, out: str | Path, *, workers: int = 1, progress: bool = True) -> Path:
    """Play (or resume) the tournament into folder ``out``; return the folder."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    resolved = config.resolve()
    env = resolved.make_env()
    manifest = {
        "env": {"name": resolved.env, "game_info": env.unwrapped.game_info.to_dict(), **env.unwrapped.describe()},
        "agents": {name: spec.build().describe() for name, spec in resolved.agents.items()},
    }
    env.close()
    with RunFolder.open(out, command="tournament", config=to_mapping(resolved), seed=resolved.seed,
                        may_differ=EXECUTION_KEYS, manifest=manifest) as run:
        all_matches = matches(resolved)
        done = _finished(run)
        todo = [m for m in all_matches if m.index not in done]
        log.info("%d matches, %d already finished, %d to play", len(all_matches), len(done), len(todo))
        for line, transcript in _play(resolved, todo, workers, progress, len(all_matches) - len(todo)):
            text = "".join(json.dumps(t, sort_keys=True) + "\n" for t in transcript)
            run.write_text(_transcript_name(line["match"]), text)
            line["transcript_sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
            run.append(MATCHES_FILE, line)  # recorded only after its transcript is safely on disk
            done[line["match"]] = line

        # canonical order, so the file does not depend on workers or interruptions
        run.write_text(MATCHES_FILE, "".join(json.dumps(done[m.index], sort_keys=True) + "\n" for m in all_matches))
        meta_game = build_meta_game(resolved, [done[m.index] for m in all_matches])
        run.write_json(PAYOFFS_FILE, meta_game_to_json(meta_game))
        write_report(run.path)
    return run.path


def play_matches(config: TournamentConfig, todo: list[Match], *, workers: int = 1, progress: bool = False,
                 canonical: Sequence[Match] | None = None) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Play ``todo`` (matches of the resolved ``config``, indexed as :func:`matches` numbers them) on
    ``config.backend`` and yield ``(matches.jsonl line, transcript lines)`` for each as it finishes
    (other solvers, e.g. PSRO's meta-game estimation, play through the same backends).

    Matches are played in groups of ``config.matches_together`` consecutive matches of ``canonical``
    (default: every match of the config, in order), each group whole, so a match's result does not
    depend on which other matches are still to play."""
    return _play(config, todo, workers, progress, 0, canonical)


def _play(config: TournamentConfig, todo: list[Match], workers: int, progress: bool, already: int,
          canonical: Sequence[Match] | None = None) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Yield ``(matches.jsonl line, transcript lines)`` for each match of ``todo`` as it finishes."""
    groups = match_groups(todo, matches(config) if canonical is None else canonical, config.matches_together)
    wanted = {match.index for match in todo}
    bar = tqdm(total=already + len(todo), initial=already, unit="match", desc="tournament", disable=not progress)
    try:
        if config.backend == "ray":
            results = _play_with_ray(config, groups, wanted, workers)
        elif workers == 1 or len(groups) <= 1:
            results = (result for group in groups for result in play_group(config, group, wanted))
        else:
            results = _play_with_processes(config, groups, wanted, workers)
        for result in results:
            yield result
            bar.update()
    finally:
        bar.close()


def _worker_arguments(config: TournamentConfig, group: list[Match], wanted: set[int]):
    return to_mapping(config), [match.index for match in group], sorted(wanted & {match.index for match in group})


def _play_with_processes(config: TournamentConfig, groups: list[list[Match]], wanted: set[int], workers: int):
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        registrations = registry.in_process_registrations()
        futures = [pool.submit(_play_group_in_worker, *_worker_arguments(config, group, wanted), registrations)
                   for group in groups]
        try:
            for future in as_completed(futures):
                yield from future.result()
        finally:
            for future in futures:
                future.cancel()


@contextlib.contextmanager
def ray_session(address: str | None, workers: int):
    """Ray, connected for the duration: the cluster at ``address``, else ``RAY_ADDRESS``, else a local
    instance with ``workers`` CPUs. An existing connection is used as it is (and left open), so a caller
    that plays many batches of matches (PSRO) connects once."""
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        address = address or os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        if started_here:
            ray.shutdown()


def _play_with_ray(config: TournamentConfig, groups: list[list[Match]], wanted: set[int], workers: int):
    """Each group of matches is a Ray task (see :func:`ray_session` for the cluster). Cluster nodes need aligngames installed."""
    with ray_session(config.ray_address, workers) as ray:
        task = ray.remote(_play_group_in_worker)
        pending = [task.remote(*_worker_arguments(config, group, wanted)) for group in groups]
        while pending:
            finished, pending = ray.wait(pending, num_returns=1)
            yield from ray.get(finished[0])


# --- payoffs ------------------------------------------------------------------------------------

def build_meta_game(config: TournamentConfig, lines: list[dict[str, Any]]) -> MetaGame:
    """The meta-game table from the finished matches of a resolved config."""
    seats = tuple(config.seats)
    pools = {seat: tuple(config.seats[seat]) for seat in seats}
    shape = tuple(len(pools[seat]) for seat in seats)
    mean = {seat: np.full(shape, np.nan) for seat in seats}
    ci95 = {seat: np.full(shape, np.nan) for seat in seats}
    for line in lines:
        position = tuple(pools[seat].index(line["seating"][seat]) for seat in seats)
        for seat in seats:
            mean[seat][position] = float(np.mean(line["returns"][seat]))
            ci95[seat][position] = mean_and_ci95(line["returns"][seat])[1]
    env = config.make_env()
    info = env.unwrapped.game_info
    env.close()
    return MetaGame(seats, pools, mean, ci95, config.episodes, info)


def _nested(array: np.ndarray) -> Any:
    return [None if np.isnan(x) else float(x) for x in array] if array.ndim == 1 else [_nested(a) for a in array]


def meta_game_to_json(game: MetaGame) -> dict[str, Any]:
    data = {
        "seats": list(game.seats),
        "pools": {seat: list(names) for seat, names in game.pools.items()},
        "episodes": game.episodes,
        "game_info": game.info.to_dict(),
        "mean": {seat: _nested(game.mean[seat]) for seat in game.seats},
        "ci95": {seat: _nested(game.ci95[seat]) for seat in game.seats},
    }
    try:
        names, table = game.symmetric_table()
        data["symmetric"] = {"names": list(names), "mean": _nested(table)}
    except ValueError:
        pass
    return data


def load_meta_game(run_dir: str | Path) -> MetaGame:
    """Read ``payoffs.json`` of a finished run as a :class:`MetaGame` (for solvers and reports)."""
    path = Path(run_dir) / PAYOFFS_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the run has not finished (rerun the tournament to resume it)")
    data = json.loads(path.read_text())
    info_data = data["game_info"]
    info = GameInfo(info_data["num_players"], Utility(info_data["utility"]), Dynamics(info_data["dynamics"]),
                    info_data["symmetric"], info_data["constant_sum"])

    def array(nested) -> np.ndarray:
        return np.array(nested, dtype=np.float64)  # None -> nan

    return MetaGame(
        tuple(data["seats"]), {s: tuple(n) for s, n in data["pools"].items()},
        {s: array(v) for s, v in data["mean"].items()}, {s: array(v) for s, v in data["ci95"].items()},
        data["episodes"], info,
    )
