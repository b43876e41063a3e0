"""IDA / recursive reward modelling (amplification_v0): exact accuracy by depth, fixed points and the error threshold, the compute / oversight trade-off

``aligngames solve amplification --depth 5 --branching 3 --rule vote --distillation-error 0.05 --json out.json``
prints the distilled and amplified accuracy at every depth, the fixed points of the per-level map with their
stability, the limit accuracy and (for ``vote``) the noise threshold, and the trade-off table (model calls,
overseer calls, accuracy per number of amplified levels) of :mod:`aligngames.solvers.exact.amplification`.
``--reward-model-error`` (and ``--policy-error``) add the recursive-reward-modelling accuracies.
``--json FILE`` writes the result.
"""

from __future__ import annotations

import argparse

from aligngames.envs.amplification.problems import RULES, AmplificationProblem
from aligngames.runs import atomic_write_json
from aligngames.solvers.exact.amplification import solve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--depth", type=int, default=5, help="depth of the root task (default: %(default)s)")
    parser.add_argument("--branching", type=int, default=3, help="subtasks per task (default: %(default)s)")
    parser.add_argument("--rule", choices=RULES, default="vote", help="how subtask answers combine (default: %(default)s)")
    parser.add_argument("--base-accuracy", type=float, default=0.9, help="M_0's accuracy on leaves (default: %(default)s)")
    parser.add_argument("--distillation-error", type=float, default=0.05,
                        help="probability a distilled copy flips the amplified answer (default: %(default)s)")
    parser.add_argument("--overseer-error", type=float, default=0.0,
                        help="probability the overseer's combination is wrong (default: %(default)s)")
    parser.add_argument("--reward-model-error", type=float, default=None,
                        help="also report recursive reward modelling with this reward-model error")
    parser.add_argument("--policy-error", type=float, default=0.0,
                        help="RRM: probability RL misses the reward model's preferred answer (default: %(default)s)")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the result to this JSON file")


def run(args: argparse.Namespace) -> int:
    problem = AmplificationProblem(depth=args.depth, branching=args.branching, rule=args.rule,
                                   base_accuracy=args.base_accuracy, distillation_error=args.distillation_error,
                                   overseer_error=args.overseer_error)
    solution = solve(problem, reward_model_error=args.reward_model_error, policy_error=args.policy_error)
    lines = [f"{problem.rule}, branching {problem.branching}, depth {problem.depth}: a_0 {problem.base_accuracy:g}, "
             f"distillation error {problem.distillation_error:g}, overseer error {problem.overseer_error:g} "
             f"(noise per level {solution.level_noise:.4f})",
             "depth  amplified A_k  distilled a_k" + ("  RRM reward model  RRM agent" if solution.rrm_agent.size else "")]
    for k in range(problem.depth + 1):
        amplified = f"{solution.amplified[k - 1]:.6f}" if k else "-"
        row = f"{k:>5}  {amplified:>13}  {solution.distilled[k]:>13.6f}"
        if solution.rrm_agent.size:
            reward = f"{solution.rrm_reward_model[k - 1]:.6f}" if k else "-"
            row += f"  {reward:>16}  {solution.rrm_agent[k]:>9.6f}"
        lines.append(row)
    lines.append("fixed points: " + ", ".join(f"{p.accuracy:.6f} ({'stable' if p.stable else 'unstable'})"
                                             for p in solution.fixed_points))
    lines.append(f"limit accuracy from a_0: {solution.limit:.6f}")
    if solution.threshold is not None:
        lines.append(f"vote threshold: accuracy stays above 1/2 iff the noise per level < {solution.threshold:.6f}")
    lines.append("levels amplified  frontier  model calls  overseer calls  accuracy")
    for row in solution.tradeoff:
        lines.append(f"{row['levels']:>16}  {row['frontier_model']:>8}  {row['model_calls']:>11}  "
                     f"{row['overseer_calls']:>14}  {row['accuracy']:.6f}")
    print("\n".join(lines))
    if args.json:
        atomic_write_json(args.json, solution.to_dict())
    return 0
