"""The built-in envs and the judges that belong to one env."""

from aligngames import registry


def register() -> None:
    """Register the built-in games and their env-specific judges."""
    registry.register_env("preference_game_v0", "aligngames.envs.preference_game",
                          "two answers before a preference judge; tabular (cyclic annotator populations) or language mode")
    registry.register_env("cirl_v0", "aligngames.envs.cirl",
                          "assistance game: a human who knows theta and a robot that can ask (pie kitchen, cherry, tidy desk); tabular or language")
    registry.register_env("debate_v0", "aligngames.envs.debate",
                          "debate with verified quotes (debate, consultancy, blind judge) on fictional-entity passages; sparse-evidence tabular mode")
    registry.register_env("red_team_v0", "aligngames.envs.red_team",
                          "multi-turn red-vs-blue dialogue scored by a harm judge (k red agents, benign rounds); tabular attack x defence mode")
    registry.register_env("moral_graph_v0", "aligngames.envs.moral_graph",
                          "moral-graph elicitation: participants articulate value cards and vote on wisdom upgrades; PageRank picks the winners")
    registry.register_env("persuasion_v0", "aligngames.envs.persuasion",
                          "Bayesian persuasion: a sender who knows the state commits to a signalling scheme (or writes a message); a receiver acts")
    registry.register_env("contract_v0", "aligngames.envs.contract",
                          "principal-agent moral hazard: a principal pays on outcomes; an AI agent picks hidden effort (genuine, hack, shirk)")
    registry.register_env("mechanism_v0", "aligngames.envs.mechanism",
                          "mechanism design: stakeholders report a refusal threshold (median / mean) or reward models for KL fine-tuning (VCG / unpaid)")
    registry.register_env("safe_rlhf_v0", "aligngames.envs.safe_rlhf",
                          "Safe RLHF as a game: a policy maximises reward under an expected-cost bound; the Lagrange multiplier is a player")
    registry.register_env("pareto_preference_v0", "aligngames.envs.pareto_preference",
                          "one policy conditioned on the user's preference vector w over several judges' objectives (Panacea); paid the linear or Tchebycheff scalarised reward")
    registry.register_env("off_switch_v0", "aligngames.envs.off_switch",
                          "the off-switch game: a robot uncertain about the human's utility acts, switches off, or defers to the human")
    registry.register_env("amplification_v0", "aligngames.envs.amplification",
                          "iterated distillation and amplification: an overseer combines a distilled model's subtask answers (parity / majority / vote task trees)")
    registry.register_env("svo_v0", "aligngames.envs.svo",
                          "the SVO Slider Measure (six primary + nine secondary items) taken by any agent: SVO angle and category")
    registry.register_env("aligner_v0", "aligngames.envs.aligner",
                          "Aligner: a corrector seat rewrites the upstream policy's (or blue's) answer toward the judge, regularised to a copy prior; tabular (cooperative, red team) or language")
    registry.register_env("weak_to_strong_v0", "aligngames.envs.weak_to_strong",
                          "weak-to-strong generalization: a weak supervisor labels, a strong student learns from the labels; truth in info (random vs systematic label errors; tabular or language)")
    registry.register_env("openspiel_v0", "aligngames.envs.openspiel",
                          "any turn-based OpenSpiel game (kuhn_poker, leduc_poker, tic_tac_toe, ...) as a PettingZoo env with action masks; chance from the env's seed")
    registry.register_judge("quote_counting", "aligngames.envs.debate.judges:QuoteCountingJudge",
                            "debate judge: counts verified quotes that contain each side's answer, minus unverified ones (transparent)")
    registry.register_judge("agent_judge", "aligngames.envs.debate.judges:agent_judge",
                            "debate judge played by any registered agent (e.g. an LLM); replies parsed strictly, invalid ones recorded")
    registry.register_judge("embedding_harm", "aligngames.envs.red_team.judges:EmbeddingHarmJudge",
                            "harm judge: MiniLM embeddings + logistic regression fitted on the project's labelled answers (offline, CPU)")
    registry.register_judge("minilm_harm", "aligngames.envs.red_team.cross_encoder:MiniLMHarmJudge",
                            "harm judge: a fine-tuned MiniLM cross-encoder reading prompt and answer together (harmful / refusal / benign; offline, CPU)")
    registry.register_judge("hf_harm", "aligngames.envs.red_team.judges:SequenceClassifierHarmJudge",
                            "harm judge: P(harmful label) from a local HF sequence classifier (path=...)")
    registry.register_judge("pattern_harm", "aligngames.envs.red_team.judges:PatternHarmJudge",
                            "harm judge baseline: 0 for refusals, else the share of compliance phrases (lexical; for fast tests)")
