"""Rules of ``pareto_preference_v0``, tabular mode (no PettingZoo here).

Each round nature draws a user type, a preference vector ``w`` on the simplex (from the problem's
``weights`` / ``weight_probs``, or its grid); the ``policy`` sees ``w`` and answers (``Discrete(num_answers)``,
labelled in ``info["action_labels"]``). The judges score the answer with the reward vector ``r(a)``; the
policy is paid the scalarised reward ``s_w(r(a))`` (``w . r(a)``, or Tchebycheff's
``-max_i w_i (z*_i - r_i(a))``; :mod:`aligngames.envs.pareto_preference.problems`), and the round's record
and the next ``info`` carry the full reward vector. The KL term ``-beta KL(pi || pi_ref)`` belongs to the
policy's objective, not to a sampled reward: ``info["reference"]`` and ``info["beta"]`` carry it for
trainers that add it, and the exact solver (:mod:`aligngames.solvers.exact.pareto_preference`) includes it.

The policy's features are ``[round, over, w_1 .. w_K]``; the transcript says the same in words, with the
reward table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from aligngames.envs.adapter import GameRules
from aligngames.envs.pareto_preference.problems import ParetoPreferenceProblem
from aligngames.game import Dynamics, GameInfo, Utility
from aligngames.text import check_discrete_action, observation_space, sanitize

AGENTS = ("policy",)


class ParetoPreferenceRules(GameRules):
    """State and payoffs of one preference-conditioned game.

    Args:
        problem: the answers, objectives, reward table and user types.
        rounds: rounds per episode (a fresh user type each).
    """

    game_info = GameInfo(1, Utility.GENERAL_SUM, Dynamics.SIMULTANEOUS)
    possible_agents = AGENTS

    def __init__(self, problem: ParetoPreferenceProblem, *, rounds: int = 1) -> None:
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise ValueError(f"rounds must be an int >= 1, got {rounds!r}")
        self.problem, self.rounds = problem, rounds
        labels = sum(len(name) + 4 for name in (*problem.answers, *problem.objectives))
        self.transcript_length = 900 + 6 * labels + 12 * problem.num_answers * problem.num_objectives + rounds * 200
        self.observation_spaces = {"policy": observation_space(2 + problem.num_objectives, self.transcript_length)}
        self.action_spaces = {"policy": spaces.Discrete(problem.num_answers)}
        self._rng = np.random.default_rng(0)
        self.round = 0
        self.user = 0
        self.history: list[dict[str, Any]] = []

    def reset(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self.round = 0
        self.history = []
        self.user = self._draw()

    def _draw(self) -> int:
        return int(self._rng.choice(self.problem.num_types, p=self.problem.weight_probs))

    @property
    def weight(self) -> np.ndarray:
        """The current user's preference vector ``w``."""
        return self.problem.weights[self.user]

    def is_terminal(self) -> bool:
        return self.round >= self.rounds

    def acting_agents(self) -> tuple[str, ...]:
        return () if self.is_terminal() else AGENTS

    def check_action(self, agent: str, action: Any) -> Any:
        self.check_turn(agent)
        return check_discrete_action(action, self.action_spaces[agent], agent)

    def apply(self, actions: Mapping[str, Any]) -> dict[str, float]:
        problem, answer, weight = self.problem, int(actions["policy"]), self.weight
        vector = problem.rewards[answer]
        reward = float(problem.scalarised(weight)[answer])
        self.history.append({"round": self.round, "user": self.user, "weight": weight.tolist(),
                             "answer": problem.answers[answer], "reward_vector": vector.tolist(), "reward": reward})
        self.round += 1
        if not self.is_terminal():
            self.user = self._draw()
        return {"policy": reward}

    def features(self, agent: str) -> np.ndarray:
        weight = np.zeros(self.problem.num_objectives) if self.is_terminal() else self.weight
        return np.concatenate([[self.round, float(self.is_terminal())], weight]).astype(np.float32)

    def observe(self, agent: str) -> dict[str, Any]:
        return {"observation": self.features(agent), "transcript": sanitize(self.transcript(agent), self.transcript_length)}

    def transcript(self, agent: str) -> str:
        problem = self.problem
        rule = ("w . r" if problem.scalarisation == "linear" else
                "-max_i w_i (z*_i - r_i), z* = (" + ", ".join(f"{z:g}" for z in problem.ideal) + ")")
        lines = [f"Pareto preference game ({problem.name}), round {min(self.round + 1, self.rounds)} of {self.rounds}. "
                 f"You are the policy. Judges score your answer on {', '.join(problem.objectives)}; you are paid "
                 f"{rule} for the user's preference weights w."]
        for entry in self.history:
            lines.append(f"  round {entry['round'] + 1}: w (" + ", ".join(f"{x:.3g}" for x in entry["weight"])
                         + f"), answer {entry['answer']}, rewards (" + ", ".join(f"{x:g}" for x in entry["reward_vector"])
                         + f"), paid {entry['reward']:.4g}")
        if self.is_terminal():
            lines.append("The game is over.")
        else:
            lines.append("User weights: " + ", ".join(f"{o} {x:.3g}" for o, x in zip(problem.objectives, self.weight)))
            lines.append("Answers (" + ", ".join(problem.objectives) + "): " + ", ".join(
                f"{a} (" + ", ".join(f"{x:g}" for x in row) + ")" for a, row in zip(problem.answers, problem.rewards)))
            lines.append(f"Choose: {', '.join(problem.answers)}")
        return "\n".join(lines)

    def agent_info(self, agent: str) -> dict[str, Any]:
        info: dict[str, Any] = {}
        if self.history:
            info["last_reward_vector"] = list(self.history[-1]["reward_vector"])
        if agent not in self.acting_agents():
            return info
        problem = self.problem
        info.update(round=self.round, weight=self.weight.tolist(), user=self.user, objectives=list(problem.objectives),
                    action_labels=list(problem.answers), rewards=problem.rewards.tolist(),
                    reference=problem.reference.tolist(), beta=problem.beta, scalarisation=problem.scalarisation,
                    ideal=problem.ideal.tolist())
        return info

    def returns(self) -> dict[str, float]:
        return {"policy": float(sum(entry["reward"] for entry in self.history))}

    def render_text(self) -> str:
        lines = [f"=== pareto_preference_v0 ({self.problem.name}, {self.problem.scalarisation}) round "
                 f"{min(self.round + 1, self.rounds)} of {self.rounds}"]
        for entry in self.history:
            lines.append(f"  round {entry['round'] + 1}: w {[round(x, 3) for x in entry['weight']]} -> {entry['answer']}, "
                         f"rewards {entry['reward_vector']}, paid {entry['reward']:.4g}")
        lines.append(f"return: policy {self.returns()['policy']:+.4g}")
        return "\n".join(lines)

    def record(self) -> dict[str, Any]:
        return {"problem": self.problem.name, "rounds": [dict(entry) for entry in self.history], "returns": self.returns()}

    def describe(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "problem": self.problem.to_dict()}
