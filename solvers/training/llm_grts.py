"""GRTS with trained best responses: a new LoRA adapter per oracle call, red's reward carrying the diversity bonus.

Paper: Ma, Chen, et al. (2023), GRTS (:mod:`aligngames.solvers.population.grts`, whose loop, candidates and
run folder this reuses). Each best response of :class:`LLMGRTSOracle` is a
:class:`~aligngames.solvers.training.llm_oracle.PolicyGradientOracle` call against the other seat's Nash
mixture; red's episode reward adds ``lambda * D(e_episode, P_red)``, the diversity bonus of GRTS's step 3
with ``e_episode`` the normalised mean embedding of the red prompts of that episode. Matches, embeddings
and the candidate-game NashConv come from the candidate oracle (a
:class:`~aligngames.solvers.population.grts.GRTSOracle`), so both kinds of GRTS run report alike.
The run folder is GRTS's, plus ``policies/`` (the adapters) and ``oracle.jsonl`` (the training log).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aligngames.agent import AgentSpec
from aligngames.config import ConfigError, from_mapping
from aligngames.runs import append_line
from aligngames.solvers.population import grts
from aligngames.solvers.population.grts import BLUE, ENV, RED, GRTSConfig, GRTSOracle, diversity_bonus
from aligngames.solvers.population.psro import BestResponseOracle, Mixture
from aligngames.solvers.training.llm_oracle import OracleSettings, PolicyGradientOracle
from aligngames.solvers.training.settings import describe_flat_keys, flat_keys_in

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LLMGRTSConfig(GRTSConfig):
    """A GRTS run whose best responses are trained (a config file with ``oracle: llm``).

    Attributes:
        llm: the policy-gradient oracle's settings (its seed is ``settings.seed``).
    """

    llm: OracleSettings = field(default_factory=OracleSettings)


class LLMGRTSOracle(BestResponseOracle):
    """Trained GRTS best responses (see the module docstring).

    Args:
        config: the run's config.
        evaluator: the candidate oracle, used to evaluate and log.
        out: where the adapters (``policies/``) and the training log (``oracle.jsonl``) go.
    """

    def __init__(self, config: LLMGRTSConfig, evaluator: GRTSOracle, out: Path) -> None:
        self.config = config
        self.evaluator = evaluator
        self.trainer = PolicyGradientOracle(ENV, dict(config.env_kwargs), config.llm, out, seed=config.settings.seed,
                                            reward_bonus=self.diversity_bonus)

    def diversity_bonus(self, seat: str, episodes: Sequence[Any], population: Sequence[AgentSpec]) -> np.ndarray:
        """Red's per-episode bonus (zero for blue and for lambda = 0)."""
        if seat != RED or self.config.diversity_weight == 0:
            return np.zeros(len(episodes))
        members = np.stack([self.evaluator.embedding(spec) for spec in population])  # (|P_red|, d)
        bonuses = []
        for episode in episodes:
            prompts = [t["prompt"] for t in episode.record["turns"] if t["speaker"] == RED and not t["benign"]]
            bonuses.append(diversity_bonus(grts.prompts_direction(prompts), members))
        return self.config.diversity_weight * np.array(bonuses)

    def best_response(self, seat: str, mixtures: Mapping[str, Mixture]) -> tuple[str, AgentSpec]:
        if seat not in (RED, BLUE):
            raise ValueError(f"GRTS plays seats {RED} and {BLUE}, not {seat!r}")
        name, spec = self.trainer.best_response(seat, mixtures)
        opponents = mixtures[BLUE if seat == RED else RED]
        population = [member for member, _ in mixtures[seat]]
        value = self.evaluator.value(seat, spec, opponents)
        bonus = 0.0
        if seat == RED:
            members = np.stack([self.evaluator.embedding(member) for member in population])
            bonus = self.config.diversity_weight * diversity_bonus(self.evaluator.embedding(spec), members)
        record = {"seat": seat, "population": len(population), "choice": name, "oracle": "llm",
                  "objective": value + bonus, "value": value, "diversity_bonus": bonus}
        if self.evaluator.log_path is not None:
            append_line(self.evaluator.log_path, record)
        log.info("%s trained best response %s: value %.3f + bonus %.3f", seat, name, value, bonus)
        return name, spec

    def full_game_nash_conv(self, mixtures: Mapping[str, Mixture]) -> float:
        return self.evaluator.full_game_nash_conv(mixtures)

    def records(self) -> dict[str, Path]:
        return {**self.trainer.records(), **self.evaluator.records()}

    def saved_folders(self) -> list[Path]:
        return self.trainer.saved_folders()

    def describe(self) -> dict[str, Any]:
        return {"class": "LLMGRTSOracle", "diversity_weight": self.config.diversity_weight,
                "trainer": self.trainer.describe(), "evaluator": self.evaluator.describe()}


def run(config: LLMGRTSConfig, out: str | Path, *, progress: bool = False) -> dict[str, Any]:
    """Run (or resume) GRTS with trained best responses into ``out``; return the summary (``grts.json``)."""
    out = Path(out)
    evaluator = GRTSOracle(config, out / grts.BEST_RESPONSES_FILE, progress=progress)
    return grts.run(config, out, evaluator=evaluator, best_responses=LLMGRTSOracle(config, evaluator, out),
                    progress=progress)


def load_config(path: str | Path, iterations: int | None = None) -> GRTSConfig | LLMGRTSConfig:
    """A GRTS config file: an :class:`LLMGRTSConfig` with ``oracle: llm``, else a
    :class:`~aligngames.solvers.population.grts.GRTSConfig` (candidate best responses)."""
    oracle, data = grts.read_config_file(path)
    if oracle == "candidates":
        if "llm" in data:
            raise ConfigError(f"{path}: key 'llm' sets the trained oracle; add 'oracle: llm' to use it")
        return grts.with_iterations(from_mapping(GRTSConfig, data, str(path)), iterations)
    flat = flat_keys_in(data.get("llm"))
    if flat:
        raise ConfigError(f"{path}: key 'llm': the model, LoRA, trainer and generation settings are nested now "
                          f"({describe_flat_keys(flat)}), e.g. llm: {{lora: {{rank: 8}}, trainer: {{learning_rate: 5e-4}}}}")
    return grts.with_iterations(from_mapping(LLMGRTSConfig, data, str(path)), iterations)


__all__ = ["LLMGRTSConfig", "LLMGRTSOracle", "load_config", "run"]
