"""Weak-to-strong generalization: which label errors a strong student denoises and which it copies.

The exact classification table (random vs systematic flips, a student that can represent anything vs a
threshold student), the linear-Gaussian projection (PGR = rho^2 for correlated weak and strong features),
a sampled evaluation with bootstrap intervals, the auxiliary-confidence loss on random flips, and the game
played by the scripted supervisor and student.

    python examples/weak_to_strong.py
"""

import numpy as np

import aligngames
from aligngames.agents.weak_to_strong import MajorityStudent, WeakSupervisor
from aligngames.envs.weak_to_strong.problems import EXAMPLES, build
from aligngames.solvers.exact.weak_to_strong import (
    LinearGaussianProblem,
    evaluate_scores,
    logistic_random_flips,
    sample_classification_scores,
    solve_classification,
    solve_linear,
)

print(f"{'example':<18} {'family':<10} {'weak':>6} {'w2s':>6} {'ceiling':>8} {'PGR':>7}")
for example in EXAMPLES:
    for family in ("lookup", "threshold"):
        solution = solve_classification(build(example), family)
        print(f"{example:<18} {family:<10} {solution.weak_accuracy:>6.3f} {solution.weak_to_strong_accuracy:>6.3f} "
              f"{solution.ceiling_accuracy:>8.3f} {solution.pgr:>7.3f}")

for rho in (0.3, 0.6, 0.9):
    problem = LinearGaussianProblem.from_subsets([[1.0, rho], [rho, 1.0]], [0.0, 1.0], [0], [1])
    solution = solve_linear(problem)
    print(f"linear, correlation {rho}: weak MSE {solution.weak_mse:.3f}, student {solution.weak_to_strong_mse:.3f}, "
          f"ceiling {solution.ceiling_mse:.3f}, PGR {solution.pgr:.3f} (= rho^2)")

rng = np.random.default_rng(0)
problem = build("mixed")
solution = solve_classification(problem, "lookup")
report = evaluate_scores(*sample_classification_scores(problem, solution, 1000, rng), rng)
print(f"mixed, 1000 sampled test inputs: PGR {report.pgr.value:.3f} [{report.pgr.low:.3f}, {report.pgr.high:.3f}] "
      f"(exact {solution.pgr:.3f})")

for seed in range(3):
    plain = logistic_random_flips(np.random.default_rng(seed))
    confident = logistic_random_flips(np.random.default_rng(seed), aux_alpha=1.0)
    print(f"logistic student, 30% random flips, seed {seed}: PGR {plain.pgr:+.3f} plain, {confident.pgr:+.3f} with "
          f"the auxiliary-confidence loss")

env = aligngames.make("weak_to_strong_v0", example="systematic_flips", rounds=200)
players = {"supervisor": WeakSupervisor(), "student": MajorityStudent()}
env.reset(seed=0)
for agent in env.agent_iter():
    observation, reward, termination, truncation, info = env.last()
    player = players[agent]
    env.step(None if termination or truncation else player.act(observation, agent, env.action_space(agent), info))
record = env.unwrapped.record()
print(f"game, systematic flips: supervisor accuracy {record['supervisor_accuracy']:.3f}, student "
      f"{record['student_accuracy']:.3f}, agreement {record['agreement']:.3f} (the errors are copied)")
