"""Iterated distillation and amplification: which decompositions keep a model accurate as tasks get deeper.

For each combination rule (parity, majority over random leaves, redundant vote), the distilled accuracy by
depth; the vote threshold on the per-level noise; the compute / oversight trade-off for a depth-4 task;
recursive reward modelling next to IDA; and honest play in the env against the exact root accuracy.

    python examples/amplification.py
"""

import numpy as np

import aligngames
from aligngames.envs.amplification import AmplificationProblem, combine
from aligngames.solvers.exact.amplification import rrm_accuracies, solve, vote_threshold

for rule, branching in (("parity", 2), ("majority", 3), ("vote", 3)):
    problem = AmplificationProblem(depth=6, branching=branching, rule=rule, base_accuracy=0.95, distillation_error=0.03)
    solution = solve(problem)
    print(f"{rule:<8} b={branching}: a_k = {np.round(solution.distilled, 4).tolist()}  limit {solution.limit:.4f}")
print(f"vote keeps accuracy above 1/2 iff the noise per level is below {vote_threshold(3):.4f} (b=3), "
      f"{vote_threshold(5):.4f} (b=5)")

problem = AmplificationProblem(depth=4, branching=3, rule="vote", base_accuracy=0.9, distillation_error=0.05)
print("\nlevels amplified  model calls  overseer calls  accuracy")
for row in solve(problem).tradeoff:
    print(f"{row['levels']:>16}  {row['model_calls']:>11}  {row['overseer_calls']:>14}  {row['accuracy']:.6f}")

_, agent = rrm_accuracies(problem, reward_model_error=0.05, policy_error=0.05)
print(f"\nIDA a_k {np.round(problem.distilled_accuracies(), 4).tolist()}")
print(f"RRM q_k {np.round(agent, 4).tolist()} (reward model error 0.05, RL error 0.05)")

env = aligngames.make("amplification_v0", depth=4, branching=3, rule="vote", levels=2, distillation_error=0.05)
correct = 0
for seed in range(500):
    env.reset(seed=seed)
    for agent_name in env.agent_iter():
        observation, reward, termination, truncation, info = env.last()
        if termination or truncation:
            action = None
        elif agent_name == "model":
            action = info["signal"]
        else:
            action = combine(info["rule"], info["subtask_answers"])
        env.step(action)
    correct += bool(env.unwrapped.record()["correct"])
print(f"\nenv, 2 amplified levels: {correct / 500:.3f} right over 500 episodes; exact {env.unwrapped.rules.exact_accuracy:.4f}")
