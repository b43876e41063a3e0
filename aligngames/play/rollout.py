"""Play episodes of an AEC env, many copies in lockstep.

:func:`play_episodes` advances N copies of an env together. At every round it collects the turn of
each unfinished copy, groups the turns by the agent object that must act, and asks each agent for
all its actions in one :meth:`~aligngames.agents.Agent.act_batch` call (one batched forward pass
for an LLM agent instead of N). Each copy is reset with its own seed, so the episodes do not
depend on how many copies run together.

With ``record_turns=True`` every episode also keeps its turns in order (``Episode.steps``): the
seat, the action, and whatever the agent reports about how it chose it. Agents that can report
define ``act_batch_detailed(turns) -> [(action, data), ...]``; an LLM agent's ``data`` holds the
prompt, the completion, its token ids and per-token log-probabilities (what a policy-gradient
trainer needs). Other agents are called through ``act_batch`` and record the action only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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


def _act(agent: Any, turns: list[Any], record_turns: bool) -> list[tuple[Any, dict[str, Any]]]:
    """``(action, data)`` per turn; data only when recording and the agent can report it."""
    detailed = getattr(agent, "act_batch_detailed", None) if record_turns else None
    if detailed is not None:
        return [(action, dict(data)) for action, data in detailed(turns)]
    return [(action, {}) for action in agent.act_batch(turns)]


def play_episodes(make_env: Callable[[], Any], seat_agents: Mapping[str, Any], seeds: Sequence[int], *,
                  record_turns: bool = False) -> list[Episode]:
    """Play one episode per seed with ``seat_agents[seat]`` acting for each seat of the env.

    Args:
        make_env: builds a fresh AEC env (called once per seed).
        seat_agents: the agent that plays each seat (``{"player_0": agent_a, "player_1": agent_b}``).
            The same object may play several seats; it then gets all their turns in one batch.
        seeds: one env seed per episode.
        record_turns: keep every turn's seat, action and agent data in ``Episode.steps``.

    Returns:
        The episodes in the order of ``seeds``.
    """
    envs = [make_env() for _ in seeds]
    for env, seed in zip(envs, seeds):
        env.reset(seed=int(seed))
        missing = [seat for seat in env.possible_agents if seat not in seat_agents]
        if missing:
            raise ValueError(f"no agent for seat(s) {missing}; the env's seats are {list(env.possible_agents)}")
    returns = [dict.fromkeys(env.possible_agents, 0.0) for env in envs]
    turns = [0] * len(envs)
    steps: list[list[dict[str, Any]]] = [[] for _ in envs]
    live = list(range(len(envs)))
    while live:
        pending: dict[int, list[tuple[int, Turn]]] = {}  # id(agent) -> [(env index, turn)]
        agents_by_id: dict[int, Any] = {}
        finished_steps: list[int] = []
        for index in live:
            env = envs[index]
            seat = env.agent_selection
            observation, reward, termination, truncation, info = env.last()
            returns[index][seat] += float(reward)
            if termination or truncation:
                finished_steps.append(index)
                continue
            agent = seat_agents[seat]
            agents_by_id[id(agent)] = agent
            pending.setdefault(id(agent), []).append((index, Turn(observation, seat, env.action_space(seat), info)))
        for index in finished_steps:
            envs[index].step(None)
        for agent_id, batch in pending.items():
            actions = _act(agents_by_id[agent_id], [turn for _, turn in batch], record_turns)
            if len(actions) != len(batch):
                raise ValueError(f"{type(agents_by_id[agent_id]).__name__}.act_batch returned {len(actions)} actions for {len(batch)} turns")
            for (index, turn), (action, data) in zip(batch, actions):
                envs[index].step(action)
                if record_turns:
                    steps[index].append({"seat": turn.agent, "action": action, **data})
                turns[index] += 1
                if turns[index] > MAX_TURNS:
                    raise RuntimeError(f"episode with seed {seeds[index]} did not end within {MAX_TURNS} turns")
        live = [index for index in live if envs[index].agents]
    episodes = []
    for env, seed, total, count, episode_steps in zip(envs, seeds, returns, turns, steps):
        record_fn = getattr(env.unwrapped, "record", None)
        episodes.append(Episode(int(seed), total, record_fn() if record_fn else {}, count, episode_steps))
        env.close()
    return episodes
