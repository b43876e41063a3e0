"""Generative social choice: a slate of k statements that represents n participants.

Fish, Gölz, Parkes, Procaccia, Rusak, Shapira & Wüthrich 2023 ("Generative Social Choice",
arXiv 2309.01291). Each participant ``i`` has a utility ``u_i(s)`` for every statement ``s`` on the
ordinal scale 0..4 (not at all / poorly / somewhat / mostly / perfectly represented). A slate is
``k`` statements; a balanced assignment gives each participant one slate statement, each slate
statement ``floor(n/k)`` or ``ceil(n/k)`` participants.

Greedy process (per round ``j = 1..k``):

1. coalition size ``r_j = ceil(n/k)`` for the first ``n - k*floor(n/k)`` rounds, ``floor(n/k)`` after;
2. candidates: the fixed statements plus (generative version) statements an LLM or an extractive
   generator writes for the still-unmatched participants;
3. score of a candidate = the ``r_j``-th highest utility among the unmatched participants
   (discriminative queries give the utilities);
4. put the best-scoring candidate on the slate and match it to the ``r_j`` unmatched participants who
   like it most; they leave the pool.

Equal scores go to the statement whose coalition has the larger total utility, then to the lowest
index; equal utilities at the cut to the lowest agent index. The guarantee below holds for every
tie-break. A statement may be chosen in several rounds (the slate is a multiset); with
every candidate available in every round, the greedy slate satisfies *balanced justified
representation* (BJR): no coalition ``S`` with ``|S| >= n/k``, statement ``a`` and level ``l`` has
``u_i(a) >= l > u_i(assigned(i))`` for every ``i`` in ``S``. (Proof: the first member of such an ``S``
to be matched is matched while all of ``S`` is unmatched, so the chosen statement scores at least
``l``, and everyone it matches rates it at least ``l``.) :func:`bjr_violation` searches for a violation
exhaustively.

Queries behind small protocols, so any model plugs in:

- a :class:`StatementGenerator` proposes statements for a group of participants;
  :class:`ExtractiveGenerator` (offline) proposes the participants' own sentences;
  :class:`AgentStatementGenerator` asks any text :class:`~aligngames.agent.Agent` (an LLM);
- a :class:`UtilityEstimator` rates every participant's approval of statements on 0..4;
  :class:`EmbeddingUtilityEstimator` (offline, MiniLM cosine similarity to the participant's own
  words, cut at fixed levels) or :class:`AgentUtilityEstimator` (an agent rates each participant
  and statement; the turn lists ``"0"``..``"4"`` in ``info["legal_texts"]``, so an LLM agent picks
  one by log-probability; a free-text reply that is not a rating is recorded as invalid, counted
  as 0 and reported in :attr:`GenerativeSlate.invalid_ratings`, never raised).

CLI: ``aligngames solve generative_social_choice --slate-size 4`` prints the slate for the shipped
congestion-charge population, each participant's assigned statement and rating.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from aligngames.agent import Turn
from aligngames.embeddings import embed
from aligngames.solvers.inputs import float_array
from aligngames.text import sanitize, text_space

log = logging.getLogger(__name__)

#: The approval scale, index = utility.
LEVELS = ("not at all", "poorly", "somewhat", "mostly", "perfectly")
MAX_UTILITY = len(LEVELS) - 1
#: What a :class:`UtilityEstimator` returns for a rating it could not read (a rater reply that is not
#: a rating). :func:`generative_slate` counts it as 0 and reports how many there were.
INVALID_RATING = -1
#: The replies a rater chooses among (``info["legal_texts"]`` of each rating turn).
RATING_OPTIONS = tuple(str(level) for level in range(len(LEVELS)))


# --- the greedy process on a utility matrix ---------------------------------------------------

def coalition_sizes(num_agents: int, slate_size: int) -> list[int]:
    """``r_j``: ``ceil(n/k)`` for the first ``n - k*floor(n/k)`` rounds, then ``floor(n/k)``."""
    if slate_size < 1:
        raise ValueError(f"slate_size must be >= 1, got {slate_size}")
    if num_agents < slate_size:
        raise ValueError(f"{num_agents} agents cannot fill a slate of {slate_size} (each statement needs >= 1 agent)")
    base, extra = divmod(num_agents, slate_size)
    return [base + 1] * extra + [base] * (slate_size - extra)


def greedy_round(utilities: np.ndarray, unmatched: np.ndarray, size: int) -> tuple[int, np.ndarray, int]:
    """One greedy round: ``(statement, matched agents, score)``.

    ``utilities`` is ``(agents, statements)``; ``unmatched`` a boolean mask over agents. The score of
    a statement is the ``size``-th highest utility among unmatched agents. Among the best-scoring
    statements the one whose top ``size`` unmatched agents have the largest total utility wins (then
    the lowest index); it is matched to the ``size`` unmatched agents who rate it highest (lowest
    index on ties).
    """
    pool = np.flatnonzero(unmatched)
    if size > pool.size:
        raise ValueError(f"a coalition of {size} from {pool.size} unmatched agents")
    ratings = utilities[pool]  # (unmatched agents, statements)
    top = -np.sort(-ratings, axis=0)[:size]  # (size, statements): each column's best `size` ratings
    scores, totals = top[size - 1], top.sum(axis=0)  # the size-th highest, and the coalition's total
    statement = int(np.lexsort((np.arange(scores.size), -totals, -scores))[0])
    order = np.lexsort((pool, -ratings[:, statement]))  # by rating desc, then agent index asc
    return statement, pool[order[:size]], int(scores[statement])


def greedy_slate(utilities: np.ndarray, slate_size: int) -> tuple[list[int], np.ndarray]:
    """Fish et al.'s greedy slate on a fixed utility matrix.

    Args:
        utilities: ``(agents, statements)`` utilities (any numbers; the paper uses 0..4).
        slate_size: ``k``.

    Returns:
        ``(slate, assignment)``: ``slate[j]`` is the statement chosen in round ``j`` (repeats allowed);
        ``assignment[i]`` is the slate position of agent ``i``'s statement.
    """
    utilities = float_array(utilities, "utilities", "an (agents, statements) utility matrix", ndim=2)
    num_agents = utilities.shape[0]
    unmatched = np.ones(num_agents, dtype=bool)
    assignment = np.full(num_agents, -1, dtype=np.int64)
    slate = []
    for position, size in enumerate(coalition_sizes(num_agents, slate_size)):
        statement, matched, _ = greedy_round(utilities, unmatched, size)
        slate.append(statement)
        assignment[matched] = position
        unmatched[matched] = False
    return slate, assignment


# --- balanced justified representation ---------------------------------------------------------

@dataclass(frozen=True)
class BJRViolation:
    """A coalition that BJR says deserved better.

    Attributes:
        coalition: the agents (at least n/k of them) ...
        statement: ... who all rate this statement ...
        level: ... at least this utility, while each rates their assigned statement below it.
    """

    coalition: tuple[int, ...]
    statement: int
    level: float


def check_balanced(assignment: np.ndarray, slate_size: int) -> None:
    """Raise ``ValueError`` unless every slate position has ``floor(n/k)`` or ``ceil(n/k)`` agents."""
    assignment = np.asarray(assignment)
    num_agents = assignment.size
    if np.any((assignment < 0) | (assignment >= slate_size)):
        raise ValueError(f"assignment entries must be slate positions 0..{slate_size - 1}")
    sizes = np.bincount(assignment, minlength=slate_size)
    low, high = num_agents // slate_size, -(-num_agents // slate_size)
    if np.any((sizes < low) | (sizes > high)):
        raise ValueError(f"the assignment is not balanced: coalition sizes {sizes.tolist()}, each must be {low} or {high}")


def bjr_violation(utilities: np.ndarray, slate: Sequence[int], assignment: np.ndarray) -> BJRViolation | None:
    """A BJR violation of ``(slate, assignment)`` or ``None`` if there is none.

    Exhaustive: for every statement ``a`` (every column of ``utilities``, on the slate or not) and
    every utility level ``l`` that occurs, the largest candidate coalition is
    ``S = {i : u_i(a) >= l > u_i(assigned(i))}``, and a violation exists iff some such ``S`` has
    ``|S| >= n/k``. Returns the largest such coalition (ties: lowest statement, then highest level).
    """
    utilities = np.asarray(utilities)
    num_agents, slate_size = utilities.shape[0], len(slate)
    check_balanced(assignment, slate_size)
    slate_array = np.asarray(slate)
    if np.any((slate_array < 0) | (slate_array >= utilities.shape[1])):
        raise ValueError(f"slate entries must be statement indices 0..{utilities.shape[1] - 1}")
    received = utilities[np.arange(num_agents), slate_array[assignment]]  # (agents,) utility of own statement
    best: BJRViolation | None = None
    for statement in range(utilities.shape[1]):
        for level in sorted(set(utilities[:, statement].tolist()), reverse=True):
            coalition = np.flatnonzero((utilities[:, statement] >= level) & (received < level))
            if coalition.size * slate_size >= num_agents and (best is None or coalition.size > len(best.coalition)):
                best = BJRViolation(tuple(int(i) for i in coalition), statement, float(level))
    return best


def bjr_violation_by_subsets(utilities: np.ndarray, slate: Sequence[int], assignment: np.ndarray,
                             max_agents: int = 14) -> BJRViolation | None:
    """The same question answered from the definition: every coalition ``S`` of size ``>= n/k``,
    every statement, every level. Exponential; for checking :func:`bjr_violation` on small instances."""
    utilities = np.asarray(utilities)
    num_agents, slate_size = utilities.shape[0], len(slate)
    if num_agents > max_agents:
        raise ValueError(f"subset enumeration over {num_agents} agents is too slow (limit {max_agents})")
    check_balanced(assignment, slate_size)
    received = utilities[np.arange(num_agents), np.asarray(slate)[assignment]]
    minimum = math.ceil(num_agents / slate_size)
    for size in range(num_agents, minimum - 1, -1):
        for coalition in itertools.combinations(range(num_agents), size):
            members = list(coalition)
            for statement in range(utilities.shape[1]):
                level = utilities[members, statement].min()  # the best level all of S reach on it
                if np.all(received[members] < level):
                    return BJRViolation(coalition, statement, float(level))
    return None


# --- participants and queries ---------------------------------------------------------------------

@dataclass(frozen=True)
class Participant:
    """One person in the population: a name and their opinion in their own words."""

    name: str
    opinion: str


@dataclass(frozen=True)
class Population:
    """A question and the participants' written opinions on it."""

    name: str
    question: str
    participants: tuple[Participant, ...]

    @classmethod
    def from_json(cls, path: str | Path) -> Population:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls._from_data(data, str(path))

    @classmethod
    def _from_data(cls, data: dict[str, Any], where: str) -> Population:
        try:
            people = tuple(Participant(str(p["name"]), str(p["opinion"])) for p in data["participants"])
            return cls(str(data["name"]), str(data["question"]), people)
        except (KeyError, TypeError) as error:
            raise ValueError(f"{where}: a population needs name, question and participants "
                             f"[{{name, opinion}}, ...]: {error}") from error


POPULATIONS = ("congestion_charge",)


def load_population(name: str = "congestion_charge") -> Population:
    """A shipped example population (fictional, written for aligngames)."""
    if name not in POPULATIONS:
        raise ValueError(f"unknown population {name!r}; shipped populations: {list(POPULATIONS)} "
                         f"(or load your own with Population.from_json)")
    text = resources.files("aligngames.solvers.social_choice").joinpath("data", f"gsc_{name}.json").read_text(encoding="utf-8")
    return Population._from_data(json.loads(text), name)


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (split after ``.``, ``!`` or ``?`` followed by space)."""
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]


class StatementGenerator(Protocol):
    """Generative query: statements that many of ``participants`` would endorse."""

    def __call__(self, participants: Sequence[Participant], question: str, rng: np.random.Generator) -> list[str]: ...


class UtilityEstimator(Protocol):
    """Discriminative query: an ``(participants, statements)`` integer array of ratings in 0..4
    (:data:`INVALID_RATING` where a rating could not be read)."""

    def __call__(self, participants: Sequence[Participant], question: str, statements: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class ExtractiveGenerator:
    """Proposes the participants' own words: each whole opinion and each of its sentences
    (deduplicated, in order). An offline stand-in for an LLM generator: with a good estimator the
    greedy round then picks the piece of text that the next coalition endorses most.

    Attributes:
        whole_opinions: propose whole opinions as well as single sentences.
    """

    whole_opinions: bool = True

    def __call__(self, participants: Sequence[Participant], question: str, rng: np.random.Generator) -> list[str]:
        seen: dict[str, None] = {}
        for participant in participants:
            if self.whole_opinions:
                seen.setdefault(participant.opinion.strip())
            for sentence in split_sentences(participant.opinion):
                seen.setdefault(sentence)
        return list(seen)


@dataclass(frozen=True)
class EmbeddingUtilityEstimator:
    """Rates approval by MiniLM similarity between a statement and the participant's own words.

    Every text about one question shares its topic, so raw cosines are all high; the estimator
    subtracts the mean embedding of the participants' opinions from every vector (and renormalises)
    so that what remains is what distinguishes one view from another. similarity(i, s) = the largest
    centred cosine between ``s`` and participant ``i``'s whole opinion or any of its sentences; the
    rating is the number of ``cut_points`` it reaches (0..4), so a participant's own sentence gets 4.

    This is a topical proxy, not a reader: it cannot tell "charge drivers" from "don't charge
    drivers" as well as an LLM rater can (:class:`AgentUtilityEstimator`).

    Attributes:
        cut_points: four increasing centred similarities for ratings 1, 2, 3, 4.
    """

    cut_points: tuple[float, float, float, float] = (0.0, 0.2, 0.4, 0.6)

    def __post_init__(self) -> None:
        if len(self.cut_points) != MAX_UTILITY or list(self.cut_points) != sorted(self.cut_points):
            raise ValueError(f"cut_points must be {MAX_UTILITY} increasing similarities, got {self.cut_points}")

    def similarity(self, participants: Sequence[Participant], statements: Sequence[str]) -> np.ndarray:
        """``(participants, statements)`` centred cosine similarities in [-1, 1]."""
        pieces, owner = [], []
        for index, participant in enumerate(participants):
            for text in [participant.opinion, *split_sentences(participant.opinion)]:
                pieces.append(text)
                owner.append(index)
        vectors = embed([*pieces, *statements]).astype(np.float64)  # unit vectors, (pieces + statements, 384)
        opinions = vectors[[pieces.index(p.opinion) for p in participants]]
        vectors = vectors - opinions.mean(axis=0)  # remove the shared topic direction
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        piece_vectors, statement_vectors = vectors[: len(pieces)], vectors[len(pieces):]
        cosine = piece_vectors @ statement_vectors.T  # (pieces, statements)
        result = np.full((len(participants), len(statements)), -1.0)
        np.maximum.at(result, np.asarray(owner), cosine)  # max over each participant's pieces
        return result

    def __call__(self, participants: Sequence[Participant], question: str, statements: Sequence[str]) -> np.ndarray:
        if not statements:
            return np.zeros((len(participants), 0), dtype=np.int64)
        similarity = self.similarity(participants, statements)
        return np.searchsorted(np.asarray(self.cut_points), similarity, side="right").astype(np.int64)


def _text_observation(prompt: str) -> dict[str, Any]:
    """A prompt in the library's text-observation layout (``{"observation", "transcript"}``), so any
    agent that plays the envs' language modes can answer it."""
    return {"observation": np.zeros(1, dtype=np.float32), "transcript": sanitize(prompt, 20_000)}


GENERATOR_PROMPT = (
    "Question: {question}\n\nOpinions of {count} participants:\n{opinions}\n\n"
    "Write ONE statement, one or two sentences, that as many of these participants as possible would "
    "say represents their view. Reply with the statement only."
)
RATING_PROMPT = (
    "Question: {question}\n\nA participant wrote: \"{opinion}\"\n\nStatement: \"{statement}\"\n\n"
    "How well does the statement represent this participant's opinion? Reply with one digit: "
    "0 = not at all, 1 = poorly, 2 = somewhat, 3 = mostly, 4 = perfectly."
)


@dataclass
class AgentStatementGenerator:
    """Generative query answered by any text agent (e.g. the ``llm`` agent): one statement per call.

    Attributes:
        agent: an :class:`~aligngames.agent.Agent` that answers a text observation with text.
        max_length: the longest statement accepted, in characters.
    """

    agent: Any
    max_length: int = 400

    def __call__(self, participants: Sequence[Participant], question: str, rng: np.random.Generator) -> list[str]:
        opinions = "\n".join(f"- {p.opinion}" for p in participants)
        observation = _text_observation(
            GENERATOR_PROMPT.format(question=question, count=len(participants), opinions=opinions))
        reply = self.agent.act(observation, "generator", text_space(self.max_length), {})
        if not isinstance(reply, str) or not reply.strip():
            raise ValueError(f"the generator agent returned no statement: {reply!r}")
        return [sanitize(reply.strip(), self.max_length)]


_RATING_WORDS = {word: value for value, word in enumerate(LEVELS)}


def parse_rating(reply: str) -> int:
    """Read a rating 0..4 from a model's reply: a single digit (optionally followed by punctuation or
    an explanation) or one of the level names. Anything else raises ``ValueError``."""
    if not isinstance(reply, str):
        raise ValueError(f"a rating reply must be text, got {type(reply).__name__}: {reply!r}")
    text = reply.strip().lower()
    match = re.fullmatch(r"([0-4])(?:\s*(?:/\s*4|[.):,;-])?(?:\s.*)?)?", text, flags=re.DOTALL)
    if match:
        return int(match.group(1))
    words = text.rstrip(".!").strip()
    if words in _RATING_WORDS:
        return _RATING_WORDS[words]
    raise ValueError(f"cannot read a rating 0-4 from the reply {reply[:120]!r}")


def read_rating(reply: Any) -> int:
    """:func:`parse_rating` for a rater's reply, with :data:`INVALID_RATING` for text that is not a
    rating. A reply that is not text at all is an agent error and raises ``ValueError``."""
    if not isinstance(reply, str):
        raise ValueError(f"the rating agent returned {type(reply).__name__} {reply!r:.80}, expected text")
    try:
        return parse_rating(reply)
    except ValueError:
        return INVALID_RATING


@dataclass
class AgentUtilityEstimator:
    """Discriminative query answered by any text agent: one prompt per (participant, statement),
    asked in one ``act_batch`` call.

    Each turn's ``info["legal_texts"]`` is :data:`RATING_OPTIONS`, so an LLM agent (``choose_legal_texts``,
    the default) picks a rating by log-probability and every reply is valid. A free-text reply is
    read with :func:`parse_rating`; one that is not a rating becomes :data:`INVALID_RATING` (logged,
    and counted in :attr:`GenerativeSlate.invalid_ratings`).
    """

    agent: Any

    def __call__(self, participants: Sequence[Participant], question: str, statements: Sequence[str]) -> np.ndarray:
        turns, space = [], text_space(40)
        for participant in participants:
            for statement in statements:
                observation = _text_observation(RATING_PROMPT.format(
                    question=question, opinion=participant.opinion, statement=statement))
                turns.append(Turn(observation, "rater", space, {"legal_texts": list(RATING_OPTIONS)}))
        if not turns:
            return np.zeros((len(participants), len(statements)), dtype=np.int64)
        replies = self.agent.act_batch(turns)
        if len(replies) != len(turns):
            raise ValueError(f"the rating agent answered {len(replies)} of {len(turns)} prompts")
        ratings = np.array([read_rating(reply) for reply in replies], dtype=np.int64)
        for reply in (r for r, rating in zip(replies, ratings) if rating == INVALID_RATING):
            log.warning("the rating agent's reply %r is not a rating 0-4; recorded as invalid", reply[:120])
        return ratings.reshape(len(participants), len(statements))


# --- the generative process ----------------------------------------------------------------------

@dataclass(frozen=True)
class GenerativeSlate:
    """The result of :func:`generative_slate`.

    Attributes:
        population: the participants and question.
        statements: every statement considered (fixed ones first, then generated ones in order).
        utilities: ``(participants, statements)`` ratings 0..4 from the estimator (0 where it
            could not read one).
        slate: statement indices chosen in rounds ``0..k-1``.
        assignment: each participant's slate position.
        invalid: ``(participants, statements)`` bool, True where the estimator returned
            :data:`INVALID_RATING` (the utility there is 0).
    """

    population: Population
    statements: tuple[str, ...]
    utilities: np.ndarray
    slate: tuple[int, ...]
    assignment: np.ndarray
    invalid: np.ndarray

    @property
    def invalid_ratings(self) -> int:
        """How many ratings the estimator could not read (each counted as 0)."""
        return int(self.invalid.sum())

    def assigned_ratings(self) -> np.ndarray:
        """``(participants,)`` each participant's rating of their assigned statement."""
        chosen = np.asarray(self.slate)[self.assignment]
        return self.utilities[np.arange(len(self.assignment)), chosen]

    def bjr_violation(self) -> BJRViolation | None:
        """A BJR violation among the statements considered (``None`` if there is none)."""
        return bjr_violation(self.utilities, self.slate, self.assignment)

    def report(self) -> str:
        people = self.population.participants
        lines = [f"Question: {self.population.question}",
                 f"Slate of {len(self.slate)} statements for {len(people)} participants "
                 f"({len(self.statements)} statements considered):"]
        for position, statement in enumerate(self.slate):
            lines.append(f"\n[{position + 1}] {self.statements[statement]}")
            for agent in np.flatnonzero(self.assignment == position):
                rating = int(self.utilities[agent, statement])
                lines.append(f"    {people[agent].name:<12} {rating} ({LEVELS[rating]})")
        ratings = self.assigned_ratings()
        lines.append(f"\nmean rating of the assigned statement {ratings.mean():.2f}; "
                     f"ratings {np.bincount(ratings, minlength=len(LEVELS)).tolist()} for levels 0..4")
        lines.append(f"invalid ratings (replies that were not a rating, counted as 0): "
                     f"{self.invalid_ratings} of {self.invalid.size}")
        violation = self.bjr_violation()
        if violation is None:
            lines.append("BJR: no violation among the statements considered")
        else:
            names = ", ".join(people[i].name for i in violation.coalition)
            lines.append(f"BJR violation: {names} all rate statement {violation.statement} >= {violation.level:g} "
                         f"but their own below it")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        people = self.population.participants
        return {
            "population": self.population.name,
            "question": self.population.question,
            "statements": list(self.statements),
            "utilities": self.utilities.tolist(),
            "invalid_ratings": self.invalid_ratings,
            "invalid": [[people[i].name, int(s)] for i, s in zip(*np.nonzero(self.invalid))],
            "slate": [self.statements[s] for s in self.slate],
            "assignment": {people[i].name: {"position": int(p), "rating": int(r)}
                           for i, (p, r) in enumerate(zip(self.assignment, self.assigned_ratings()))},
        }


def generative_slate(population: Population, slate_size: int, generator: StatementGenerator,
                     estimator: UtilityEstimator, rng: np.random.Generator,
                     fixed_statements: Sequence[str] = ()) -> GenerativeSlate:
    """Fish et al.'s process with generative queries: each round the generator writes statements for
    the unmatched participants, the estimator rates them for every participant, and the greedy round
    picks among all statements so far. A rating the estimator could not read (:data:`INVALID_RATING`)
    counts as 0 ("not at all") and is reported in :attr:`GenerativeSlate.invalid_ratings`."""
    people = population.participants
    num_people = len(people)
    statements: list[str] = []
    utilities = np.zeros((num_people, 0), dtype=np.int64)
    invalid = np.zeros((num_people, 0), dtype=bool)

    def add(new: Sequence[str]) -> None:
        nonlocal utilities, invalid
        fresh = [s for s in dict.fromkeys(new) if s not in statements]
        if fresh:
            ratings = np.asarray(estimator(people, population.question, fresh))
            if ratings.shape != (num_people, len(fresh)):
                raise ValueError(f"the estimator returned shape {ratings.shape}, expected {(num_people, len(fresh))}")
            unread = ratings == INVALID_RATING
            if np.any(((ratings < 0) | (ratings > MAX_UTILITY)) & ~unread):
                raise ValueError(f"the estimator returned ratings outside 0..{MAX_UTILITY} "
                                 f"(or {INVALID_RATING} for a rating it could not read)")
            statements.extend(fresh)
            utilities = np.hstack([utilities, np.where(unread, 0, ratings).astype(np.int64)])
            invalid = np.hstack([invalid, unread])

    add(fixed_statements)
    unmatched = np.ones(num_people, dtype=bool)
    assignment = np.full(num_people, -1, dtype=np.int64)
    slate = []
    for position, size in enumerate(coalition_sizes(num_people, slate_size)):
        add(generator([people[i] for i in np.flatnonzero(unmatched)], population.question, rng))
        if not statements:
            raise ValueError("no statements to choose from: the generator proposed none and there are no fixed ones")
        statement, matched, score = greedy_round(utilities, unmatched, size)
        log.info("round %d: statement %d scores %d for a coalition of %d", position, statement, score, size)
        slate.append(statement)
        assignment[matched] = position
        unmatched[matched] = False
    return GenerativeSlate(population, tuple(statements), utilities, tuple(slate), assignment, invalid)
