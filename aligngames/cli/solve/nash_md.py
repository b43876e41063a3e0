"""Nash-MD (Munos et al.): regularised self-play baseline

``aligngames solve nash_md (--env ENV [-e KEY=VALUE ...] | --payoffs RUN_DIR) --out RUN_DIR [--tau T ...]``:
:func:`aligngames.solvers.equilibrium.nash_md.solve` with the settings of
:class:`~aligngames.solvers.equilibrium.nash_md.NashMDConfig`.
"""

from __future__ import annotations

import argparse

from aligngames.cli import driver
from aligngames.solvers.equilibrium.nash_md import NashMDConfig, decreasing_step, solve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    driver.add_solver_arguments(parser, NashMDConfig)


def run(args: argparse.Namespace) -> int:
    return driver.run_symmetric_solver(args, "nash_md", NashMDConfig, lambda matrix, config: solve(
        matrix, tau=config.tau, iterations=config.iterations,
        step_schedule=decreasing_step(config.tau, config.eta) if config.decreasing_step else config.eta))
