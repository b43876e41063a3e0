"""Registries of envs, agents and solvers by name.

Entries point at ``"module:attribute"`` and are imported only when used, so ``import aligngames``
stays light and the core never imports ``envs``, ``agents`` or ``solvers`` at import time.
An unknown name raises a ``KeyError`` that lists the valid names. Third-party code registers its
own entries with :func:`register_env`, :func:`register_agent` and :func:`register_solver`.
"""

from __future__ import annotations

import difflib
import importlib
import re
from dataclasses import dataclass
from typing import Any

_ENV_NAME = re.compile(r"^[a-z][a-z0-9_]*_v\d+$")


@dataclass(frozen=True)
class Spec:
    """One registry entry.

    Attributes:
        name: the registered name (envs carry a version suffix, ``preference_game_v0``).
        entry_point: ``"module"`` (envs and solvers) or ``"module:attribute"`` (agents).
        description: one line, shown by ``aligngames list``.
    """

    name: str
    entry_point: str
    description: str

    def load(self) -> Any:
        module_name, _, attribute = self.entry_point.partition(":")
        module = importlib.import_module(module_name)
        return getattr(module, attribute) if attribute else module


class Registry:
    """Name -> :class:`Spec`, with errors that list the valid names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._specs: dict[str, Spec] = {}

    def register(self, name: str, entry_point: str, description: str) -> None:
        if name in self._specs:
            raise ValueError(f"{self.kind} {name!r} is already registered ({self._specs[name].entry_point})")
        self._specs[name] = Spec(name, entry_point, description)

    def spec(self, name: str) -> Spec:
        if name not in self._specs:
            valid = ", ".join(sorted(self._specs))
            close = difflib.get_close_matches(name, self._specs, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise KeyError(f"unknown {self.kind} {name!r}.{hint} Valid {self.kind}s: {valid}")
        return self._specs[name]

    def names(self) -> list[str]:
        return sorted(self._specs)

    def specs(self) -> list[Spec]:
        return [self._specs[name] for name in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._specs


ENVS = Registry("env")
AGENTS = Registry("agent")
SOLVERS = Registry("solver")
JUDGES = Registry("judge")


def register_env(name: str, module: str, description: str) -> None:
    """Register an env module that defines ``env()``, ``raw_env`` and ``parallel_env()``."""
    if not _ENV_NAME.match(name):
        raise ValueError(f"env names are lower_snake_case with a version suffix like 'my_game_v0'; got {name!r}")
    ENVS.register(name, module, description)


def register_agent(name: str, entry_point: str, description: str) -> None:
    """Register an agent class or factory as ``"module:attribute"``."""
    if ":" not in entry_point:
        raise ValueError(f"agent entry points are 'module:attribute', got {entry_point!r}")
    AGENTS.register(name, entry_point, description)


def register_solver(name: str, module: str, description: str) -> None:
    """Register a solver module (it defines the solver's config, ``solve`` and CLI driver)."""
    SOLVERS.register(name, module, description)


def register_judge(name: str, entry_point: str, description: str) -> None:
    """Register a judge class or factory as ``"module:attribute"``."""
    if ":" not in entry_point:
        raise ValueError(f"judge entry points are 'module:attribute', got {entry_point!r}")
    JUDGES.register(name, entry_point, description)


# --- built-in entries -------------------------------------------------------------------------

register_env(
    "preference_game_v0", "aligngames.envs.preference_game",
    "two answers before a preference judge; tabular (cyclic annotator populations) or language mode",
)
register_env(
    "cirl_v0", "aligngames.envs.cirl",
    "assistance game: a human who knows theta and a robot that can ask (pie kitchen, cherry, tidy desk); tabular or language",
)

register_env(
    "debate_v0", "aligngames.envs.debate",
    "debate with verified quotes (debate, consultancy, blind judge) on fictional-entity passages; sparse-evidence tabular mode",
)

register_env(
    "red_team_v0", "aligngames.envs.red_team",
    "multi-turn red-vs-blue dialogue scored by a harm judge (k red agents, benign rounds); tabular attack x defence mode",
)

register_env(
    "moral_graph_v0", "aligngames.envs.moral_graph",
    "moral-graph elicitation: participants articulate value cards and vote on wisdom upgrades; PageRank picks the winners",
)

register_solver("assistance", "aligngames.solvers.assistance",
                "exact POMDP solution of small assistance games (cirl_v0), with reward-learning and no-ask baselines")

register_solver("sparse_debate", "aligngames.solvers.sparse_debate",
                "exact minimax value of sparse-evidence debate (debate_v0 tabular): the honest debater's advantage")

register_solver("debate_eval", "aligngames.solvers.debate_eval",
                "debate_v0 judge accuracy per protocol (positions swapped, bootstrap CIs) and debater Elo")

register_solver("moral_graph", "aligngames.solvers.moral_graph",
                "moral_graph_v0 sessions with scripted participants: graph export, representation, manipulation vs Copeland / maximal lottery")
register_solver("social_choice", "aligngames.solvers.social_choice",
                "voting rules (Copeland, minimax, Borda, ranked pairs, maximal lottery, ...) and RLCHF on annotator populations")
register_solver("generative_social_choice", "aligngames.solvers.generative_social_choice",
                "Fish et al. greedy slate of k statements (balanced coalitions, BJR check) with generator and rater queries")

register_judge("features", "aligngames.judges:FeatureJudge",
               "embedded preference judge: annotator groups scoring readable answer features (offline, CPU)")
register_judge("quote_counting", "aligngames.envs.debate.judges:QuoteCountingJudge",
               "debate judge: counts verified quotes that contain each side's answer, minus unverified ones (transparent)")
register_judge("agent_judge", "aligngames.envs.debate.judges:agent_judge",
               "debate judge played by any registered agent (e.g. an LLM); replies parsed strictly, invalid ones recorded")
register_judge("embedding_harm", "aligngames.envs.red_team.judges:EmbeddingHarmJudge",
               "harm judge: MiniLM embeddings + logistic regression fitted on the project's labelled answers (offline, CPU)")
register_judge("hf_harm", "aligngames.envs.red_team.judges:SequenceClassifierHarmJudge",
               "harm judge: P(harmful label) from a local HF sequence classifier (path=...)")
register_judge("pattern_harm", "aligngames.envs.red_team.judges:PatternHarmJudge",
               "harm judge baseline: 0 for refusals, else the share of compliance phrases (lexical; for fast tests)")
register_judge("reward_model", "aligngames.judges:RewardModelJudge",
               "preference from a local HF reward model: sigmoid(r(a) - r(b))")
register_judge("llm", "aligngames.agents.llm.judges:LLMPreferenceJudge",
               "LLM prompted as pairwise judge: P(A) from the A/B token log-probs, both orders averaged (cached)")
register_judge("llm_harm", "aligngames.agents.llm.judges:LLMHarmJudge",
               "LLM prompted as harm judge: P(Yes) from the Yes/No token log-probs (cached)")

register_agent("random", "aligngames.agents.basic:RandomAgent",
               "samples uniformly from the legal actions (text: random characters)")
register_agent("constant", "aligngames.agents.basic:ConstantAgent", "always plays the same action")
register_agent("mixed", "aligngames.agents.basic:MixedStrategyAgent",
               "tabular mixed strategy: samples an action index from fixed probabilities")
register_agent("template", "aligngames.agents.preference:TemplateAnswerer",
               "scripted answerer for preference_game_v0 language mode, in a fixed style")
register_agent("model_human", "aligngames.agents.assistance:ModelHuman",
               "cirl_v0 human that answers by a human model: truthful, noisy (epsilon) or Boltzmann (beta)")
register_agent("assistance_robot", "aligngames.solvers.assistance:AssistanceRobot",
               "cirl_v0 robot that plays the exact solver's optimal policy for its scenario")
register_agent("quote_debater", "aligngames.agents.debate:QuoteDebater",
               "debate_v0 debater that quotes the passage (strategy=quote) or rewrites a sentence (strategy=fabricate)")
register_agent("assert_debater", "aligngames.agents.debate:AssertDebater",
               "debate_v0 debater that states its answer and never quotes")
register_agent("greedy_revealer", "aligngames.agents.debate:GreedyRevealer",
               "debate_v0 tabular debater: reveals the feature that helps its answer most")
register_agent("strategic_human", "aligngames.solvers.assistance:StrategicHuman",
               "cirl_v0 human that best-responds to the exact solver's robot (answers to maximise the shared return)")
register_agent("red_teamer", "aligngames.agents.red_team:ScriptedRedTeamer",
               "red_team_v0 red agent: one (theme, method) of the attack catalog (non-operational placeholders)")
register_agent("refusing_blue", "aligngames.agents.red_team:RefusingBlue", "red_team_v0 blue baseline: refuses everything")
register_agent("compliant_blue", "aligngames.agents.red_team:CompliantBlue",
               "red_team_v0 blue baseline: complies with everything (placeholder compliance, never real harmful text)")
register_agent("guarded_blue", "aligngames.agents.red_team:GuardedBlue",
               "red_team_v0 blue: complies unless a guard fires (keywords, jailbreak, decoder, context)")
register_agent("value_participant", "aligngames.agents.moral_graph:ValueProfileParticipant",
               "moral_graph_v0 participant with a latent value profile; honest or strategic votes")
register_agent("persona_participant", "aligngames.agents.moral_graph:PersonaParticipant",
               "moral_graph_v0 participant played by any text agent (an LLM) with a persona prompt")
register_agent("scripted", "aligngames.agents.basic:ScriptedAgent",
               "replays a fixed list of actions, one per turn (for golden transcripts)")
register_agent("llm", "aligngames.agents.llm.agent:llm_agent",
               "language model on HF transformers (default: embedded SmolLM2-135M-Instruct); batched, seeded")

register_solver("nash", "aligngames.solvers.nash", "zero-sum Nash equilibrium by LP (HiGHS); maximal lotteries")
register_solver("mmd", "aligngames.solvers.mmd",
                "magnetic mirror descent (alpha=0: mirror descent); last iterate -> logit QRE")
register_solver("mpo", "aligngames.solvers.mpo",
                "magnetic preference optimization: MMD with the magnet reset to the policy; last iterate -> Nash")
register_solver("nash_md", "aligngames.solvers.nash_md", "Nash-MD (Munos et al.): regularised self-play baseline")
register_solver("spo", "aligngames.solvers.spo", "self-play preference optimization (Swamy et al.), sampled win rates")
register_solver("grts", "aligngames.solvers.grts",
                "GRTS-style red teaming on red_team_v0: PSRO (Nash meta-solver) with a semantic-diversity bonus for red")
register_solver("psro", "aligngames.solvers.psro",
                "policy-space response oracles with nash / uniform / prd meta-solvers; resumable")


# --- public helpers ---------------------------------------------------------------------------

def make(name: str, **kwargs: Any):
    """Create the wrapped AEC env registered as ``name`` (``aligngames.make("preference_game_v0")``)."""
    return ENVS.spec(name).load().env(**kwargs)


def make_parallel(name: str, **kwargs: Any):
    """Create the Parallel env registered as ``name``."""
    return ENVS.spec(name).load().parallel_env(**kwargs)


def make_agent(name: str, **kwargs: Any):
    """Create the agent registered as ``name`` with keyword arguments ``kwargs``."""
    factory = AGENTS.spec(name).load()
    try:
        return factory(**kwargs)
    except TypeError as error:
        raise TypeError(f"agent {name!r}: {error}") from error


def list_envs() -> list[str]:
    return ENVS.names()


def list_agents() -> list[str]:
    return AGENTS.names()


def list_solvers() -> list[str]:
    return SOLVERS.names()


def list_judges() -> list[str]:
    return JUDGES.names()
