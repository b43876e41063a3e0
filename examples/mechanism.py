"""Mechanism design for alignment: who gains by misreporting a refusal threshold or a reward model.

For each example and mechanism: the truthful outcome and welfare, each stakeholder's gain from its best
misreport, and the equilibrium of best-response dynamics; then, in the env, what inflating one's rewards
earns under VCG payments and without them.

    python examples/mechanism.py
"""

import numpy as np

import aligngames
from aligngames.agents.mechanism import ScaledStakeholder
from aligngames.envs.mechanism.problems import build
from aligngames.solvers.exact.mechanism import analyse

for name in ("refusal_threshold", "fine_tuning"):
    problem = build(name)
    print(f"\n{name}")
    for mechanism in problem.mechanisms:
        result = analyse(problem, mechanism)
        gains = ", ".join(f"{check['stakeholder']} {check['gain']:.4f}" for check in result["manipulation"])
        print(f"  {mechanism:<7} truthful welfare {result['welfare']:+.4f}; gains from misreporting: {gains}; "
              f"equilibrium welfare {result['equilibrium']['welfare']:+.4f}")

print("\nfine_tuning in the env: the safety team's return when it scales its reported rewards")
print("  scale     vcg  unpaid")
for scale in (0.5, 1.0, 2.0, 4.0):
    returns = []
    for mechanism in ("vcg", "unpaid"):
        env = aligngames.make_parallel("mechanism_v0", example="fine_tuning", mechanism=mechanism)
        observations, infos = env.reset(seed=0)
        players = {agent: ScaledStakeholder(scale if agent == "safety_team" else 1.0) for agent in env.agents}
        actions = {agent: players[agent].act(observations[agent], agent, env.action_space(agent), infos[agent])
                   for agent in env.agents}
        _, rewards, *_ = env.step(actions)
        returns.append(rewards["safety_team"])
    print(f"  {scale:>5.1f}  {returns[0]:+.4f}  {returns[1]:+.4f}")
print(f"  (vcg is best at scale 1: {np.isclose(max(analyse(build('fine_tuning'), 'vcg')['best_report_scale'].values()), 1.0)})")
