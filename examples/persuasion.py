"""Bayesian persuasion: how much an honesty bound and a sceptical receiver cost the sender.

For the prosecutor and the recommendation examples: the optimal scheme's values against a Bayesian
receiver as the honest-reporting bound (P(misleading recommendation) <= e) tightens, against anchored
receivers (belief = lam * prior + (1 - lam) * posterior), and then the optimal scheme played in the env.

    python examples/persuasion.py
"""

import numpy as np

import aligngames
from aligngames.agents.persuasion import ModelReceiver, ReceiverModel, SchemeSender
from aligngames.envs.persuasion.problems import build
from aligngames.play.rollout import play_episodes
from aligngames.solvers.exact.persuasion import solve

for name in ("prosecutor", "recommendation"):
    problem = build(name)
    base = solve(problem)
    print(f"\n{name}: full disclosure {base.full_disclosure.sender_value:.3f}, no disclosure "
          f"{base.no_disclosure.sender_value:.3f}, optimal {base.sender_value:.3f} (receiver {base.receiver_value:.3f})")
    print("  honesty bound e  sender  receiver  P(misleading)")
    for bound in (0.0, 0.05, 0.1, 0.2, 0.3, 1.0):
        honest = solve(problem, max_misleading=bound)
        print(f"  {bound:>14.2f}  {honest.sender_value:6.3f}  {honest.receiver_value:8.3f}  {honest.misleading_probability:13.3f}")
    print("  anchoring lam    sender  receiver")
    for anchoring in (0.0, 0.25, 0.5, 0.75, 1.0):
        anchored = solve(problem, ReceiverModel("anchored", anchoring))
        print(f"  {anchoring:>13.2f}  {anchored.sender_value:7.3f}  {anchored.receiver_value:8.3f}")

# the prosecutor's optimal scheme in the env against a Bayesian judge: about 60% convictions
scheme = solve(build("prosecutor")).scheme
players = {"sender": SchemeSender(scheme.tolist()), "receiver": ModelReceiver("bayesian")}
episodes = play_episodes(lambda: aligngames.make("persuasion_v0", example="prosecutor", rounds=10), players, list(range(100)))
rate = np.mean([entry["action"] == "convict" for episode in episodes for entry in episode.record["rounds"]])
print(f"\nprosecutor in the env, 1000 rounds: conviction rate {rate:.3f} (exact 0.6)")
