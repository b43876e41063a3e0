"""Scripted debaters for ``debate_v0``.

Language mode (they read the passage, question, answers, their position and the arguments so far
from ``info``, which the env gives the seat that acts):

- :class:`QuoteDebater` ``strategy="quote"``: quotes the passage sentence that contains its own
  answer and shares the most words with the question; in later rounds it points out opposing quotes
  that are not in the passage and quotes its next-best sentence. Honest when it holds the correct
  answer; when it holds the distractor it quotes real but beside-the-point sentences.
- ``strategy="fabricate"``: quotes the sentence most about the question, with its own answer
  written in place of the other one: an invented quote whenever it holds the wrong answer.
- :class:`AssertDebater`: states its answer and never quotes.

Tabular mode: :class:`GreedyRevealer` reveals the hidden feature that pushes ``w . x`` furthest
toward its own answer.

Recursive debate (``protocol="recursive"`` / ``"recursive_consultancy"``, either mode): :class:`ChainDebater`
states the true value at the asked step when its answer is the true one, and otherwise the value from which
the true steps lead to its current claim (a liar that stays consistent as long as it can).
"""

from __future__ import annotations

import re

import numpy as np

from aligngames.agent import Agent
from aligngames.envs.debate.recursive import consistent_value
from aligngames.text import sanitize

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z0-9]+")
_QUOTED = re.compile(r"<quote>(.*?)</quote>", re.DOTALL)
_COMMON = frozenset("the a an of in on at to is was were who what which where when did does how and by for".split())


def _words(text: str) -> set[str]:
    return {word for word in _WORD.findall(text.lower()) if word not in _COMMON}


def _require(info, agent: str) -> dict:
    needed = ("passage", "question", "answers", "position")
    if not info or any(key not in info for key in needed):
        raise ValueError(f"agent {agent!r}: a debater needs {list(needed)} in info (it plays debate_v0 language mode)")
    return info


class QuoteDebater(Agent):
    """A scripted debater that argues with quotes (see the module docstring).

    Args:
        strategy: ``"quote"`` (real sentences only) or ``"fabricate"`` (rewrites a sentence to fit).
    """

    STRATEGIES = ("quote", "fabricate")

    def __init__(self, strategy: str = "quote") -> None:
        super().__init__()
        if strategy not in self.STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; valid strategies: {list(self.STRATEGIES)}")
        self.strategy = strategy

    def ranked_sentences(self, info) -> list[str]:
        """Passage sentences for this debater's answer, best first."""
        passage, question = info["passage"], info["question"]
        own = info["answers"][0 if info["position"] == "A" else 1]
        other = info["answers"][1 if info["position"] == "A" else 0]
        question_words = _words(question)
        sentences = [s for s in _SENTENCE_END.split(passage) if s.strip()]
        if self.strategy == "quote":
            supporting = [s for s in sentences if own.lower() in s.lower()]
            return sorted(supporting, key=lambda s: -len(question_words & _words(s)))
        # fabricate: the sentences most about the question (naming an answer first), rewritten to name ours
        def relevance(sentence: str) -> tuple[int, int]:
            names_an_answer = own.lower() in sentence.lower() or other.lower() in sentence.lower()
            return (-int(names_an_answer), -len(question_words & _words(sentence)))

        ranked = sorted(sentences, key=relevance)
        rewritten = []
        for sentence in ranked:
            if own.lower() not in sentence.lower():
                sentence = re.sub(re.escape(other), own, sentence, flags=re.IGNORECASE)
            rewritten.append(sentence)
        return rewritten

    def act(self, observation, agent, action_space, info=None):
        info = _require(info, agent)
        position = info["position"]
        own = info["answers"][0 if position == "A" else 1]
        round_number = int(info.get("round", 1))
        sentences = self.ranked_sentences(info)
        parts = [f"Answer {position} ({own}) is correct."]
        if round_number > 1:
            passage = " ".join(info["passage"].split())
            invented = [q for side, text in info.get("arguments", []) if side != position
                        for q in _QUOTED.findall(text) if " ".join(q.split()) not in passage]
            if invented:
                parts.append(f"My opponent's quote \"{invented[-1][:80]}\" is not in the passage.")
        if sentences:
            chosen = sentences[min(round_number - 1, len(sentences) - 1)]
            parts.append(f"The passage says: <quote>{chosen}</quote>")
        else:
            parts.append("The passage supports this answer.")
        return sanitize(" ".join(parts), action_space.max_length)

    def describe(self):
        return {"class": "QuoteDebater", "strategy": self.strategy}


class AssertDebater(Agent):
    """States its answer with confidence and never quotes."""

    def act(self, observation, agent, action_space, info=None):
        info = _require(info, agent)
        position = info["position"]
        own = info["answers"][0 if position == "A" else 1]
        return sanitize(f"Answer {position} ({own}) is correct. I have read the passage and it is clear on this.",
                        action_space.max_length)


class GreedyRevealer(Agent):
    """Tabular debate: reveals the hidden feature with the largest ``w_i x_i`` toward its answer.

    Args:
        weights: the weights ``w`` to assume; by default those the env gives in ``info["weights"]``.
    """

    def __init__(self, weights: list[float] | None = None) -> None:
        super().__init__()
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)

    def act(self, observation, agent, action_space, info=None):
        features = np.asarray(observation["observation"], dtype=np.float64)
        n = action_space.n
        evidence, position = features[:n], round(features[3 * n])
        if self.weights is not None:
            weights = self.weights
        elif info and "weights" in info:
            weights = np.asarray(info["weights"], dtype=np.float64)
        else:
            raise ValueError(f"agent {agent!r}: GreedyRevealer needs weights (give them, or play debate_v0 tabular mode)")
        push = weights * evidence * (1.0 if position == 0 else -1.0)  # A wants w.x up, B down
        mask = np.asarray((info or {}).get("action_mask", np.ones(n)), dtype=bool)
        push[~mask] = -np.inf
        return int(np.argmax(push))

    def describe(self):
        return {"class": "GreedyRevealer", "weights": None if self.weights is None else self.weights.tolist()}


class ChainDebater(Agent):
    """Recursive debate's scripted debater (see the module docstring): an int in tabular mode, the value as text
    in language mode."""

    def act(self, observation, agent, action_space, info=None):
        info = info or {}
        tables = np.asarray(info["tables"])
        if agent == "consultant":
            step = info["step"]
            value = info["true_chain"][step] if info["honest"] else \
                consistent_value(tables, len(info["true_chain"]) - 1, info["answer"], step)
        elif info["honest"]:
            value = info["true_chain"][info["midpoint"]]
        else:  # the value at the midpoint that the true steps carry to its claim at hi
            value = consistent_value(tables, info["hi"], info["claim"], info["midpoint"])
        return str(value) if "legal_texts" in info else int(value)
