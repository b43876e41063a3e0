"""Rules of ``safe_rlhf_v0``, tabular mode (no PettingZoo here).

Each round a prompt is drawn from ``prompt_probs``; at the same time the ``policy`` answers it
(``Discrete(num_answers)``, labelled in ``info["action_labels"]``) and the ``multiplier`` names its
``lambda`` (``Box(0, lambda_max, (1,))``). The policy gets ``r(x, y) - lambda (c(x, y) - d)`` and the
multiplier ``lambda (c(x, y) - d)`` (cost: higher is more harmful; the constraint is ``E[c] <= d``; both
stated in ``info``). The KL term ``-beta KL(pi || pi_ref)`` belongs to the policy's objective, not to a
sampled reward: the policy's ``info["reference"]`` carries ``pi_ref(.|x)`` for trainers that add it, and
the exact solver (:mod:`aligngames.solvers.exact.safe_rlhf`) includes it. The multiplier sees the history:
the last round's cost and the running mean cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from aligngames.envs.adapter import GameRules
from aligngames.envs.safe_rlhf.problems import SafeRLHFProblem
from aligngames.game import Dynamics, GameInfo, Utility
from aligngames.text import check_discrete_action, observation_space, sanitize

AGENTS = ("policy", "multiplier")
COST_SIGN = "higher cost is more harmful; the constraint is E[cost] <= threshold"


class LagrangianRules(GameRules):
    """What both modes share: the multiplier's seat, the rounds, the Lagrangian payoffs and the accounts.

    Subclasses set ``rounds``, ``lambda_max``, ``threshold`` (property or attribute), ``action_spaces``,
    keep ``history`` (one entry per round with ``multiplier``, ``reward``, ``cost`` and ``rewards``) and
    check the policy's action in :meth:`check_policy_action`.
    """

    game_info = GameInfo(2, Utility.GENERAL_SUM, Dynamics.SIMULTANEOUS)
    possible_agents = AGENTS
    rounds: int
    lambda_max: float
    round: int
    history: list[dict[str, Any]]

    @property
    def threshold(self) -> float:
        raise NotImplementedError

    def is_terminal(self) -> bool:
        return self.round >= self.rounds

    def acting_agents(self) -> tuple[str, ...]:
        return () if self.is_terminal() else AGENTS

    def check_policy_action(self, action: Any) -> Any:
        raise NotImplementedError

    def check_action(self, agent: str, action: Any) -> Any:
        self.check_turn(agent)
        if agent == "policy":
            return self.check_policy_action(action)
        try:
            value = np.asarray(action, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ValueError(f"agent 'multiplier': lambda is one number in [0, {self.lambda_max:g}], got "
                             f"{type(action).__name__}: {action!r:.80}") from None
        if value.shape != (1,) or not np.isfinite(value[0]) or not 0.0 <= value[0] <= float(self.action_spaces["multiplier"].high[0]):
            raise ValueError(f"agent 'multiplier': lambda must be one finite number in [0, {self.lambda_max:g}], "
                             f"got {value.tolist()}")
        return float(value[0])

    def settle(self, multiplier: float, reward: float, cost: float, **entry: Any) -> dict[str, float]:
        """Record a round judged ``reward`` and ``cost`` under ``multiplier``; return the Lagrangian payoffs."""
        excess = cost - self.threshold
        rewards = {"policy": reward - multiplier * excess, "multiplier": multiplier * excess}
        self.history.append({"round": self.round, **entry, "multiplier": multiplier, "reward": reward, "cost": cost,
                             "rewards": rewards})
        self.round += 1
        return rewards

    def multiplier_features(self) -> np.ndarray:
        """``[round, over, threshold, last cost, mean cost]`` (the costs of :meth:`multiplier_info`)."""
        costs = self.multiplier_info()["costs_so_far"]
        return np.array([self.round, float(self.is_terminal()), self.threshold, costs[-1] if costs else 0.0,
                         float(np.mean(costs)) if costs else 0.0], dtype=np.float32)

    def multiplier_info(self) -> dict[str, Any]:
        return {"costs_so_far": [entry["cost"] for entry in self.history], "lambda_max": self.lambda_max}

    def returns(self) -> dict[str, float]:
        return {agent: float(sum(entry["rewards"][agent] for entry in self.history)) for agent in self.possible_agents}

    #: What ``render()`` calls the game in its first line (the problem's name, or the mode).
    label: str

    def round_text(self, entry: dict[str, Any]) -> str:
        """One finished round in ``render()``."""
        raise NotImplementedError

    def render_text(self) -> str:
        lines = [f"=== safe_rlhf_v0 ({self.label}) round {min(self.round + 1, self.rounds)} of {self.rounds}, "
                 f"threshold {self.threshold:g}"]
        lines += [f"  round {entry['round'] + 1}: {self.round_text(entry)}" for entry in self.history]
        returns = self.returns()
        lines.append("returns: " + ", ".join(f"{agent} {value:+.4g}" for agent, value in returns.items()))
        return "\n".join(lines)


class SafeRLHFRules(LagrangianRules):
    """State and payoffs of one Safe-RLHF game.

    Args:
        problem: the prompts, answers and tables.
        rounds: rounds per episode (a fresh prompt each).
        lambda_max: the largest multiplier the seat may name.
    """

    def __init__(self, problem: SafeRLHFProblem, *, rounds: int = 1, lambda_max: float = 100.0) -> None:
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise ValueError(f"rounds must be an int >= 1, got {rounds!r}")
        if not (np.isfinite(lambda_max) and lambda_max > 0):
            raise ValueError(f"lambda_max must be a finite number > 0, got {lambda_max}")
        self.problem, self.rounds, self.lambda_max = problem, rounds, float(lambda_max)
        names = sum(len(name) + 4 for name in (*problem.prompts, *problem.answers))
        self.transcript_length = 900 + 6 * names + 30 * problem.num_prompts * problem.num_answers + rounds * 160
        self.observation_spaces = {
            "policy": observation_space(3 + problem.num_prompts, self.transcript_length),  # round, over, last lambda, prompt
            "multiplier": observation_space(5, self.transcript_length),  # round, over, threshold, last cost, mean cost
        }
        self.action_spaces = {"policy": spaces.Discrete(problem.num_answers),
                              "multiplier": spaces.Box(np.float32(0.0), np.float32(lambda_max), shape=(1,), dtype=np.float32)}
        self._rng = np.random.default_rng(0)
        self.round = 0
        self.prompt = 0
        self.history: list[dict[str, Any]] = []

    def reset(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self.round = 0
        self.history = []
        self.prompt = self._draw()

    def _draw(self) -> int:
        return int(self._rng.choice(self.problem.num_prompts, p=self.problem.prompt_probs))

    @property
    def threshold(self) -> float:
        return self.problem.threshold

    def check_policy_action(self, action: Any) -> int:
        return check_discrete_action(action, self.action_spaces["policy"], "policy")

    def apply(self, actions: Mapping[str, Any]) -> dict[str, float]:
        problem, x, y = self.problem, self.prompt, int(actions["policy"])
        rewards = self.settle(float(actions["multiplier"]), float(problem.rewards[x, y]), float(problem.costs[x, y]),
                              prompt=problem.prompts[x], answer=problem.answers[y])
        if not self.is_terminal():
            self.prompt = self._draw()
        return rewards

    def features(self, agent: str) -> np.ndarray:
        last = self.history[-1] if self.history else None
        if agent == "policy":
            prompt = np.zeros(self.problem.num_prompts)
            if not self.is_terminal():
                prompt[self.prompt] = 1.0
            return np.concatenate([[self.round, float(self.is_terminal()), last["multiplier"] if last else 0.0],
                                   prompt]).astype(np.float32)
        return self.multiplier_features()

    def observe(self, agent: str) -> dict[str, Any]:
        return {"observation": self.features(agent), "transcript": sanitize(self.transcript(agent), self.transcript_length)}

    def transcript(self, agent: str) -> str:
        problem = self.problem
        lines = [f"Safe-RLHF game ({problem.name}), round {min(self.round + 1, self.rounds)} of {self.rounds}. You are "
                 f"the {agent}. The policy maximises reward - lambda (cost - {problem.threshold:g}); the multiplier "
                 f"gets lambda (cost - {problem.threshold:g}). ({COST_SIGN}.)"]
        for entry in self.history:
            lines.append(f"  round {entry['round'] + 1}: prompt {entry['prompt']}, answer {entry['answer']}, lambda "
                         f"{entry['multiplier']:.4g}; reward {entry['reward']:g}, cost {entry['cost']:g}")
        if self.is_terminal():
            lines.append("The game is over.")
        elif agent == "policy":
            x = self.prompt
            lines.append(f"Prompt: {problem.prompts[x]}. Answers (reward, cost): " + ", ".join(
                f"{a} ({problem.rewards[x, k]:g}, {problem.costs[x, k]:g})" for k, a in enumerate(problem.answers)))
            lines.append(f"Choose: {', '.join(problem.answers)}")
        else:
            lines.append(f"Name lambda in [0, {self.lambda_max:g}].")
        return "\n".join(lines)

    def agent_info(self, agent: str) -> dict[str, Any]:
        if agent not in self.acting_agents():
            return {}
        info: dict[str, Any] = {"round": self.round, "threshold": self.problem.threshold, "cost_sign": COST_SIGN}
        if agent == "policy":
            x = self.prompt
            info.update(prompt=self.problem.prompts[x], action_labels=list(self.problem.answers),
                        rewards=self.problem.rewards[x].tolist(), costs=self.problem.costs[x].tolist(),
                        reference=self.problem.reference[x].tolist(), beta=self.problem.beta)
        else:
            info.update(self.multiplier_info())
        return info

    @property
    def label(self) -> str:
        return self.problem.name

    def round_text(self, entry: dict[str, Any]) -> str:
        return (f"{entry['prompt']} -> {entry['answer']}, lambda {entry['multiplier']:.4g}, reward {entry['reward']:g}, "
                f"cost {entry['cost']:g}")

    def record(self) -> dict[str, Any]:
        return {"problem": self.problem.name, "rounds": [dict(entry) for entry in self.history], "returns": self.returns()}

    def describe(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "lambda_max": self.lambda_max, "problem": self.problem.to_dict()}


class AdversarialSafeRLHFRules(SafeRLHFRules):
    """``safe_rlhf_v0`` with an ``adversary`` seat who picks the prompts the cost is measured on (a constrained
    red-team game; ``adversary=True``).

    Each round has two moves. First the adversary names a probe prompt (``Discrete(num_prompts)``). Then a
    seeded coin decides what the policy is asked: with probability ``1 - probe_rate`` a user prompt drawn from
    ``prompt_probs``, scored by its reward only (the policy gets ``r / (1 - probe_rate)``), with probability
    ``probe_rate`` the probe, scored by its cost only (the policy gets ``-lambda (c - d) / probe_rate``, the
    multiplier and the adversary ``lambda (c - d) / probe_rate``); the policy and the multiplier act at once.
    The policy sees the prompt, not the coin. The scaling makes one round's expected payoff the Lagrangian
    ``J_r(pi) - lambda (E_q E_pi[c] - d)`` with ``q`` the adversary's mixed strategy, so the policy's best
    reply on prompt ``x`` weighs ``p(x) r - lambda q(x) c``, the per-prompt Lagrangian of the robust constraint
    ``E_pi[c | x] <= d`` (solved exactly by :func:`aligngames.solvers.exact.safe_rlhf.solve_robust`).
    """

    possible_agents = ("adversary", *AGENTS)

    def __init__(self, problem: SafeRLHFProblem, *, rounds: int = 1, lambda_max: float = 100.0,
                 probe_rate: float = 0.5) -> None:
        super().__init__(problem, rounds=rounds, lambda_max=lambda_max)
        if not (np.isfinite(probe_rate) and 0.0 < probe_rate < 1.0):
            raise ValueError(f"probe_rate must be a number strictly between 0 and 1, got {probe_rate}")
        self.probe_rate = float(probe_rate)
        self.game_info = GameInfo(3, Utility.GENERAL_SUM, Dynamics.SIMULTANEOUS)
        self.observation_spaces["adversary"] = observation_space(5, self.transcript_length)
        self.action_spaces["adversary"] = spaces.Discrete(problem.num_prompts)
        self.probing: bool | None = None  # None: the adversary has not moved this round

    def reset(self, rng: np.random.Generator) -> None:
        super().reset(rng)
        self.probing = None

    def acting_agents(self) -> tuple[str, ...]:
        if self.is_terminal():
            return ()
        return ("adversary",) if self.probing is None else AGENTS

    def check_action(self, agent: str, action: Any) -> Any:
        if agent == "adversary":
            self.check_turn(agent)
            return check_discrete_action(action, self.action_spaces["adversary"], "adversary")
        return super().check_action(agent, action)

    def apply(self, actions: Mapping[str, Any]) -> dict[str, float]:
        if self.probing is None:
            user = self._draw()
            self.probing = bool(self._rng.random() < self.probe_rate)
            self.prompt = int(actions["adversary"]) if self.probing else user
            return {}
        problem, x, y = self.problem, self.prompt, int(actions["policy"])
        multiplier, reward, cost = float(actions["multiplier"]), float(problem.rewards[x, y]), float(problem.costs[x, y])
        if self.probing:
            charge = multiplier * (cost - self.threshold) / self.probe_rate
            rewards = {"adversary": charge, "policy": -charge, "multiplier": charge}
        else:
            rewards = {"adversary": 0.0, "policy": reward / (1.0 - self.probe_rate), "multiplier": 0.0}
        self.history.append({"round": self.round, "prompt": problem.prompts[x], "answer": problem.answers[y],
                             "probe": self.probing, "multiplier": multiplier, "reward": reward, "cost": cost,
                             "rewards": rewards})
        self.round += 1
        self.probing = None
        return rewards

    def features(self, agent: str) -> np.ndarray:
        if agent == "policy" and self.probing is None and not self.is_terminal():
            # between rounds the policy has no prompt yet
            last = self.history[-1] if self.history else None
            return np.concatenate([[self.round, 0.0, last["multiplier"] if last else 0.0],
                                   np.zeros(self.problem.num_prompts)]).astype(np.float32)
        return super().features("multiplier" if agent == "adversary" else agent)

    def transcript(self, agent: str) -> str:
        if agent != "adversary":
            return super().transcript(agent)
        problem = self.problem
        lines = [f"Safe-RLHF game with an adversary ({problem.name}), round {min(self.round + 1, self.rounds)} of "
                 f"{self.rounds}. You are the adversary: you name a probe prompt; with probability "
                 f"{self.probe_rate:g} the policy is asked it and you get lambda (cost - {problem.threshold:g}) / "
                 f"{self.probe_rate:g}. ({COST_SIGN}.)"]
        lines += [f"  round {entry['round'] + 1}: {self.round_text(entry)}" for entry in self.history]
        lines.append("The game is over." if self.is_terminal() else f"Choose: {', '.join(problem.prompts)}")
        return "\n".join(lines)

    def multiplier_info(self) -> dict[str, Any]:
        """The costs of the probe rounds only: those are the ones the constraint is measured on."""
        return {"costs_so_far": [entry["cost"] for entry in self.history if entry["probe"]],
                "lambda_max": self.lambda_max}

    def agent_info(self, agent: str) -> dict[str, Any]:
        if agent not in self.acting_agents():
            return {}
        if agent == "adversary":
            return {"round": self.round, "threshold": self.threshold, "cost_sign": COST_SIGN,
                    "action_labels": list(self.problem.prompts), "probe_rate": self.probe_rate,
                    **self.multiplier_info()}
        return super().agent_info(agent)

    def round_text(self, entry: dict[str, Any]) -> str:
        return ("probe " if entry["probe"] else "user ") + super().round_text(entry)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "adversary": True, "probe_rate": self.probe_rate}
