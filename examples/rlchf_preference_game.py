"""RLCHF into the preference game: aggregate an annotator population with a voting rule, then
compare the aggregated game with the population's own (cyclic) preferences.

    python examples/rlchf_preference_game.py
"""

import aligngames
from aligngames.solvers.social_choice import voting as sc

answers, groups = sc.disagreement_population()
print(sc.compare_rules(groups, answers).table())

election = sc.Election.from_groups(groups, answers)
for rule in ("copeland", "minimax", "borda"):
    result = sc.rlchf(election, rule)
    ranking = " > ".join("{" + ", ".join(answers[c] for c in sorted(tier)) + "}" for tier in result.ranking)
    env = aligngames.make("preference_game_v0", **result.env_kwargs())
    print(f"\nRLCHF with {rule}: {ranking}")
    print("  the aggregated game's row payoffs (P - 1/2):")
    print(env.unwrapped.matrix_game().row_payoffs)

# the population's own preference matrix: no single answer beats all others; its equilibrium is the lottery
population = aligngames.make("preference_game_v0", mode="tabular", preferences=election.preferences(), answers=answers)
print("\npopulation game's row payoffs (P - 1/2):")
print(population.unwrapped.matrix_game().row_payoffs.round(3))
lottery = sc.maximal_lottery(election)
print("its equilibrium (maximal lottery):", {a: round(float(p), 3) for a, p in zip(answers, lottery)})
