"""Tabular rules of ``aligner_v0`` (no PettingZoo here).

Each round of an :class:`~aligngames.envs.aligner.problems.AlignerProblem`:

- red team only: ``red`` picks the prompt ``x`` (``Discrete(num_prompts)``);
- the upstream seat (``policy``, or ``blue`` in the red-team mode) sees ``x`` and picks an answer ``y``
  (``Discrete(num_answers)``);
- the ``corrector`` sees ``(x, y)`` and picks the corrected answer ``y'`` (``Discrete(num_answers)``; ``y' = y``
  copies).

Payoffs: the judge scores the corrected answer, ``r(x, y')``; the upstream seat and the corrector both get it (a
team); red gets ``-r(x, y')`` (zero-sum against the team). The corrector's KL weight ``beta`` toward the copy prior
``mu0`` is part of the solver's objective (:mod:`aligngames.solvers.exact.aligner`), not of the env's rewards; the
infos carry ``copy_prior`` and ``beta`` for agents that use them. Rewards are paid when the corrector acts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from aligngames.envs.adapter import GameRules
from aligngames.envs.aligner.problems import AlignerProblem
from aligngames.game import Dynamics, GameInfo, Utility
from aligngames.text import check_discrete_action, observation_space, sanitize

COOPERATIVE_AGENTS = ("policy", "corrector")
RED_TEAM_AGENTS = ("red", "blue", "corrector")


class TabularAlignerRules(GameRules):
    """State and payoffs of a tabular Aligner game.

    Args:
        problem: the answers, rewards, upstream, ``eps`` and ``beta``.
        rounds: rounds per episode.
    """

    def __init__(self, problem: AlignerProblem, *, rounds: int = 1) -> None:
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise ValueError(f"rounds must be an int >= 1, got {rounds!r}")
        self.problem, self.rounds = problem, rounds
        self.red_team = problem.red_team
        self.upstream_seat = "blue" if self.red_team else "policy"
        self.possible_agents = RED_TEAM_AGENTS if self.red_team else COOPERATIVE_AGENTS
        self.game_info = (GameInfo(3, Utility.GENERAL_SUM, Dynamics.SEQUENTIAL) if self.red_team
                          else GameInfo(2, Utility.IDENTICAL, Dynamics.SEQUENTIAL))
        answers, prompts = problem.num_answers, problem.num_prompts
        labels = sum(len(name) + 4 for name in (*problem.answers, *problem.prompts))
        self.transcript_length = 600 + 2 * labels + 24 * prompts * answers + rounds * (160 + labels)
        # features: [round, over] + prompt one-hot (upstream, corrector) + answer one-hot (corrector)
        sizes = {"red": 2, self.upstream_seat: 2 + prompts, "corrector": 2 + prompts + answers}
        self.observation_spaces = {agent: observation_space(sizes[agent], self.transcript_length, low=0.0,
                                                            high=float(max(rounds, 1)))
                                   for agent in self.possible_agents}
        self.action_spaces = {agent: spaces.Discrete(answers) for agent in self.possible_agents}
        if self.red_team:
            self.action_spaces["red"] = spaces.Discrete(prompts)
        self._problem_data = problem.to_dict()
        self._prior = ((1.0 - problem.eps) * np.eye(answers) + problem.eps / answers).tolist()
        self.round = 0
        self.prompt: int | None = None
        self.answer: int | None = None
        self.history: list[dict[str, Any]] = []

    # --- dynamics -------------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator) -> None:
        self.round = 0
        self.history = []
        self._start_round()

    def _start_round(self) -> None:
        self.prompt = None if self.red_team else 0
        self.answer = None

    def is_terminal(self) -> bool:
        return self.round >= self.rounds

    def acting_agents(self) -> tuple[str, ...]:
        if self.is_terminal():
            return ()
        if self.prompt is None:
            return ("red",)
        return (self.upstream_seat,) if self.answer is None else ("corrector",)

    def check_action(self, agent: str, action: Any) -> int:
        self.check_turn(agent)
        return check_discrete_action(action, self.action_spaces[agent], agent)

    def apply(self, actions: Mapping[str, Any]) -> dict[str, float]:
        zero = dict.fromkeys(self.possible_agents, 0.0)
        if "red" in actions:
            self.prompt = int(actions["red"])
            return zero
        if self.upstream_seat in actions:
            self.answer = int(actions[self.upstream_seat])
            return zero
        correction = int(actions["corrector"])
        reward = float(self.problem.rewards[self.prompt, correction])
        rewards = {self.upstream_seat: reward, "corrector": reward}
        if self.red_team:
            rewards["red"] = -reward
        self.history.append({"round": self.round, "prompt": self.problem.prompts[self.prompt],
                             "answer": self.problem.answers[self.answer],
                             "correction": self.problem.answers[correction],
                             "answer_reward": float(self.problem.rewards[self.prompt, self.answer]),
                             "reward": reward, "rewards": rewards})
        self.round += 1
        self._start_round()
        return rewards

    # --- observations ---------------------------------------------------------------------------
    def features(self, agent: str) -> np.ndarray:
        """``[round, over]``, then the prompt one-hot (upstream seat and corrector) and the answer one-hot
        (corrector); all zeros before the choice is made."""
        parts = [np.array([self.round, float(self.is_terminal())])]
        if agent != "red":
            prompt = np.zeros(self.problem.num_prompts)
            if self.prompt is not None and not self.is_terminal():
                prompt[self.prompt] = 1.0
            parts.append(prompt)
        if agent == "corrector":
            answer = np.zeros(self.problem.num_answers)
            if self.answer is not None:
                answer[self.answer] = 1.0
            parts.append(answer)
        return np.concatenate(parts).astype(np.float32)

    def observe(self, agent: str) -> dict[str, Any]:
        return {"observation": self.features(agent),
                "transcript": sanitize(self.transcript(agent), self.transcript_length)}

    def transcript(self, agent: str) -> str:
        problem = self.problem
        lines = [f"Aligner game ({problem.name}), round {min(self.round + 1, self.rounds)} of {self.rounds}. "
                 f"You are the {agent}.",
                 f"Answers: {', '.join(problem.answers)}. The judge scores the corrected answer."]
        for prompt, rewards in zip(problem.prompts, problem.rewards):
            lines.append(f"  rewards for {prompt}: " + ", ".join(f"{a} {r:g}" for a, r in zip(problem.answers, rewards)))
        for entry in self.history:
            lines.append(f"  round {entry['round'] + 1}: prompt {entry['prompt']}; answer {entry['answer']}, "
                         f"corrected to {entry['correction']} (reward {entry['reward']:+.3g})")
        if self.is_terminal():
            lines.append("The game is over.")
        elif agent not in self.acting_agents():
            lines.append(f"Waiting for the {self.acting_agents()[0]}.")
        elif agent == "red":
            lines.append(f"Choose a prompt: {', '.join(problem.prompts)}")
        elif agent == self.upstream_seat:
            lines.append(f"Prompt {problem.prompts[self.prompt]}. Choose an answer.")
        else:
            lines.append(f"##Question: {problem.prompts[self.prompt]} ##Answer: {problem.answers[self.answer]} "
                         f"##Correction:")
        return "\n".join(lines)

    def agent_info(self, agent: str) -> dict[str, Any]:
        if agent not in self.acting_agents():
            return {}
        info: dict[str, Any] = {"problem": self._problem_data, "round": self.round}
        if agent == "red":
            info["action_labels"] = list(self.problem.prompts)
            return info
        info.update(prompt_index=self.prompt, action_labels=list(self.problem.answers))
        if agent == "corrector":
            info.update(answer_index=self.answer, copy_prior=self._prior[self.answer], beta=self.problem.beta)
        return info

    # --- accounts -------------------------------------------------------------------------------
    def returns(self) -> dict[str, float]:
        return {agent: float(sum(entry["rewards"][agent] for entry in self.history)) for agent in self.possible_agents}

    def render_text(self) -> str:
        lines = [f"=== aligner_v0 (tabular{', red team' if self.red_team else ''}, {self.problem.name}) "
                 f"round {min(self.round + 1, self.rounds)} of {self.rounds}"]
        for entry in self.history:
            lines.append(f"  round {entry['round'] + 1}: {entry['prompt']}: {entry['answer']} -> {entry['correction']}; "
                         f"reward {entry['reward']:+.4g} (uncorrected {entry['answer_reward']:+.4g})")
        if not self.is_terminal():
            lines.append(f"(waiting for the {self.acting_agents()[0]})")
        lines.append("returns: " + ", ".join(f"{agent} {value:+.4g}" for agent, value in self.returns().items()))
        return "\n".join(lines)

    def record(self) -> dict[str, Any]:
        return {"problem": self.problem.name, "mode": "tabular", "red_team": self.red_team,
                "rounds": [dict(entry) for entry in self.history], "returns": self.returns()}

    def describe(self) -> dict[str, Any]:
        return {"mode": "tabular", "rounds": self.rounds, "problem": self._problem_data}
