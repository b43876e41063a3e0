"""``moral_graph_v0``: moral-graph elicitation as a game (Klingefjord, Lowe & Edelman 2024).

``n`` participants (``participant_0`` ...) deliberate about divisive contexts written for
aligngames (a grieving user who wants the assistant to imitate her late mother; a 15-year-old who
wants a crash diet; a coworker stealing to pay for insulin). Per context each participant
articulates a value card from the packaged library, then votes on transition stories (is value B
wiser than value A?); the votes become a moral graph (edge counts, wiserLikelihood, entropy
filter, weighted PageRank, exactly as :mod:`aligngames.envs.moral_graph.graph` describes), and the
top-ranked values win. Each participant's payoff per context is how well the winners represent
them: their own card, or an upgrade of it they voted for.

Modes: ``tabular`` (actions ``{"card": c, "vote": v}``; the articulate step reads the card number,
a vote step reads 0 / 1 / 2 for upgrade / no_upgrade / not_sure) and ``language`` (``card: <id>``
and ``upgrade`` as text). Every participant acts in every step (simultaneous), so there is a Parallel env.

Observation: ``{"observation": [context, stage, vote round, own card, transition source, transition
target, last payoff], "transcript": text}``. ``infos`` carry the stage, the card ids and their value
dimensions (what scripted participants with latent value profiles read) and the transition.

Example::

    import aligngames
    from aligngames.agents.moral_graph import ValueProfileParticipant
    env = aligngames.make("moral_graph_v0", num_participants=4)
    env.reset(seed=0)
    people = {a: ValueProfileParticipant(profile) for a, profile in zip(env.possible_agents,
              ["carer", "truth_teller", "guardian", "free_spirit"])}
    for agent in env.agent_iter():
        observation, reward, termination, truncation, info = env.last()
        action = None if termination or truncation else people[agent].act(observation, agent, env.action_space(agent), info)
        env.step(action)
"""

from __future__ import annotations

from collections.abc import Sequence

from pettingzoo.utils import wrappers

from aligngames.envs.adapter import RulesAECEnv, RulesParallelEnv
from aligngames.envs.moral_graph.graph import Vote, build_graph, edge_statistics, rank_values, top_values
from aligngames.envs.moral_graph.library import Library, load_library
from aligngames.envs.moral_graph.rules import MoralGraphRules, parse_articulation, parse_vote

NAME = "moral_graph_v0"
METADATA = {"name": NAME, "render_modes": ["human", "ansi"], "is_parallelizable": True}

#: Settings worth trying; the conformance test runs PettingZoo's checks on each.
EXAMPLE_KWARGS = (
    {"num_participants": 3, "contexts": ["teen_diet"], "votes_per_participant": 3},
    {"num_participants": 4, "votes_per_participant": 2},
    {"num_participants": 2, "contexts": ["grief_roleplay"], "votes_per_participant": 2, "mode": "language"},
)


def make_rules(num_participants: int = 6, *, contexts: Sequence[str] | None = None,
               votes_per_participant: int | None = None, mode: str = "tabular",
               max_text_length: int = 400, library: Library | None = None) -> MoralGraphRules:
    """Build the game's rules from the env's keyword arguments (see the module docstring)."""
    library = library if library is not None else load_library()
    return MoralGraphRules(library, library.select(contexts), num_participants, votes_per_participant, mode,
                           max_text_length)


class raw_env(RulesAECEnv):
    """AEC version: participants act one after another, without seeing each other's moves."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)


class parallel_env(RulesParallelEnv):
    """Parallel version: every participant acts in each step."""

    metadata = METADATA

    def __init__(self, render_mode: str | None = None, **kwargs) -> None:
        super().__init__(make_rules(**kwargs), render_mode=render_mode)


def env(**kwargs) -> wrappers.OrderEnforcingWrapper:
    """The AEC env wrapped as PettingZoo recommends (step before reset is an error)."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


__all__ = ["EXAMPLE_KWARGS", "NAME", "Library", "MoralGraphRules", "Vote", "build_graph", "edge_statistics", "env",
           "load_library", "make_rules", "parallel_env", "parse_articulation", "parse_vote", "rank_values", "raw_env",
           "top_values"]
