"""Aligner: a corrector stacked on an upstream policy, its exact best response, iterated distillation, a red team,
and text corrections.

1. Cooperative (three_answers): the corrector's kernel, the composite and its win rate as the KL weight beta and
   the copy prior's eps vary.
2. Iterated distillation: the upstream trained on the corrected outputs each round, converging to the closed-form
   fixed point.
3. Red team (two_prompts): red's value with and without the corrector, played out with scripted seats.
4. Language mode: a copying corrector and a rewriting one before the embedded features judge, over a two-turn
   dialogue.

    python examples/aligner.py
"""

import numpy as np

import aligngames
from aligngames.agents.aligner import RedTable, TiltCorrector, UpstreamTable
from aligngames.envs.aligner.problems import AlignerProblem, build
from aligngames.solvers.exact.aligner import solve, tilt_fixed_point

base = build("three_answers").to_dict()
print("eps    beta   E[r] upstream  E[r] corrected  win rate vs upstream")
for eps, beta in ((0.0, 0.25), (0.05, 0.25), (0.2, 0.25), (0.2, 1.0), (0.2, 0.0), (1.0, 0.0)):
    solution = solve(AlignerProblem.from_mapping({**base, "eps": eps, "beta": beta}))
    print(f"{eps:<6g} {beta:<6g} {solution.upstream_rewards[0]:>13.4f}  {solution.expected_rewards[0]:>14.4f}  "
          f"{solution.win_rates[0]:>20.4f}")

problem = build("three_answers")
solution = solve(problem, rounds=8)
print("\niterated distillation (pi_{t+1} = q_t): expected corrected reward per round")
print("  " + " ".join(f"{value:.4f}" for value in solution.round_expected_rewards()))
print(f"  fixed point {np.round(solution.distillations[0].fixed_point, 4)}; closed form "
      f"{np.round(tilt_fixed_point(problem.rewards[0], problem.eps, problem.beta), 4)}")

red_problem = build("two_prompts")
red = solve(red_problem)
print(f"\nred team: value {red.value:.4f} with the corrector, {red.upstream_value:.4f} without; red picks "
      f"{[p for p, w in zip(red_problem.prompts, red.red_strategy) if w > 0]}")
players = {"red": RedTable(), "blue": UpstreamTable(), "corrector": TiltCorrector()}
for seed, player in enumerate(players.values()):
    player.reset(seed)
env = aligngames.make("aligner_v0", example="two_prompts", rounds=200)
env.reset(seed=0)
for agent in env.agent_iter():
    observation, reward, termination, truncation, info = env.last()
    env.step(None if termination or truncation else players[agent].act(observation, agent, env.action_space(agent), info))
rounds = env.unwrapped.record()["rounds"]
print(f"  200 played rounds: mean team reward {np.mean([entry['reward'] for entry in rounds]):.4f}")

print("\nlanguage mode (features judge): P(corrected > original) per turn")
rewrite = {"Boil it.": "Put the egg in boiling water for 9 minutes, for example, then cool it in cold water.",
           "A number.": "A prime is a whole number above 1 whose only divisors are 1 and itself, for example 7."}
for name, corrector in (("copy", lambda answer: answer), ("rewrite", lambda answer: rewrite[answer])):
    env = aligngames.make("aligner_v0", mode="language", prompts=["How do I boil an egg?", "What is a prime?"],
                          rounds=2)
    env.reset(seed=0)
    answers = iter(["Boil it.", "A number."])
    for agent in env.agent_iter():
        observation, reward, termination, truncation, info = env.last()
        if termination or truncation:
            env.step(None)
        else:
            env.step(next(answers) if agent == "policy" else corrector(info["answer"]))
    print(f"  {name:<8}" + " ".join(f"{entry['improvement']:.3f}" for entry in env.unwrapped.record()["rounds"]))
