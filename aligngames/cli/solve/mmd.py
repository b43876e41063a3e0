"""magnetic mirror descent (alpha=0: mirror descent); last iterate -> logit QRE

``aligngames solve mmd (--env ENV [-e KEY=VALUE ...] | --payoffs RUN_DIR) --out RUN_DIR [--alpha A ...]``:
:func:`aligngames.solvers.equilibrium.mmd.solve` with the settings of
:class:`~aligngames.solvers.equilibrium.mmd.MMDConfig`.
"""

from __future__ import annotations

import argparse

from aligngames.cli import driver
from aligngames.solvers.equilibrium.mmd import MMDConfig, solve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    driver.add_solver_arguments(parser, MMDConfig)


def run(args: argparse.Namespace) -> int:
    return driver.run_matrix_solver(args, "mmd", MMDConfig, lambda matrix, config: solve(
        matrix, alpha=config.alpha, eta=config.eta, iterations=config.iterations))
