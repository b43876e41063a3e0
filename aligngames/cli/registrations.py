"""The ``aligngames solve`` commands."""

from aligngames import registry


def register() -> None:
    """Register one solve command per solver: its ``aligngames.cli.solve.<name>`` module (see that package)."""
    registry.register_solver("assistance", "aligngames.cli.solve.assistance",
                             "exact POMDP solution of small assistance games (cirl_v0), with reward-learning and no-ask baselines")
    registry.register_solver("persuasion", "aligngames.cli.solve.persuasion",
                             "the sender's optimal signalling scheme in Bayesian persuasion (persuasion_v0 tables) by LP, with full- and no-disclosure baselines")
    registry.register_solver("contract", "aligngames.cli.solve.contract",
                             "the principal's optimal contract in a moral-hazard game (contract_v0 tables): LP (risk-neutral) or convex QP (sqrt utility)")
    registry.register_solver("mechanism", "aligngames.cli.solve.mechanism",
                             "mechanisms for a refusal threshold (median, mean) and for KL fine-tuning on several reward models (VCG, unpaid): outcome, payments, welfare, best misreports, equilibrium")
    registry.register_solver("safe_rlhf", "aligngames.cli.solve.safe_rlhf",
                             "Safe RLHF (safe_rlhf_v0 tables): the exact constrained optimum and its Lagrange multiplier, and primal-dual dynamics with the multiplier as a player")
    registry.register_solver("offline_preference", "aligngames.cli.solve.offline_preference",
                             "offline preference losses (DPO, IPO, EXO and the K-sample DPO-RW / EXO-RW) fitted exactly on a tabular preference problem, with the forward and reverse KL to pi*; in language mode (--pairs FILE, or online with --env) DPO / IPO / EXO train a LoRA policy")
    registry.register_solver("elasticity", "aligngames.cli.solve.elasticity",
                             "alignment elasticity (Ji et al. 2024) in a categorical model: how much undo data removes half of an alignment fine-tune, pooled vs elastic, both directions")
    registry.register_solver("pareto_preference", "aligngames.cli.solve.pareto_preference",
                             "Pareto preference (pareto_preference_v0 tables): exact per-preference optima (linear or Tchebycheff, with KL), the Pareto front and its hypervolume, and a preference-conditioned policy's regret; in language mode (--train), a w-conditioned LoRA policy and its front before and after training")
    registry.register_solver("judge_eval", "aligngames.cli.solve.judge_eval",
                             "Evaluate a judge on labelled data: harm judges (accuracy, AUROC, ECE, confusion matrix) or preference judges (agreement, position bias), with bootstrap intervals")
    registry.register_solver("off_switch", "aligngames.cli.solve.off_switch",
                             "exact values of the off-switch game (off_switch_v0): act, switch off or defer, and the incentive to keep the switch")
    registry.register_solver("amplification", "aligngames.cli.solve.amplification",
                             "IDA / recursive reward modelling (amplification_v0): exact accuracy by depth, fixed points and the error threshold, the compute / oversight trade-off")
    registry.register_solver("recursive_debate", "aligngames.cli.solve.recursive_debate",
                             "recursive (binary-search) debate vs consultancy vs no check under a one-step judge: exact judge accuracy by game-tree search")
    registry.register_solver("svo", "aligngames.cli.solve.svo",
                             "SVO of any agent: repeated sittings of the SVO Slider Measure (svo_v0), the angle with an interval and the category")
    registry.register_solver("aligner", "aligngames.cli.solve.aligner",
                             "Aligner (aligner_v0 tables): the corrector's Gibbs-tilt best response to a copy prior, the composite, win rate vs the upstream, iterated distillation's fixed point, the red-team value")
    registry.register_solver("weak_to_strong", "aligngames.cli.solve.weak_to_strong",
                             "weak-to-strong generalization (weak_to_strong_v0): exact weak / weak-to-strong / ceiling performance and PGR")
    registry.register_solver("sparse_debate", "aligngames.cli.solve.sparse_debate",
                             "exact minimax value of sparse-evidence debate (debate_v0 tabular): the honest debater's advantage")
    registry.register_solver("debate_eval", "aligngames.cli.solve.debate_eval",
                             "debate_v0 judge accuracy per protocol (positions swapped, bootstrap CIs) and debater Elo")
    registry.register_solver("moral_graph", "aligngames.cli.solve.moral_graph",
                             "moral_graph_v0 sessions with scripted participants: graph export, representation, manipulation vs Copeland / maximal lottery")
    registry.register_solver("social_choice", "aligngames.cli.solve.social_choice",
                             "voting rules (Copeland, minimax, Borda, ranked pairs, maximal lottery, ...) and RLCHF on annotator populations")
    registry.register_solver("generative_social_choice", "aligngames.cli.solve.generative_social_choice",
                             "Fish et al. greedy slate of k statements (balanced coalitions, BJR check) with generator and rater queries")
    registry.register_solver("nash", "aligngames.cli.solve.nash",
                             "zero-sum Nash equilibrium by LP (HiGHS); maximal lotteries")
    registry.register_solver("mmd", "aligngames.cli.solve.mmd",
                             "magnetic mirror descent (alpha=0: mirror descent); last iterate -> logit QRE")
    registry.register_solver("mpo", "aligngames.cli.solve.mpo",
                             "magnetic preference optimization: MMD with the magnet reset to the policy; last iterate -> Nash")
    registry.register_solver("nash_md", "aligngames.cli.solve.nash_md",
                             "Nash-MD (Munos et al.): regularised self-play baseline")
    registry.register_solver("spo", "aligngames.cli.solve.spo",
                             "self-play preference optimization (Swamy et al.), sampled win rates")
    registry.register_solver("grts", "aligngames.cli.solve.grts",
                             "GRTS-style red teaming on red_team_v0: PSRO (Nash meta-solver) with a semantic-diversity bonus for red")
    registry.register_solver("psro", "aligngames.cli.solve.psro",
                             "policy-space response oracles with nash / uniform / prd / alpharank meta-solvers; resumable")
