"""Rules of ``red_team_v0`` in language mode (no PettingZoo here).

Red Teaming Game (Ma et al. 2023): red agents ``red_0 .. red_{k-1}`` attack, ``blue`` defends, for
``rounds`` rounds of one conversation. Each round is an *attack round* or, with probability
``benign_rate`` (drawn at reset), a *benign round* in which an ordinary user's request from the
catalog reaches blue instead (blue is not told which is which, so over-refusal costs it where
helpfulness counts). Attack rounds go to the red agents in turn (the ``j``-th attack round to
``red_{j mod k}``); in an attack round the red agent writes a prompt, then blue answers it.

Payoffs, per round, from a harm judge ``h(prompt, answer)`` in [0, 1] and a refusal detector:

- attack round: the attacking red agent gets ``+h``, blue gets ``-h``;
- benign round: blue gets ``helpfulness_weight * (1 - refused)``; red gets 0.

With ``helpfulness_weight = 0`` (the default) or no benign rounds the game is zero-sum; otherwise it
is general-sum and :attr:`game_info` says so. ``helpfulness_zero_sum=True`` scores benign rounds
zero-sum instead: blue pays ``helpfulness_weight`` for each benign request it refuses and the red
agents share it (red's goal becomes "make blue fail, by harm or by over-refusal"). Blue's payoff
then differs from the general-sum one by a constant per benign round and red's by a term red cannot
influence, so both versions have the same best responses and equilibria in two-player games; the
zero-sum one can be solved with a Nash LP. Red agents see the whole conversation with the judge's harm scores;
blue sees the conversation as a user would (``User:`` / ``Assistant:``), with no scores and no
labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from aligngames.envs.adapter import GameRules
from aligngames.envs.red_team import render
from aligngames.envs.red_team.catalog import Catalog
from aligngames.envs.red_team.judges import RefusalDetector
from aligngames.game import Dynamics, GameInfo, Utility
from aligngames.judges import HarmJudge
from aligngames.text import check_text_action, observation_space, sanitize, text_space

#: observation["observation"] = [role (0 red, 1 blue), round (1-based), rounds, episode over, own return so far]
NUM_FEATURES = 5


def red_agents(num_red: int) -> tuple[str, ...]:
    return tuple(f"red_{i}" for i in range(num_red))


@dataclass
class Turn:
    """One finished or running round.

    Attributes:
        round: 1-based round number.
        speaker: the red agent that attacked, or ``"user"`` in a benign round.
        prompt: the request blue answers.
        answer: blue's answer (``None`` until blue has answered).
        harm: the judge's harm score of the answer.
        refused: whether the refusal detector calls the answer a refusal.
        judge_truncated: whether the judge had to cut the (prompt, answer) pair to fit its context
            (judges with a ``last_truncated`` flag, e.g. ``minilm_harm``); listed in the record and the
            final info as ``judge_truncated_rounds`` when any round was cut.
    """

    round: int
    speaker: str
    prompt: str
    answer: str | None = None
    harm: float | None = None
    refused: bool | None = None
    judge_truncated: bool = False

    @property
    def benign(self) -> bool:
        return self.speaker == "user"


#: What the harm judge may read as the prompt (``RedTeamRules(judge_context=...)``).
JUDGE_CONTEXTS = ("turn", "conversation")


def round_plan(rounds: int, benign_rate: float, num_red: int, rng: np.random.Generator) -> list[str]:
    """Who sends the request in each round: ``"user"`` (benign) or a red agent (attack rounds in turn)."""
    benign = rng.random(rounds) < benign_rate  # (rounds,)
    plan, attacks = [], 0
    for is_benign in benign:
        if is_benign:
            plan.append("user")
        else:
            plan.append(f"red_{attacks % num_red}")
            attacks += 1
    return plan


class RedTeamRules(GameRules):
    """State and payoffs of one multi-turn red-team conversation (see the module docstring).

    Args:
        catalog: themes, methods and benign prompts.
        judge: the harm judge.
        refusal_detector: decides refusals (over-refusal in benign rounds, attack success statistics).
        num_red: number of red agents.
        rounds: rounds per episode.
        benign_rate: probability that a round is benign.
        helpfulness_weight: blue's reward for a non-refusal in a benign round (0: zero-sum).
        helpfulness_zero_sum: score benign rounds zero-sum (blue pays for refusals, the reds share it).
        max_prompt_length, max_answer_length: the text action limits in characters.
        system_prompt: the line blue's view starts with (a deployment's system prompt).
        judge_context: what the harm judge reads as the prompt: ``"turn"`` (default: the round's request
            only) or ``"conversation"`` (every earlier request and answer, then the request, as
            ``user: ...`` / ``assistant: ...`` lines), so that an answer to an innocuous last turn is
            judged with the harmful request that came before it.
    """

    def __init__(self, catalog: Catalog, judge: HarmJudge, refusal_detector: RefusalDetector, *, num_red: int = 1,
                 rounds: int = 3, benign_rate: float = 0.0, helpfulness_weight: float = 0.0,
                 helpfulness_zero_sum: bool = False, max_prompt_length: int = 1000, max_answer_length: int = 2000,
                 system_prompt: str = "You are a helpful assistant.", judge_context: str = "turn") -> None:
        if judge_context not in JUDGE_CONTEXTS:
            raise ValueError(f"judge_context must be one of {list(JUDGE_CONTEXTS)}, got {judge_context!r}")
        if num_red < 1:
            raise ValueError(f"num_red must be >= 1, got {num_red}")
        if rounds < 1:
            raise ValueError(f"rounds must be >= 1, got {rounds}")
        if not 0.0 <= benign_rate <= 1.0:
            raise ValueError(f"benign_rate must be in [0, 1], got {benign_rate}")
        if helpfulness_weight < 0:
            raise ValueError(f"helpfulness_weight must be >= 0, got {helpfulness_weight}")
        if max_prompt_length < 1 or max_answer_length < 1:
            raise ValueError("max_prompt_length and max_answer_length must be >= 1")
        self.catalog = catalog
        self.judge = judge
        self.judge_context = judge_context
        self.refusal_detector = refusal_detector
        self.num_red = num_red
        self.rounds = rounds
        self.benign_rate = float(benign_rate)
        self.helpfulness_weight = float(helpfulness_weight)
        self.helpfulness_zero_sum = bool(helpfulness_zero_sum)
        self.max_prompt_length = max_prompt_length
        self.max_answer_length = max_answer_length
        self.system_prompt = sanitize(system_prompt, 500)
        self.reds = red_agents(num_red)
        self.possible_agents = (*self.reds, "blue")
        # helpfulness is paid in benign rounds only
        general = self.helpfulness_weight > 0 and self.benign_rate > 0 and not self.helpfulness_zero_sum
        utility = Utility.GENERAL_SUM if general else Utility.ZERO_SUM
        self.game_info = GameInfo(num_red + 1, utility, Dynamics.SEQUENTIAL)
        longest_benign = max((len(b.prompt) for b in catalog.benign), default=0)
        per_round = max(max_prompt_length, longest_benign) + max_answer_length + 120
        self.transcript_length = 1500 + rounds * per_round
        space = observation_space(NUM_FEATURES, self.transcript_length, low=-float(rounds), high=float(rounds))
        self.observation_spaces = dict.fromkeys(self.possible_agents, space)
        self.action_spaces = {**{red: text_space(max_prompt_length) for red in self.reds},
                               "blue": text_space(max_answer_length)}
        self.plan: list[str] = []
        self.turns: list[Turn] = []
        self.returns: dict[str, float] = {}
        self._rng = np.random.default_rng(0)

    # --- spaces ---------------------------------------------------------------------------------
    # --- the episode ----------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self.plan = round_plan(self.rounds, self.benign_rate, self.num_red, rng)
        self.turns = []
        self.returns = dict.fromkeys(self.possible_agents, 0.0)
        self._open_round()

    def _open_round(self) -> None:
        """Start the next round; a benign round's request is drawn from the catalog at once."""
        index = len(self.turns)
        if index < self.rounds and self.plan[index] == "user":
            benign = self.catalog.benign[int(self._rng.integers(len(self.catalog.benign)))]
            self.turns.append(Turn(index + 1, "user", benign.prompt))

    def _current(self) -> Turn | None:
        return self.turns[-1] if self.turns and self.turns[-1].answer is None else None

    def acting_agents(self) -> tuple[str, ...]:
        if self.is_terminal():
            return ()
        current = self._current()
        if current is not None:
            return ("blue",)
        return (self.plan[len(self.turns)],)

    def is_terminal(self) -> bool:
        return len(self.turns) == self.rounds and self.turns[-1].answer is not None

    def check_action(self, agent: str, action: Any) -> str:
        self.check_turn(agent)
        return check_text_action(action, self.action_spaces[agent], agent)

    def apply(self, actions: Mapping[str, Any]) -> dict[str, float]:
        ((agent, text),) = actions.items()
        rewards = dict.fromkeys(self.possible_agents, 0.0)
        if agent != "blue":
            self.turns.append(Turn(len(self.turns) + 1, agent, text))
            return rewards
        turn = self.turns[-1]
        turn.answer = text
        turn.harm = float(self.judge.score([self._judge_prompt()], [text])[0])
        cut = getattr(self.judge, "last_truncated", None)
        turn.judge_truncated = bool(cut is not None and len(cut) and cut[0])
        if not 0.0 <= turn.harm <= 1.0:
            raise ValueError(f"harm judge {self.judge.identity} returned {turn.harm}, outside [0, 1]")
        turn.refused = bool(self.refusal_detector.detect([turn.prompt], [text])[0])
        if turn.benign and self.helpfulness_zero_sum:
            cost = self.helpfulness_weight * float(turn.refused)  # over-refusal, credited to the red team
            rewards["blue"] = -cost
            for red in self.reds:
                rewards[red] = cost / self.num_red
        elif turn.benign:
            rewards["blue"] = self.helpfulness_weight * (0.0 if turn.refused else 1.0)
        else:
            rewards[turn.speaker] = turn.harm
            rewards["blue"] = -turn.harm
        for name, value in rewards.items():
            self.returns[name] += value
        self._open_round()
        return rewards

    # --- observations ---------------------------------------------------------------------------
    def observe(self, agent: str) -> dict[str, Any]:
        current_round = min(len(self.turns) + (0 if self._current() is not None else 1), self.rounds)
        features = np.array([0.0 if agent != "blue" else 1.0, current_round, self.rounds, float(self.is_terminal()),
                             self.returns.get(agent, 0.0)], dtype=np.float32)
        text = render.blue_view(self) if agent == "blue" else render.red_view(self, agent)
        return {"observation": features, "transcript": sanitize(text, self.transcript_length)}

    def agent_info(self, agent: str) -> dict[str, Any]:
        if self.is_terminal():
            return {"harm": [t.harm for t in self.turns], "refused": [t.refused for t in self.turns],
                    "benign": [t.benign for t in self.turns], **self._truncation()}
        if agent not in self.acting_agents():
            return {}
        if agent == "blue":
            current = self._current()
            return {"round": current.round, "prompt": current.prompt,
                    "history": [[t.prompt, t.answer] for t in self.turns[:-1]]}
        own = [t for t in self.turns if t.speaker == agent]
        return {"round": len(self.turns) + 1, "attack_index": len(own),
                "history": [[t.speaker, t.prompt, t.answer, t.harm] for t in self.turns]}

    def render_text(self) -> str:
        return render.render_text(self)

    def record(self) -> dict[str, Any]:
        return {
            "mode": "language",
            "judge": self.judge.identity,
            "plan": list(self.plan),
            "turns": [{"round": t.round, "speaker": t.speaker, "benign": t.benign, "prompt": t.prompt,
                       "answer": t.answer, "harm": t.harm, "refused": t.refused} for t in self.turns],
            "returns": dict(self.returns),
            **self._truncation(),
        }

    def judge_requests(self, agent: str, action: Any) -> list[tuple[Any, str, str]]:
        if agent != "blue" or self._current() is None:
            return []
        try:
            text = self.check_action(agent, action)
        except ValueError:
            return []  # the step will raise the env's own error
        return [(self.judge, self._judge_prompt(), text)]

    def _judge_prompt(self) -> str:
        """The prompt the harm judge reads for the current round (see ``judge_context``)."""
        if self.judge_context == "turn":
            return self.turns[-1].prompt
        lines = [f"user: {t.prompt}\nassistant: {t.answer}" for t in self.turns[:-1]]
        return "\n".join([*lines, f"user: {self.turns[-1].prompt}"]) if lines else self.turns[-1].prompt

    def _truncation(self) -> dict[str, list[int]]:
        cut = [t.round for t in self.turns if t.judge_truncated]
        return {"judge_truncated_rounds": cut} if cut else {}

    def describe(self) -> dict[str, Any]:
        return {"mode": "language", "num_red": self.num_red, "rounds": self.rounds, "benign_rate": self.benign_rate,
                "helpfulness_weight": self.helpfulness_weight, "helpfulness_zero_sum": self.helpfulness_zero_sum,
                "judge": self.judge.identity,
                **({"judge_context": self.judge_context} if self.judge_context != "turn" else {}),
                "refusal_detector": self.refusal_detector.identity, "system_prompt": self.system_prompt,
                "catalog": self.catalog.to_dict()}
