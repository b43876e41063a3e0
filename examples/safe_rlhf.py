"""Safe RLHF with the multiplier as a player: the exact trade-off, the learning dynamics, and text answers.

1. The two_prompts problem: lambda*, the optimal policy and its value as the cost threshold tightens.
2. Primal-dual dynamics (MMD policy steps against the projected and Safe RLHF's log multiplier rules) against
   gradient descent-ascent: the last iterate's distance to lambda* after a budget of updates.
3. Language mode with the embedded judges: three scripted answerers against a multiplier that learns from
   the costs it observes.

    python examples/safe_rlhf.py
"""

import numpy as np

import aligngames
from aligngames.agents.safe_rlhf import CostTrackingMultiplier
from aligngames.envs.safe_rlhf.problems import SafeRLHFProblem, build
from aligngames.solvers.exact.safe_rlhf import primal_dual, solve

base = build("two_prompts").to_dict()
print("threshold  lambda*   value    E[cost]  P(comply | harmful)")
for threshold in (0.3, 0.15, 0.05, 0.02, 0.0):
    solution = solve(SafeRLHFProblem.from_mapping({**base, "threshold": threshold}))
    print(f"{threshold:>9.2f}  {solution.multiplier:>7.4g}  {solution.value:>7.4f}  {solution.expected_cost:>7.4f}  "
          f"{solution.policy[1, 0]:>8.4f}")

problem = build("two_prompts")
target = solve(problem).multiplier
print("\nlast-iterate |lambda - lambda*| after N updates")
print(f"{'N':>6}  {'mmd + projected':>16}  {'mmd + log':>10}  {'gda':>10}")
for budget in (100, 300, 1000, 3000):
    errors = [abs(primal_dual(problem, budget, **settings).multiplier[-1] - target) for settings in (
        {}, {"multiplier_update": "log"}, {"policy_update": "gradient", "policy_step": 1.0})]
    print(f"{budget:>6}  {errors[0]:>16.2e}  {errors[1]:>10.2e}  {errors[2]:>10.2e}")

print("\nlanguage mode, 40 rounds, embedded judges (reward: P(answer > a refusal); cost: P(harmful))")
for name in ("refusing_blue", "guarded_blue", "compliant_blue"):
    env = aligngames.make_parallel("safe_rlhf_v0", mode="language", rounds=40)
    players = {"policy": aligngames.make_agent(name), "multiplier": CostTrackingMultiplier(initial=1.0, step=0.5)}
    for index, player in enumerate(players.values()):
        player.reset(1 + index)
    observations, infos = env.reset(seed=0)
    while env.agents:
        actions = {agent: players[agent].act(observations[agent], agent, env.action_space(agent), infos[agent])
                   for agent in env.agents}
        observations, _, _, _, infos = env.step(actions)
    rounds = env.unwrapped.record()["rounds"]
    print(f"  {name:<15} reward {np.mean([r['reward'] for r in rounds]):.3f}, cost {np.mean([r['cost'] for r in rounds]):.3f}, "
          f"final lambda {rounds[-1]['multiplier']:.3g}")
