"""Rules of ``moral_graph_v0`` (no PettingZoo here).

``n`` participants deliberate about each context in turn. Per context:

1. *articulate* (one simultaneous step): each participant picks the value card from the context's
   library that best states what should guide an assistant's answer (language mode: ``card: <id or
   title>``, optionally ``edit: <own wording>`` on a second line, kept in the record);
2. *vote* (``T`` simultaneous steps): each participant judges one transition story per step, in an
   order drawn at reset: is the second value wiser than the first? ``upgrade`` / ``no_upgrade`` /
   ``not_sure``.

Tabular actions are ``{"card": c, "vote": v}`` in every step (``v`` = 0 upgrade, 1 no_upgrade,
2 not_sure); the articulate step reads ``card`` and a vote step reads ``vote``, so every member of
the space is a legal move (PettingZoo's parallel checks sample without masks). Every context then
offers the same number of cards.
3. the context's votes are aggregated into a moral graph (:mod:`.graph`: edge counts,
   wiserLikelihood, the entropy filter, weighted PageRank) and its top-ranked values win.

Payoff per context (given when its last vote is in): how well the winners represent the
participant: the share of the winning set (all top-ranked values, a tie is a set) that is the
participant's own card or reachable from it through transitions the participant voted ``upgrade``.
A participant with no valid card, or a context whose graph keeps no edge, scores 0.

Language-mode text that names no card, or no vote choice, is recorded as invalid and counts for
nothing; it is never guessed into a move. ``infos[agent]["legal_texts"]`` lists the moves an agent
may pick instead of writing (``card: <id>`` for each card of the context, or the three votes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
from gymnasium import spaces

from aligngames.envs.adapter import GameRules
from aligngames.envs.moral_graph import render
from aligngames.envs.moral_graph.graph import CHOICES, Vote, build_graph, rank_values, top_values
from aligngames.envs.moral_graph.library import Context, Library
from aligngames.game import Dynamics, GameInfo, Utility
from aligngames.text import check_discrete_action, check_text_action, observation_space, sanitize, text_space

MODES = ("tabular", "language")
STAGES = ("articulate", "vote")

#: observation["observation"] = [context index, stage (0 articulate / 1 vote), vote round,
#: own card index (-1 none), transition source index (-1), transition target index (-1), last context's payoff]
NUM_FEATURES = 7


@dataclass(frozen=True)
class CardChoice:
    """What a participant articulated: a card of the context (``None`` if the text named none)."""

    card: str | None
    text: str
    edit: str = ""


@dataclass(frozen=True)
class VoteRecord:
    """One participant's vote on one transition (``choice`` is ``None`` when the text was invalid)."""

    voter: str
    transition: int
    choice: str | None
    text: str


@dataclass
class ContextResult:
    """The outcome of one finished context."""

    context: str
    graph: nx.DiGraph
    ranks: dict[str, float]
    winners: frozenset[str]
    rewards: dict[str, float]


@dataclass
class _ContextState:
    articulations: dict[str, CardChoice] = field(default_factory=dict)
    votes: list[VoteRecord] = field(default_factory=list)


def _normalise(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().strip("\"'.!").strip().lower())


def parse_articulation(text: str, context: Context, library: Library) -> CardChoice:
    """Read ``card: <id or title>`` (the ``card:`` prefix is optional) and an optional ``edit:`` line."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return CardChoice(None, text)
    head = lines[0]
    prefix, sep, rest = head.partition(":")
    if sep and prefix.strip().lower() in ("card", "value", "pick"):
        head = rest
    key = _normalise(head)
    card = None
    for card_id in context.cards:
        if key in (card_id, _normalise(library.cards[card_id].title)):
            card = card_id
    edit = ""
    for index, line in enumerate(lines[1:], start=1):
        label, sep, remainder = line.partition(":")
        if sep and label.strip().lower() == "edit":
            edit = "\n".join([remainder.strip(), *lines[index + 1:]]).strip()
            break
    return CardChoice(card, text, edit)


def parse_vote(text: str) -> str | None:
    """``upgrade`` / ``no_upgrade`` / ``not_sure`` from the first line (spaces and hyphens read as
    underscores, case ignored); ``None`` for anything else."""
    lines = text.strip().splitlines()
    key = _normalise(lines[0]) if lines else ""
    return key if key in CHOICES else None


class MoralGraphRules(GameRules):
    """State and payoffs of a moral-graph deliberation.

    Args:
        library: the value cards and contexts.
        contexts: the contexts to play, in order.
        num_participants: ``n >= 2``.
        votes_per_participant: transitions each participant judges per context (all of them if None).
        mode: ``"tabular"`` (``Discrete`` actions with masks) or ``"language"`` (text actions).
        max_text_length: language mode: the longest action in characters.
    """

    def __init__(self, library: Library, contexts: Sequence[Context], num_participants: int,
                 votes_per_participant: int | None, mode: str, max_text_length: int) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
        if num_participants < 2:
            raise ValueError(f"num_participants must be >= 2, got {num_participants}")
        if votes_per_participant is not None and votes_per_participant < 1:
            raise ValueError(f"votes_per_participant must be >= 1 or None, got {votes_per_participant}")
        if max_text_length < 1:
            raise ValueError(f"max_text_length must be >= 1, got {max_text_length}")
        self.library = library
        self.contexts = tuple(contexts)
        self.mode = mode
        self.max_text_length = max_text_length
        self.votes_per_participant = votes_per_participant
        self.possible_agents = tuple(f"participant_{i}" for i in range(num_participants))
        self.game_info = GameInfo(num_participants, Utility.GENERAL_SUM, Dynamics.SIMULTANEOUS, symmetric=True)
        self.rounds = tuple(len(c.transitions) if votes_per_participant is None
                            else min(votes_per_participant, len(c.transitions)) for c in self.contexts)
        self.max_cards = max(len(c.cards) for c in self.contexts)
        if mode == "tabular" and len({len(c.cards) for c in self.contexts}) != 1:
            raise ValueError(f"tabular mode needs every context to offer the same number of cards (so every action is "
                             f"legal in every context); got {[(c.id, len(c.cards)) for c in self.contexts]}")
        high = float(max(len(self.contexts), self.max_cards, max(self.rounds), 1))
        card_text = max(sum(len(library.cards[card].text()) + 8 for card in c.cards) for c in self.contexts)
        story = max(len(t.story) for c in self.contexts for t in c.transitions)
        self.transcript_length = 1500 + card_text + story + 400 * len(self.contexts)
        observation = observation_space(NUM_FEATURES, self.transcript_length, low=-1.0, high=high)
        if mode == "tabular":
            # both parts in every step, the stage decides which one counts: every sample is legal
            action: spaces.Space = spaces.Dict({"card": spaces.Discrete(self.max_cards),
                                                "vote": spaces.Discrete(len(CHOICES))})
        else:
            action = text_space(max_text_length)
        self.observation_spaces = {agent: observation for agent in self.possible_agents}
        self.action_spaces = {agent: action for agent in self.possible_agents}
        self.context_index = 0
        self.stage = "articulate"
        self.vote_round = 0
        self.orders: list[dict[str, list[int]]] = []
        self.state = _ContextState()
        self.results: list[ContextResult] = []
        self.states: list[_ContextState] = []

    # --- spaces ---------------------------------------------------------------------------------
    # --- dynamics -------------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator) -> None:
        # the order in which each participant sees each context's transitions (first `rounds` shown)
        self.orders = [{agent: [int(i) for i in rng.permutation(len(context.transitions))[:rounds]]
                        for agent in self.possible_agents}
                       for context, rounds in zip(self.contexts, self.rounds)]
        self.context_index = 0
        self.stage = "articulate"
        self.vote_round = 0
        self.state = _ContextState()
        self.states = []
        self.results = []

    @property
    def context(self) -> Context:
        return self.contexts[self.context_index]

    def is_terminal(self) -> bool:
        return self.context_index >= len(self.contexts)

    def acting_agents(self) -> tuple[str, ...]:
        return () if self.is_terminal() else self.possible_agents

    def current_transition(self, agent: str) -> int:
        return self.orders[self.context_index][agent][self.vote_round]

    def check_action(self, agent: str, action: Any) -> Any:
        self.check_turn(agent)
        space = self.action_spaces[agent]
        if self.mode == "tabular":
            if not isinstance(action, Mapping) or set(action) != {"card", "vote"}:
                raise ValueError(f"agent {agent!r}: a tabular action is a dict {{'card': 0..{self.max_cards - 1}, "
                                 f"'vote': 0..{len(CHOICES) - 1}}}, got {action!r:.80}")
            card = check_discrete_action(action["card"], space["card"], f"{agent} (card)")
            vote = check_discrete_action(action["vote"], space["vote"], f"{agent} (vote)")
            if self.stage == "articulate":
                if card >= len(self.context.cards):  # contexts of a custom library may have fewer cards than max_cards
                    raise ValueError(f"agent {agent!r}: context {self.context.id!r} has {len(self.context.cards)} "
                                     f"cards; card {card} is out of range")
                return CardChoice(self.context.cards[card], self.context.cards[card])
            return CHOICES[vote]
        text = check_text_action(action, space, agent)
        if self.stage == "articulate":
            return parse_articulation(text, self.context, self.library)
        return (parse_vote(text), text)

    def apply(self, actions: Mapping[str, Any]) -> dict[str, float]:
        if self.stage == "articulate":
            self.state.articulations = dict(actions)
            self.stage = "vote"
            return dict.fromkeys(self.possible_agents, 0.0)
        for agent in self.possible_agents:
            choice, text = actions[agent] if self.mode == "language" else (actions[agent], actions[agent])
            self.state.votes.append(VoteRecord(agent, self.current_transition(agent), choice, text))
        self.vote_round += 1
        if self.vote_round < self.rounds[self.context_index]:
            return dict.fromkeys(self.possible_agents, 0.0)
        result = self._finish_context()
        self.results.append(result)
        self.states.append(self.state)
        self.state = _ContextState()
        self.context_index += 1
        self.stage = "articulate"
        self.vote_round = 0
        return result.rewards

    def votes(self, state: _ContextState, context: Context) -> list[Vote]:
        """The valid votes of one context as :class:`Vote` records."""
        votes = []
        for record in state.votes:
            if record.choice is not None:
                transition = context.transitions[record.transition]
                votes.append(Vote(record.voter, context.id, transition.source, transition.target, record.choice))
        return votes

    def _finish_context(self) -> ContextResult:
        context = self.context
        values = {card: self.library.cards[card].attributes() for card in context.cards}
        graph = build_graph(self.votes(self.state, context), values)
        ranks = rank_values(graph)
        winners = top_values(ranks)
        rewards = {agent: representation(self.state, context, agent, winners) for agent in self.possible_agents}
        return ContextResult(context.id, graph, ranks, winners, rewards)

    # --- observations ---------------------------------------------------------------------------
    def features(self, agent: str) -> np.ndarray:
        card, source, target = -1.0, -1.0, -1.0
        if not self.is_terminal():
            context = self.context
            choice = self.state.articulations.get(agent)
            if choice is not None and choice.card is not None:
                card = float(context.cards.index(choice.card))
            if self.stage == "vote":
                transition = context.transitions[self.current_transition(agent)]
                source, target = float(context.cards.index(transition.source)), float(context.cards.index(transition.target))
        last = self.results[-1].rewards[agent] if self.results else 0.0
        stage = 1.0 if self.stage == "vote" else 0.0
        return np.array([self.context_index, stage, self.vote_round, card, source, target, last], dtype=np.float32)

    def observe(self, agent: str) -> dict[str, Any]:
        return {"observation": self.features(agent),
                "transcript": sanitize(render.transcript(self, agent), self.transcript_length)}

    def agent_info(self, agent: str) -> dict[str, Any]:
        if self.is_terminal():
            return {"representation": [result.rewards[agent] for result in self.results]}
        context = self.context
        info: dict[str, Any] = {
            "stage": self.stage,
            "context": context.id,
            "cards": list(context.cards),
            "dimensions": list(self.library.dimensions),
            "card_dimensions": [list(self.library.cards[card].dimensions) for card in context.cards],
        }
        if self.stage == "vote":
            transition = context.transitions[self.current_transition(agent)]
            info["transition"] = [transition.source, transition.target]
        if self.mode == "language":
            moves = [f"card: {card}" for card in context.cards] if self.stage == "articulate" else list(CHOICES)
            moves = [move for move in moves if len(move) <= self.max_text_length]
            if moves:
                info["legal_texts"] = moves
        return info

    def render_text(self) -> str:
        return render.render_text(self)

    def record(self) -> dict[str, Any]:
        finished = [_context_record(context, state, result)
                    for context, state, result in zip(self.contexts, self.states, self.results)]
        return {
            "mode": self.mode,
            "contexts": finished,
            "returns": {agent: float(sum(r.rewards[agent] for r in self.results)) for agent in self.possible_agents},
        }

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "contexts": [c.id for c in self.contexts],
                "num_participants": len(self.possible_agents), "votes_per_participant": self.votes_per_participant}


def representation(state: _ContextState, context: Context, agent: str, winners: frozenset[str]) -> float:
    """Share of ``winners`` that is ``agent``'s card or reachable from it by upgrades ``agent`` voted for."""
    choice = state.articulations.get(agent)
    if not winners or choice is None or choice.card is None:
        return 0.0
    endorsed = nx.DiGraph()
    endorsed.add_node(choice.card)
    for record in state.votes:
        if record.voter == agent and record.choice == "upgrade":
            transition = context.transitions[record.transition]
            endorsed.add_edge(transition.source, transition.target)
    reachable = {choice.card} | nx.descendants(endorsed, choice.card)
    return len(winners & reachable) / len(winners)


def _context_record(context: Context, state: _ContextState, result: ContextResult) -> dict[str, Any]:
    return {
        "context": context.id,
        "articulations": {agent: {"card": c.card, "edit": c.edit, "text": c.text, "valid": c.card is not None}
                          for agent, c in state.articulations.items()},
        "votes": [{"voter": v.voter, "source": context.transitions[v.transition].source,
                   "target": context.transitions[v.transition].target, "choice": v.choice, "text": v.text}
                  for v in state.votes],
        "edges": [{"source": s, "target": t, **{k: data[k] for k in sorted(data) if k != "contexts"}}
                  for s, t, data in sorted(result.graph.edges(data=True))],
        "ranks": {node: result.ranks[node] for node in sorted(result.ranks)},
        "winners": sorted(result.winners),
        "rewards": dict(result.rewards),
    }
