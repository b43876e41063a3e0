"""GRTS-style red teaming on red_team_v0: PSRO (Nash meta-solver) with a semantic-diversity bonus for red

``aligngames solve grts --config FILE --out RUN``: the config file's ``oracle`` key chooses the best
responses: ``candidates`` (default; :class:`~aligngames.solvers.population.grts.GRTSConfig`,
:func:`aligngames.solvers.population.grts.run`) or ``llm`` (trained LoRA adapters;
:class:`~aligngames.solvers.training.llm_grts.LLMGRTSConfig`, :func:`aligngames.solvers.training.llm_grts.run`).
"""

from __future__ import annotations

import argparse

from aligngames.cli import driver
from aligngames.solvers.population import grts, psro
from aligngames.solvers.training import llm_grts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="a GRTS config (YAML), e.g. examples/red_team_grts.yaml")
    parser.add_argument("--out", required=True, help="the run folder (an existing one is resumed)")
    driver.add_force_new_argument(parser)
    parser.add_argument("--iterations", type=int, default=None, help="override settings.iterations")


def run(args: argparse.Namespace) -> int:
    config = llm_grts.load_config(args.config, args.iterations)
    if isinstance(config, llm_grts.LLMGRTSConfig):
        summary = llm_grts.run(config, args.out, progress=True)
    else:
        summary = grts.run(config, args.out, progress=True)
    stop = psro.stop_description(summary["epochs"], summary["criterion"], config.settings)
    driver.report(args.out, f"GRTS: {stop}; NashConv on the candidate game "
                            f"{summary['candidate_game_nash_conv'][-1]:.3g}; red Nash value "
                            f"{summary['nash_value_red']:.3f}; red population diversity "
                            f"{summary['red_population_diversity'][-1]:.3f}")
    return 0
