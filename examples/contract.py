"""Moral hazard: what each contract buys from an AI coding agent, and what hidden effort costs the principal.

For the coding_assistant example: the optimal contract (risk-neutral and risk-averse agent), the cheapest
contract for each effort, two naive contracts (a flat wage, a bonus for passing tests), then the optimal
contract played in the env in both modes.

    python examples/contract.py
"""

import numpy as np

import aligngames
from aligngames.agents.contract import BestResponseAgent, ContractPrincipal
from aligngames.envs.contract.problems import ContractProblem, build
from aligngames.play.rollout import play_episodes
from aligngames.solvers.exact.contract import evaluate, first_best, solve

for utility in ("linear", "sqrt"):
    problem = ContractProblem.from_mapping({**build("coding_assistant").to_dict(), "utility": utility})
    solution = solve(problem)
    print(f"\n{utility} utility: pay {dict(zip(problem.outcomes, solution.wages.round(4).tolist()))} -> "
          f"{solution.induced_effort}; profit {solution.principal_profit:.4f}, agent rent {solution.agent_rent:.4f}, "
          f"first best {solution.first_best.profit:.4f}, agency cost {solution.agency_cost:.4f}")
    for contract in solution.by_effort:
        print(f"  cheapest contract for {contract.effort:<12} profit {contract.principal_profit:+.4f}")
    for label, wages in (("flat first-best wage", np.full(3, first_best(problem).wage)), ("test bonus 1", [0.0, 1.0, 1.0])):
        result = evaluate(problem, wages)
        print(f"  {label:<22} buys {result['effort']:<12} profit {result['principal_profit']:+.4f}")

players = {"principal": ContractPrincipal("optimal"), "agent": BestResponseAgent()}
for mode in ("tabular", "language"):
    episodes = play_episodes(lambda mode=mode: aligngames.make("contract_v0", example="coding_assistant", mode=mode,
                                                             rounds=10), players, list(range(100)))
    rounds = [entry for episode in episodes for entry in episode.record["rounds"]]
    efforts = {effort: sum(entry["effort"] == effort for entry in rounds) for effort in ("genuine", "reward_hack", "shirk")}
    profit = np.mean([entry["rewards"]["principal"] for entry in rounds])
    print(f"\n{mode} mode, 1000 rounds: efforts {efforts}, mean profit {profit:.3f} (exact {solve(build('coding_assistant')).principal_profit:.3f})")
