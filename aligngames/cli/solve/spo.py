"""self-play preference optimization (Swamy et al.), sampled win rates

``aligngames solve spo (--env ENV [-e KEY=VALUE ...] | --payoffs RUN_DIR) --out RUN_DIR [--eta E ...]``:
:func:`aligngames.solvers.equilibrium.spo.solve` with the settings of
:class:`~aligngames.solvers.equilibrium.spo.SPOConfig`.
"""

from __future__ import annotations

import argparse

from aligngames.cli import driver
from aligngames.solvers.equilibrium.spo import SPOConfig, solve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    driver.add_solver_arguments(parser, SPOConfig)


def run(args: argparse.Namespace) -> int:
    return driver.run_symmetric_solver(args, "spo", SPOConfig, lambda matrix, config: solve(
        matrix, eta=config.eta, iterations=config.iterations, num_samples=config.num_samples, seed=config.seed,
        learner=config.learner))
