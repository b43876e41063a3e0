"""The built-in agents and the LLM judges."""

from aligngames import registry


def register() -> None:
    """Register the scripted agents, the LLM agent and the LLM judges."""
    registry.register_judge("llm", "aligngames.agents.llm.judges:LLMPreferenceJudge",
                            "LLM prompted as pairwise judge: P(A) from the A/B token log-probs, both orders averaged (cached)")
    registry.register_judge("llm_harm", "aligngames.agents.llm.judges:LLMHarmJudge",
                            "LLM prompted as harm judge: P(Yes) from Yes/No log-probs, or a safety classifier's own format (format=llama_guard_3|llama_guard_2|shieldgemma|wildguard) (cached)")
    registry.register_agent("random", "aligngames.agents.basic:RandomAgent",
                            "samples uniformly from the legal actions (text: random characters)")
    registry.register_agent("constant", "aligngames.agents.basic:ConstantAgent",
                            "always plays the same action")
    registry.register_agent("mixed", "aligngames.agents.basic:MixedStrategyAgent",
                            "tabular mixed strategy: samples an action index from fixed probabilities")
    registry.register_agent("template", "aligngames.agents.preference:TemplateAnswerer",
                            "scripted answerer for preference_game_v0 language mode, in a fixed style")
    registry.register_agent("model_human", "aligngames.agents.assistance:ModelHuman",
                            "cirl_v0 human that answers by a human model: truthful, noisy (epsilon) or Boltzmann (beta)")
    registry.register_agent("quote_debater", "aligngames.agents.debate:QuoteDebater",
                            "debate_v0 debater that quotes the passage (strategy=quote) or rewrites a sentence (strategy=fabricate)")
    registry.register_agent("chain_debater", "aligngames.agents.debate:ChainDebater",
                            "debate_v0 recursive debate / consultancy: states the true value if its answer is true, else the value consistent with its claim")
    registry.register_agent("assert_debater", "aligngames.agents.debate:AssertDebater",
                            "debate_v0 debater that states its answer and never quotes")
    registry.register_agent("greedy_revealer", "aligngames.agents.debate:GreedyRevealer",
                            "debate_v0 tabular debater: reveals the feature that helps its answer most")
    registry.register_agent("red_teamer", "aligngames.agents.red_team:ScriptedRedTeamer",
                            "red_team_v0 red agent: one (theme, method) of the attack catalog (non-operational placeholders)")
    registry.register_agent("refusing_blue", "aligngames.agents.red_team:RefusingBlue",
                            "red_team_v0 blue baseline: refuses everything")
    registry.register_agent("compliant_blue", "aligngames.agents.red_team:CompliantBlue",
                            "red_team_v0 blue baseline: complies with everything (placeholder compliance, never real harmful text)")
    registry.register_agent("guarded_blue", "aligngames.agents.red_team:GuardedBlue",
                            "red_team_v0 blue: complies unless a guard fires (keywords, jailbreak, decoder, context)")
    registry.register_agent("value_participant", "aligngames.agents.moral_graph:ValueProfileParticipant",
                            "moral_graph_v0 participant with a latent value profile; honest or strategic votes")
    registry.register_agent("persona_participant", "aligngames.agents.moral_graph:PersonaParticipant",
                            "moral_graph_v0 participant played by any text agent (an LLM) with a persona prompt")
    registry.register_agent("persuasion_sender", "aligngames.agents.persuasion:SchemeSender",
                            "persuasion_v0 tabular sender committed to a scheme: full_disclosure, no_disclosure or a table")
    registry.register_agent("persuasion_receiver", "aligngames.agents.persuasion:ModelReceiver",
                            "persuasion_v0 tabular receiver: bayesian, anchored (under-reacts to signals) or credulous")
    registry.register_agent("persuasion_writer", "aligngames.agents.persuasion:TemplateSender",
                            "persuasion_v0 language sender: states the true state (honest) or pushes its favourite action")
    registry.register_agent("persuasion_reader", "aligngames.agents.persuasion:KeywordReceiver",
                            "persuasion_v0 language receiver: believes a named state, else follows a named action, else the prior")
    registry.register_agent("contract_principal", "aligngames.agents.contract:ContractPrincipal",
                            "contract_v0 principal: offers the optimal contract, the naive flat first-best wage, or given wages")
    registry.register_agent("contract_best_response", "aligngames.agents.contract:BestResponseAgent",
                            "contract_v0 agent: the effort with the highest expected utility (ties for the principal), or declines")
    registry.register_agent("contract_fixed_effort", "aligngames.agents.contract:FixedEffortAgent",
                            "contract_v0 agent that always picks one effort (e.g. reward_hack) whatever it is paid")
    registry.register_agent("mechanism_scaled", "aligngames.agents.mechanism:ScaledStakeholder",
                            "mechanism_v0 stakeholder reporting its preferences scaled (scale=1 truthful, >1 exaggerated / inflated)")
    registry.register_agent("mechanism_fixed", "aligngames.agents.mechanism:FixedReportStakeholder",
                            "mechanism_v0 stakeholder that always reports the same threshold or reward vector")
    registry.register_agent("safe_rlhf_table", "aligngames.agents.safe_rlhf:TablePolicy",
                            "safe_rlhf_v0 policy sampling answers from a table [prompt][answer] (e.g. the exact solver's)")
    registry.register_agent("safe_rlhf_fixed_lambda", "aligngames.agents.safe_rlhf:FixedMultiplier",
                            "safe_rlhf_v0 multiplier that always names the same lambda")
    registry.register_agent("safe_rlhf_tracking_lambda", "aligngames.agents.safe_rlhf:CostTrackingMultiplier",
                            "safe_rlhf_v0 multiplier learning lambda from observed costs (projected or Safe RLHF's log update)")
    registry.register_agent("safe_rlhf_probe", "aligngames.agents.safe_rlhf:ProbeAdversary",
                            "safe_rlhf_v0 adversary (adversary=True) sampling the probe prompt from a distribution")
    registry.register_agent("aligner_upstream", "aligngames.agents.aligner:UpstreamTable",
                            "aligner_v0 upstream seat (policy / blue) sampling answers from the game's upstream table (or its own)")
    registry.register_agent("aligner_tilt_corrector", "aligngames.agents.aligner:TiltCorrector",
                            "aligner_v0 corrector playing the exact best response: the Gibbs tilt of the copy prior by exp(r / beta)")
    registry.register_agent("aligner_fixed_answer", "aligngames.agents.aligner:FixedAnswerPolicy",
                            "aligner_v0 language-mode upstream that always writes the same answer (answer=...)")
    registry.register_agent("aligner_copy_corrector", "aligngames.agents.aligner:CopyCorrector",
                            "aligner_v0 corrector that copies the upstream answer (tabular or language mode)")
    registry.register_agent("aligner_red", "aligngames.agents.aligner:RedTable",
                            "aligner_v0 red seat sampling prompts from a mixture (default the solver's: the worst prompts for the composite)")
    registry.register_agent("pareto_preference_optimal", "aligngames.agents.pareto_preference:OptimalPreferencePolicy",
                            "pareto_preference_v0 policy reading w from info and sampling the exact per-w optimum")
    registry.register_agent("pareto_preference_fixed", "aligngames.agents.pareto_preference:FixedAnswer",
                            "pareto_preference_v0 baseline giving one answer (index or name) whatever w is")
    registry.register_agent("off_switch_human", "aligngames.agents.off_switch:OffSwitchHuman",
                            "off_switch_v0 human: allows the robot iff U > 0 (rational), with a Boltzmann probability, or noisily")
    registry.register_agent("svo_ideal", "aligngames.agents.svo:IdealTypeAgent",
                            "svo_v0 ideal type: individualist, altruist, prosocial, inequality_averse or competitive")
    registry.register_agent("weak_supervisor", "aligngames.agents.weak_to_strong:WeakSupervisor",
                            "weak_to_strong_v0 supervisor playing the weak labeller's label from info['weak_label']")
    registry.register_agent("majority_student", "aligngames.agents.weak_to_strong:MajorityStudent",
                            "weak_to_strong_v0 tabular student: the majority of the supervisor's earlier labels of this input")
    registry.register_agent("scripted", "aligngames.agents.basic:ScriptedAgent",
                            "replays a fixed list of actions, one per turn (for golden transcripts)")
    registry.register_agent("llm", "aligngames.agents.llm.agent:llm_agent",
                            "language model on HF transformers (default: embedded SmolLM2-135M-Instruct); batched, seeded")
    registry.register_agent("http_llm", "aligngames.agents.llm.http_backend:http_agent",
                            "language model behind an OpenAI-compatible server (vLLM, SGLang, llama.cpp, aligngames serve): base_url, model")
