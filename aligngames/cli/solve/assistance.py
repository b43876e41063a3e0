"""exact POMDP solution of small assistance games (cirl_v0), with reward-learning and no-ask baselines

``aligngames solve assistance --scenario meal_choice --feedback-time 3`` prints the optimal value, the two
baselines, the optimal robot against a strategic human and the optimal plan
(:mod:`aligngames.solvers.exact.assistance`).
"""

from __future__ import annotations

import argparse

from aligngames.agents.assistance import HumanModel
from aligngames.envs.cirl.scenarios import SCENARIOS, build
from aligngames.runs import atomic_write_json
from aligngames.solvers.exact.assistance import evaluate, format_plan, solve, value_of_assistance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", default="meal_choice", choices=SCENARIOS)
    parser.add_argument("--feedback-time", type=int, default=None, help="first time step at which the human answers")
    parser.add_argument("--horizon", type=int, default=None)
    parser.add_argument("--discount", type=float, default=None)
    parser.add_argument("--human", default="truthful", choices=("truthful", "noisy", "boltzmann"),
                        help="the human model the robot plans with")
    parser.add_argument("--epsilon", type=float, default=0.1, help="noisy human: probability of a random answer")
    parser.add_argument("--beta", type=float, default=1.0, help="Boltzmann human: rationality")
    parser.add_argument("--json", default=None, help="also write the values and plan to this JSON file")


def run(args: argparse.Namespace) -> int:
    problem = build(args.scenario, feedback_time=args.feedback_time, horizon=args.horizon, discount=args.discount)
    human = HumanModel(args.human, epsilon=args.epsilon if args.human == "noisy" else 0.0,
                       beta=args.beta if args.human == "boltzmann" else 1.0)
    solution = solve(problem, human)
    plan = solution.plan()
    values = value_of_assistance(problem, human)
    against = {"strategic": evaluate(solution, "strategic")}
    lines = [
        f"{problem.name}: feedback_time {problem.feedback_time}, horizon {problem.horizon}, "
        f"gamma {problem.discount}, prior {dict(zip(problem.thetas, problem.prior.round(4).tolist()))}",
        f"human model: {human.describe()}",
        f"optimal value (assistance)        {values['anytime']:.4f}",
        f"reward learning first             {values['learning_first']:.4f}",
        f"never ask                         {values['never']:.4f}",
        f"value of assistance over reward learning {values['anytime'] - values['learning_first']:.4f}",
        f"optimal robot against a strategic human  {against['strategic']:.4f}",
        "optimal plan:",
        *format_plan(plan, 1),
    ]
    print("\n".join(lines))
    if args.json:
        atomic_write_json(args.json, {"problem": problem.describe(), "human": human.describe(), "values": values,
                                      "strategic": against["strategic"], "plan": None if plan is None else plan.to_dict()})
    return 0

