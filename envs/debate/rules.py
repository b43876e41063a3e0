"""Rules of ``debate_v0`` in language mode (no PettingZoo here).

One episode is one item: a passage, a question, the correct answer and a distractor. The answers
are shown as A and B; which one is correct (``correct_position``) is drawn at reset unless fixed.

- ``debate``: ``debater_a`` defends A and ``debater_b`` defends B; ``rounds`` rounds, A then B in
  each, every argument cut to ``max_words`` words. Both see the passage; the judge does not.
- ``consultancy``: one ``consultant`` defends ``consultant_position`` (drawn unless fixed, so it
  argues for the wrong answer half of the time) for ``rounds`` arguments.
- ``blind``: no arguments; the judge sees only the question and the answers.

Quotes are verified against the passage (:mod:`aligngames.envs.debate.quotes`) and shown to the
judge marked. Then the judge answers A or B: a fixed :class:`~aligngames.envs.debate.judges.DebateJudge`
inside the env, or the ``judge`` seat (``judge="player"``), whose text reply is read by
:func:`~aligngames.envs.debate.judges.parse_verdict`. Payoffs: +1 to the debater (or consultant)
whose answer the judge picks and -1 to the other; the judge seat gets +1 when right and -1 when
wrong. A reply with no clear verdict is recorded as invalid: the debaters get 0 and the judge -1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from aligngames.envs.adapter import GameRules
from aligngames.envs.debate import render
from aligngames.envs.debate.items import DebateItem
from aligngames.envs.debate.judges import (
    POSITIONS,
    PROTOCOLS,
    Argument,
    DebateJudge,
    JudgeView,
    Verdict,
    judge_prompt,
    parse_verdict,
)
from aligngames.envs.debate.quotes import mark_quotes
from aligngames.game import Dynamics, GameInfo, Utility
from aligngames.text import check_text_action, observation_space, sanitize, text_space

SEAT_CODES = {"debater_a": 0, "debater_b": 1, "consultant": 2, "judge": 3}

#: observation["observation"] = [seat code, round, own position (0 = A, 1 = B, -1 none), episode over, own reward]
NUM_FEATURES = 5

_WORD_SPAN = re.compile(r"\S+")


def cut_to_words(text: str, max_words: int) -> tuple[str, bool]:
    """``text`` up to the end of its ``max_words``-th word (whitespace kept), and whether it was cut."""
    words = _WORD_SPAN.finditer(text)
    for count, match in enumerate(words, start=1):
        if count == max_words:
            if next(words, None) is None:
                return text, False
            return text[:match.end()], True
    return text, False


class DebateRules(GameRules):
    """State and payoffs of one debate, consultancy or blind-judge episode.

    Args:
        items: the questions to draw from.
        protocol: ``debate``, ``consultancy`` or ``blind``.
        judge: a fixed judge, or ``None`` for a ``judge`` seat.
        rounds: arguments per debater (or consultant).
        max_words: the word limit of one argument (longer ones are cut, and the cut is shown).
        max_argument_length: the longest argument in characters (the text action space).
        correct_position: ``"A"`` or ``"B"`` to fix where the correct answer is; ``None`` draws it.
        consultant_position: consultancy: the answer the consultant defends; ``None`` draws it.
    """

    game_info = GameInfo(2, Utility.ZERO_SUM, Dynamics.SEQUENTIAL)

    def __init__(self, items: tuple[DebateItem, ...], *, protocol: str = "debate", judge: DebateJudge | None,
                 rounds: int = 3, max_words: int = 150, max_argument_length: int = 1500,
                 correct_position: str | None = None, consultant_position: str | None = None) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")
        if not items:
            raise ValueError("a debate needs at least one item")
        if rounds < 1 and protocol != "blind":
            raise ValueError(f"rounds must be >= 1, got {rounds}")
        if max_words < 1 or max_argument_length < 1:
            raise ValueError("max_words and max_argument_length must be >= 1")
        for name, value in (("correct_position", correct_position), ("consultant_position", consultant_position)):
            if value is not None and value not in POSITIONS:
                raise ValueError(f"{name} must be 'A', 'B' or None, got {value!r}")
        if consultant_position is not None and protocol != "consultancy":
            raise ValueError("consultant_position only applies to protocol='consultancy'")
        self.items = items
        self.protocol = protocol
        self.judge = judge
        self.rounds = rounds if protocol != "blind" else 0
        self.max_words = max_words
        self.max_argument_length = max_argument_length
        self.fixed_correct_position = correct_position
        self.fixed_consultant_position = consultant_position
        self.speakers = {"debate": ("debater_a", "debater_b"), "consultancy": ("consultant",), "blind": ()}[protocol]
        self.possible_agents = self.speakers + (("judge",) if judge is None else ())
        # two debaters before a fixed judge are zero-sum; a judge seat or a lone consultant is not
        utility = Utility.ZERO_SUM if self.possible_agents == ("debater_a", "debater_b") else Utility.GENERAL_SUM
        self.game_info = GameInfo(max(len(self.possible_agents), 1), utility, Dynamics.SEQUENTIAL)
        longest_passage = max(len(item.passage) for item in items)
        shown_argument = int(1.3 * max_argument_length) + 80  # quote marks can lengthen an argument a little
        self.transcript_length = 2000 + longest_passage + len(self.speakers) * self.rounds * shown_argument
        high = float(max(self.rounds, 3))
        space = observation_space(NUM_FEATURES, self.transcript_length, low=-1.0, high=high)
        self.observation_spaces = dict.fromkeys(self.possible_agents, space)
        self.action_spaces = {seat: text_space(max_argument_length) for seat in self.speakers}
        if judge is None:
            self.action_spaces["judge"] = text_space(max_argument_length)
        self.item = items[0]
        self.correct_position = "A"
        self.consultant_position: str | None = None
        self.arguments: list[Argument] = []
        self.raw_arguments: list[str] = []
        self.verdict: Verdict | None = None
        self._rng = np.random.default_rng(0)

    # --- spaces ---------------------------------------------------------------------------------
    # --- the episode ----------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self.item = self.items[int(rng.integers(len(self.items)))]
        self.correct_position = self.fixed_correct_position or POSITIONS[int(rng.integers(2))]
        if self.protocol == "consultancy":
            self.consultant_position = self.fixed_consultant_position or POSITIONS[int(rng.integers(2))]
        self.arguments = []
        self.raw_arguments = []
        self.verdict = None
        if not self.acting_agents():  # blind protocol with a fixed judge: nothing to wait for
            self.verdict = self.judge.verdict(self.judge_view(), rng)

    @property
    def answers(self) -> tuple[str, str]:
        if self.correct_position == "A":
            return self.item.correct, self.item.distractor
        return self.item.distractor, self.item.correct

    def position_of(self, seat: str) -> str | None:
        if seat == "debater_a":
            return "A"
        if seat == "debater_b":
            return "B"
        if seat == "consultant":
            return self.consultant_position
        return None

    def arguments_done(self) -> bool:
        return len(self.arguments) >= len(self.speakers) * self.rounds

    def acting_agents(self) -> tuple[str, ...]:
        if self.verdict is not None:
            return ()
        if not self.arguments_done():
            return (self.speakers[len(self.arguments) % len(self.speakers)],)
        return ("judge",) if self.judge is None else ()

    def is_terminal(self) -> bool:
        return self.verdict is not None

    def check_action(self, agent: str, action: Any) -> str:
        self.check_turn(agent)
        return check_text_action(action, self.action_spaces[agent], agent)

    def apply(self, actions: Mapping[str, Any]) -> dict[str, float]:
        ((seat, text),) = actions.items()
        if seat == "judge":
            self.verdict = Verdict(parse_verdict(text), text)
            return self.payoffs()
        kept, truncated = cut_to_words(text, self.max_words)
        marked, quotes = mark_quotes(kept, self.item.passage)
        round_number = len(self.arguments) // len(self.speakers) + 1
        self.arguments.append(Argument(self.position_of(seat), round_number, marked, tuple(quotes), truncated))
        self.raw_arguments.append(kept)
        if self.arguments_done() and self.judge is not None:
            self.verdict = self.judge.verdict(self.judge_view(), self._rng)
            return self.payoffs()
        return dict.fromkeys(self.possible_agents, 0.0)

    def payoffs(self) -> dict[str, float]:
        """Each seat's payoff once the verdict is in (zeros before)."""
        payoffs = dict.fromkeys(self.possible_agents, 0.0)
        if self.verdict is None:
            return payoffs
        choice = self.verdict.choice
        if choice is not None:
            for seat in self.speakers:
                payoffs[seat] = 1.0 if self.position_of(seat) == choice else -1.0
        if "judge" in payoffs:
            payoffs["judge"] = 1.0 if choice == self.correct_position else -1.0
        return payoffs

    def judge_correct(self) -> bool | None:
        """Whether the verdict names the correct answer (``None`` before it or when invalid)."""
        if self.verdict is None or not self.verdict.valid:
            return None
        return self.verdict.choice == self.correct_position

    def judge_view(self) -> JudgeView:
        return JudgeView(self.protocol, self.item.question, self.answers, tuple(self.arguments),
                         self.consultant_position)

    # --- observations ---------------------------------------------------------------------------
    def observe(self, agent: str) -> dict[str, Any]:
        position = self.position_of(agent)
        current_round = min(len(self.arguments) // max(len(self.speakers), 1) + 1, self.rounds)
        features = np.array([SEAT_CODES[agent], current_round, -1.0 if position is None else POSITIONS.index(position),
                             float(self.is_terminal()), self.payoffs()[agent]], dtype=np.float32)
        if agent == "judge":
            text = judge_prompt(self.judge_view())
            if self.verdict is not None:
                text += "\n" + render.verdict_line(self)
        else:
            text = render.debater_prompt(self, agent)
        return {"observation": features, "transcript": sanitize(text, self.transcript_length)}

    def agent_info(self, agent: str) -> dict[str, Any]:
        if self.verdict is not None:
            return {"verdict": self.verdict.choice, "correct_position": self.correct_position,
                    "judge_correct": self.judge_correct()}
        if agent not in self.acting_agents():
            return {}
        info: dict[str, Any] = {"question": self.item.question, "answers": list(self.answers)}
        if agent != "judge":
            info.update(passage=self.item.passage, position=self.position_of(agent),
                        round=len(self.arguments) // len(self.speakers) + 1,
                        arguments=[[a.position, text] for a, text in zip(self.arguments, self.raw_arguments)])
        return info

    def render_text(self) -> str:
        return render.render_text(self)

    def record(self) -> dict[str, Any]:
        verdict = None
        if self.verdict is not None:
            verdict = {"choice": self.verdict.choice, "raw": self.verdict.raw, "tie": self.verdict.tie,
                       "scores": dict(self.verdict.scores) if self.verdict.scores is not None else None}
        return {
            "item": self.item.id,
            "protocol": self.protocol,
            "question": self.item.question,
            "answers": list(self.answers),
            "correct_position": self.correct_position,
            "consultant_position": self.consultant_position,
            "arguments": [{"position": a.position, "round": a.round, "text": text, "judge_sees": a.text,
                           "truncated": a.truncated, "quotes": [[q.text, q.verified] for q in a.quotes]}
                          for a, text in zip(self.arguments, self.raw_arguments)],
            "verdict": verdict,
            "judge_correct": self.judge_correct(),
            "payoffs": self.payoffs(),
        }

    def describe(self) -> dict[str, Any]:
        return {"mode": "language", "protocol": self.protocol, "rounds": self.rounds, "max_words": self.max_words,
                "judge": "player" if self.judge is None else self.judge.identity, "num_items": len(self.items)}
