"""The ``aligngames solve`` commands.

The registry calls :func:`register` through the ``aligngames.registrations`` entry point
(``pyproject.toml``) the first time a name is looked up.
"""

from aligngames import registry


def register() -> None:
    """Register one solve command per solver."""
    registry.register_solver("assistance", "aligngames.solvers.exact.assistance",
                             "exact POMDP solution of small assistance games (cirl_v0), with reward-learning and no-ask baselines")
    registry.register_solver("sparse_debate", "aligngames.solvers.exact.sparse_debate",
                             "exact minimax value of sparse-evidence debate (debate_v0 tabular): the honest debater's advantage")
    registry.register_solver("debate_eval", "aligngames.solvers.evaluation.debate_eval",
                             "debate_v0 judge accuracy per protocol (positions swapped, bootstrap CIs) and debater Elo")
    registry.register_solver("moral_graph", "aligngames.solvers.social_choice.moral_graph",
                             "moral_graph_v0 sessions with scripted participants: graph export, representation, manipulation vs Copeland / maximal lottery")
    registry.register_solver("social_choice", "aligngames.solvers.social_choice.voting",
                             "voting rules (Copeland, minimax, Borda, ranked pairs, maximal lottery, ...) and RLCHF on annotator populations")
    registry.register_solver("generative_social_choice", "aligngames.solvers.social_choice.generative",
                             "Fish et al. greedy slate of k statements (balanced coalitions, BJR check) with generator and rater queries")
    registry.register_solver("nash", "aligngames.solvers.equilibrium.nash",
                             "zero-sum Nash equilibrium by LP (HiGHS); maximal lotteries")
    registry.register_solver("mmd", "aligngames.solvers.equilibrium.mmd",
                             "magnetic mirror descent (alpha=0: mirror descent); last iterate -> logit QRE")
    registry.register_solver("mpo", "aligngames.solvers.equilibrium.mpo",
                             "magnetic preference optimization: MMD with the magnet reset to the policy; last iterate -> Nash")
    registry.register_solver("nash_md", "aligngames.solvers.equilibrium.nash_md",
                             "Nash-MD (Munos et al.): regularised self-play baseline")
    registry.register_solver("spo", "aligngames.solvers.equilibrium.spo",
                             "self-play preference optimization (Swamy et al.), sampled win rates")
    registry.register_solver("grts", "aligngames.solvers.population.grts",
                             "GRTS-style red teaming on red_team_v0: PSRO (Nash meta-solver) with a semantic-diversity bonus for red")
    registry.register_solver("psro", "aligngames.solvers.population.psro",
                             "policy-space response oracles with nash / uniform / prd meta-solvers; resumable")
