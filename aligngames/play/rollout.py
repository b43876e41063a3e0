"""Play episodes of AEC envs, many copies in lockstep: one batched match engine.

:func:`play_matches` advances the episodes of many matches together. A *match job* is an env
factory, the agent for each seat, and the env seeds of its episodes. At every step the engine
collects the turn of each unfinished episode, groups the turns by the agent object that must act,
and asks each agent for all its actions in one :meth:`~aligngames.agents.Agent.act_batch` call.
Agents of different matches that can share a forward pass say so with a ``batch_key()`` (an LLM
agent's key is its model, decoding settings and batch size) and are then served together by their
class's ``act_together`` method: one generation batch for the pending turns of every live episode
on the same base model, each row with its own LoRA adapter and its own seed.

A match's episodes run in chunks of ``chunk_size`` (at most that many of them live at once); a
match's next chunk starts when its previous one has ended, and new chunks are admitted while
fewer than ``max_live`` episodes are live (continuous batching). Each episode is reset with its own
seed and each agent sees its own turns in the same order whatever else is batched with them, and a
row's sampling seed is its own. What can still depend on the company a row keeps is float rounding:
batched kernels of another shape can change an LLM's logits in the last bits, which on rare turns
changes a sampled token (measured: one token in about 6000 on the embedded model, batch 32 vs 2).
So callers that promise identical files fix which matches are played together (the tournament
runner's ``matches_together``). Judges are batched too: before the step's moves are applied, the judge
calls they will make (``GameRules.judge_requests``) are scored in one batch per judge
(:func:`prefetch_judges`) by judges whose scores do not depend on batching (``minilm_harm``,
``embedding_harm``), so the envs' own calls are memo hits. :func:`play_episodes` is the engine on one match.

With ``record_turns=True`` every episode also keeps its turns in order (``Episode.steps``): the
seat, the action, and whatever the agent reports about how it chose it. Agents that can report
define ``act_batch_detailed(turns) -> [(action, data), ...]``; an LLM agent's ``data`` holds the
prompt, the completion, its token ids and per-token log-probabilities (what a policy-gradient
trainer needs). Other agents are called through ``act_batch`` and record the action only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aligngames.agent import Turn

#: A guard against envs that never end; a real episode of any aligngames game is far shorter.
MAX_TURNS = 100_000


@dataclass
class Episode:
    """One finished episode.

    Attributes:
        seed: the seed the env was reset with.
        returns: each seat's total reward.
        record: the env's own account of the episode (``env.unwrapped.record()``), e.g. the transcript.
        turns: number of actions taken.
        steps: with ``record_turns``, one dict per turn in order: ``seat``, ``action`` and the
            agent's own data (see the module docstring); empty otherwise.
    """

    seed: int
    returns: dict[str, float]
    record: dict[str, Any] = field(default_factory=dict)
    turns: int = 0
    steps: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = {"seed": self.seed, "returns": self.returns, "turns": self.turns, "record": self.record}
        if self.steps:
            data["steps"] = self.steps
        return data


@dataclass(frozen=True)
class MatchJob:
    """The episodes of one match for :func:`play_matches`.

    Attributes:
        make_env: builds a fresh AEC env (called once per episode, in seed order).
        seat_agents: the agent that plays each seat. The same object may play several seats; it then
            gets all their turns in one batch. Agent objects are not shared between jobs.
        seeds: one env seed per episode.
        chunk_size: the most episodes of this match live at once (None: all of them).
        name: how errors name the match.
    """

    make_env: Callable[[], Any]
    seat_agents: Mapping[str, Any]
    seeds: Sequence[int]
    chunk_size: int | None = None
    name: str = "match"

    def chunks(self) -> list[list[int]]:
        size = self.chunk_size or max(len(self.seeds), 1)
        if size < 1:
            raise ValueError(f"{self.name}: chunk_size must be >= 1, got {self.chunk_size}")
        return [list(range(start, min(start + size, len(self.seeds)))) for start in range(0, len(self.seeds), size)]


@dataclass
class _Live:
    """One running episode."""

    job: int
    slot: int  # the episode's index in its job
    env: Any
    returns: dict[str, float]
    turns: int = 0
    steps: list[dict[str, Any]] = field(default_factory=list)


def _act(agent: Any, turns: list[Any], record_turns: bool) -> list[tuple[Any, dict[str, Any]]]:
    """``(action, data)`` per turn; data only when recording and the agent can report it."""
    detailed = getattr(agent, "act_batch_detailed", None) if record_turns else None
    if detailed is not None:
        return [(action, dict(data)) for action, data in detailed(turns)]
    return [(action, {}) for action in agent.act_batch(turns)]


def _batch_key(agent: Any) -> Hashable | None:
    key = getattr(agent, "batch_key", None)
    return key() if callable(key) else None


def act_all(requests: Sequence[tuple[Any, list[Turn]]], record_turns: bool) -> list[list[tuple[Any, dict[str, Any]]]]:
    """The actions of every ``(agent, turns)`` request, in order: agents with the same
    ``batch_key()`` are served by one ``act_together`` call, the others one by one."""
    results: list[list[tuple[Any, dict[str, Any]]] | None] = [None] * len(requests)
    groups: dict[Hashable, list[int]] = {}
    for index, (agent, _) in enumerate(requests):
        key = _batch_key(agent)
        if key is None:
            results[index] = _act(agent, requests[index][1], record_turns)
        else:
            groups.setdefault(key, []).append(index)
    for members in groups.values():
        if len(members) == 1:
            results[members[0]] = _act(*requests[members[0]], record_turns)
            continue
        first = requests[members[0]][0]
        answers = type(first).act_together([requests[index] for index in members])
        for index, answer in zip(members, answers):
            results[index] = [(action, dict(data) if record_turns else {}) for action, data in answer]
    for (agent, turns), actions in zip(requests, results):
        if len(actions) != len(turns):
            raise ValueError(f"{type(agent).__name__}.act_batch returned {len(actions)} actions for {len(turns)} turns")
    return results  # type: ignore[return-value]


def prefetch_judges(moves: Sequence[tuple[Any, str, Any]]) -> None:
    """Score the judge calls that this step's moves ``(env, seat, action)`` will make, one batch per judge identity.

    Each env's rules name their calls (``GameRules.judge_requests``); a judge with a ``prefetch`` method
    scores them all at once and memoises them, so the envs' own calls in ``step`` find them. Only judges
    whose scores do not depend on batching do anything here, so results are the same as without it."""
    groups: dict[Any, tuple[Any, list[str], list[str]]] = {}
    for env, seat, action in moves:
        requests = getattr(getattr(env.unwrapped, "rules", None), "judge_requests", None)
        for judge, prompt, answer in (requests(seat, action) if requests is not None else ()):
            if callable(getattr(judge, "prefetch", None)):
                group = groups.setdefault(getattr(judge, "identity", None) or id(judge), (judge, [], []))
                group[1].append(prompt)
                group[2].append(answer)
    for judge, prompts, answers in groups.values():
        if len(prompts) > 1:
            judge.prefetch(prompts, answers)


def play_matches(jobs: Sequence[MatchJob], *, max_live: int | None = None,
                 record_turns: bool = False) -> Iterator[tuple[int, list[Episode]]]:
    """Play every job's episodes; yield ``(job index, episodes in seed order)`` as each job finishes.

    Args:
        jobs: the matches.
        max_live: the most episodes live at once across all jobs (None: no bound). A chunk is admitted
            only whole, and always when nothing else is live.
        record_turns: keep every turn's seat, action and agent data in ``Episode.steps``.
    """
    if max_live is not None and max_live < 1:
        raise ValueError(f"max_live must be >= 1, got {max_live}")
    waiting = deque((index, deque(job.chunks())) for index, job in enumerate(jobs) if len(job.seeds))
    finished: dict[int, list[Episode | None]] = {index: [None] * len(job.seeds) for index, job in enumerate(jobs)}
    live: list[_Live] = []
    for index, job in enumerate(jobs):
        if not len(job.seeds):
            yield index, finished.pop(index)  # type: ignore[misc]

    def admit() -> None:
        parked = []
        while waiting:
            index, chunks = waiting.popleft()
            if any(episode.job == index for episode in live):
                parked.append((index, chunks))  # its previous chunk is still running
                continue
            if live and max_live is not None and len(live) + len(chunks[0]) > max_live:
                parked.append((index, chunks))
                break
            job = jobs[index]
            for slot in chunks.popleft():
                env = job.make_env()
                env.reset(seed=int(job.seeds[slot]))
                missing = [seat for seat in env.possible_agents if seat not in job.seat_agents]
                if missing:
                    raise ValueError(f"{job.name}: no agent for seat(s) {missing}; the env's seats are {list(env.possible_agents)}")
                live.append(_Live(index, slot, env, dict.fromkeys(env.possible_agents, 0.0)))
            if chunks:
                parked.append((index, chunks))
        waiting.extendleft(reversed(parked))

    admit()
    while live:
        pending: dict[int, tuple[Any, list[tuple[_Live, Turn]]]] = {}  # id(agent) -> (agent, [(episode, turn)])
        for episode in live:
            env = episode.env
            seat = env.agent_selection
            observation, reward, termination, truncation, info = env.last()
            episode.returns[seat] += float(reward)
            if termination or truncation:
                env.step(None)
                continue
            agent = jobs[episode.job].seat_agents[seat]
            pending.setdefault(id(agent), (agent, []))[1].append((episode, Turn(observation, seat, env.action_space(seat), info)))
        requests = [(agent, [turn for _, turn in batch]) for agent, batch in pending.values()]
        answered = act_all(requests, record_turns)
        prefetch_judges([(episode.env, turn.agent, action) for (_, batch), actions in zip(pending.values(), answered)
                         for (episode, turn), (action, _) in zip(batch, actions)])
        for (_, batch), actions in zip(pending.values(), answered):
            for (episode, turn), (action, data) in zip(batch, actions):
                try:
                    episode.env.step(action)
                except ValueError as error:  # the env's own check of the move, with the match and seat added
                    seed = jobs[episode.job].seeds[episode.slot]
                    raise ValueError(f"{jobs[episode.job].name}, episode seed {seed}, seat {turn.agent!r} "
                                     f"({type(jobs[episode.job].seat_agents[turn.agent]).__name__}): {error}") from error
                if record_turns:
                    episode.steps.append({"seat": turn.agent, "action": action, **data})
                episode.turns += 1
                if episode.turns > MAX_TURNS:
                    seed = jobs[episode.job].seeds[episode.slot]
                    raise RuntimeError(f"{jobs[episode.job].name}: episode with seed {seed} did not end within {MAX_TURNS} turns")
        ended = [episode for episode in live if not episode.env.agents]
        live = [episode for episode in live if episode.env.agents]
        done_jobs = []
        for episode in ended:
            record_fn = getattr(episode.env.unwrapped, "record", None)
            seed = int(jobs[episode.job].seeds[episode.slot])
            finished[episode.job][episode.slot] = Episode(seed, episode.returns, record_fn() if record_fn else {},
                                                          episode.turns, episode.steps)
            episode.env.close()
            if all(item is not None for item in finished[episode.job]) and episode.job not in done_jobs:
                done_jobs.append(episode.job)
        admit()
        for index in sorted(done_jobs):
            yield index, finished.pop(index)  # type: ignore[misc]


def play_episodes(make_env: Callable[[], Any], seat_agents: Mapping[str, Any], seeds: Sequence[int], *,
                  record_turns: bool = False) -> list[Episode]:
    """Play one episode per seed with ``seat_agents[seat]`` acting for each seat of the env
    (:func:`play_matches` on one match, every episode in lockstep).

    Args:
        make_env: builds a fresh AEC env (called once per seed).
        seat_agents: the agent that plays each seat (``{"player_0": agent_a, "player_1": agent_b}``).
            The same object may play several seats; it then gets all their turns in one batch.
        seeds: one env seed per episode.
        record_turns: keep every turn's seat, action and agent data in ``Episode.steps``.

    Returns:
        The episodes in the order of ``seeds``.
    """
    ((_, episodes),) = play_matches([MatchJob(make_env, seat_agents, seeds)], record_turns=record_turns)
    return episodes
