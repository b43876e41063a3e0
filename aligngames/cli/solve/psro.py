"""policy-space response oracles with nash / uniform / prd / alpharank meta-solvers; resumable

``aligngames solve psro --payoffs RUN_DIR --out RUN`` runs PSRO with exact best responses on a tournament's
meta-game (:func:`aligngames.solvers.population.psro.solve_matrix`); ``--env ENV`` runs it over the env with
meta-games estimated by play (:func:`aligngames.solvers.population.psro.run`), best responses from the exact
oracle of the env's tabular form (``--oracle exact``) or trained as LoRA adapters (``--oracle llm``,
:class:`~aligngames.solvers.training.llm_oracle.PolicyGradientOracle`, settings
:class:`~aligngames.solvers.training.llm_oracle.OracleSettings`). On the red-team game (an env whose type is
``red_team_v0``'s) ``--oracle llm`` runs GRTS with trained best responses
(:mod:`aligngames.solvers.training.llm_grts`).
"""

from __future__ import annotations

import argparse

from aligngames import registry
from aligngames.agent import AgentSpec
from aligngames.cli import driver
from aligngames.config import ConfigError, parse_labelled_agent
from aligngames.envs.red_team import raw_env as RedTeamEnv
from aligngames.solvers.population import psro
from aligngames.solvers.population.grts import BLUE, RED
from aligngames.solvers.training import llm_grts
from aligngames.solvers.training.llm_oracle import OracleSettings, PolicyGradientOracle

ORACLES = ("exact", "llm")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    driver.add_game_arguments(parser)
    driver.add_config_arguments(parser, psro.PSROSettings)
    parser.add_argument("--initial", action="append", default=[], metavar="SEAT=AGENT",
                        help="a seat's first policy as an agent spec, e.g. player_0=mixed:probabilities=[0.5,0.5,0] "
                             "(--env only; default: constant action 0)")
    parser.add_argument("--oracle", choices=ORACLES, default="exact",
                        help="exact: best constant action of a tabular game; llm: train a LoRA adapter per best "
                             "response by policy gradient (language mode; on red_team_v0 through GRTS, with its "
                             "diversity bonus) (default: exact)")
    driver.add_config_arguments(parser, OracleSettings, config_flag=False, title="LLM oracle (--oracle llm)")


def run(args: argparse.Namespace) -> int:
    settings = driver.config_from_args(psro.PSROSettings, args)
    if args.payoffs:
        if args.initial:
            raise ConfigError("--initial applies to --env runs")
        return _run_meta_game(args, settings)
    initial = {}
    for item in args.initial:
        seat, name, kwargs = parse_labelled_agent(item, "--initial")
        initial[seat] = AgentSpec(name, kwargs)
    config = psro.PSROConfig(args.env, driver.env_kwargs(args), initial, settings)
    if args.oracle == "llm":
        return _run_llm(args, config)
    given = driver.config_flags_given(OracleSettings, args)
    if given:
        raise ConfigError(f"settings {given} are for --oracle llm")
    result = psro.run(config, args.out, progress=True)
    final = result.nash_conv[-1]
    driver.report(args.out, f"{_epochs(result, settings)}; NashConv on the full game "
                            f"{'n/a' if final is None else f'{final:.3g}'}, on the meta-game {result.empirical_nash_conv[-1]:.3g}")
    return 0


def _epochs(result: psro.PSROResult, settings: psro.PSROSettings) -> str:
    return psro.stop_description(result.epochs, result.state.criterion, settings)


def _run_meta_game(args: argparse.Namespace, settings: psro.PSROSettings) -> int:
    source = driver.load_game(args)
    result = psro.solve_matrix(source.game, meta_solver=settings.meta_solver, iterations=settings.iterations,
                               prd=settings.prd, nash_conv_tolerance=settings.nash_conv_tolerance)
    names = source.game.matrix_game().action_names
    solution = {
        "strategies": [driver.named(s, n) for s, n in zip(result.strategies, names)],
        "populations": [[n[a] for a in population] for population, n in zip(result.populations, names)],
        "nash_conv": float(result.nash_conv[-1]),
    }
    trace = {"iteration": list(range(len(result.nash_conv))),  # epoch 0: the initial actions
             "nash_conv": [float(v) for v in result.nash_conv]}
    driver.write_run(args.out, "psro", settings, source, solution, trace, seed=settings.seed)
    driver.report(args.out, f"NashConv of the final meta-strategies {solution['nash_conv']:.3g}")
    return 0


def _run_llm(args: argparse.Namespace, config: psro.PSROConfig) -> int:
    """PSRO with LoRA best responses; on the red-team game, GRTS with them."""
    oracle_settings = driver.config_from_args(OracleSettings, args, config_file=False)
    env = registry.make(config.env, **config.env_kwargs)
    red_team = isinstance(env.unwrapped, RedTeamEnv)
    env.close()
    if red_team:
        defaults = llm_grts.LLMGRTSConfig()
        initial = {f"initial_{'red' if seat == RED else 'blue'}": spec for seat, spec in config.initial.items()
                   if seat in (RED, BLUE)}
        grts_config = llm_grts.LLMGRTSConfig(env_kwargs={**defaults.env_kwargs, **config.env_kwargs},
                                             settings=config.settings, llm=oracle_settings, **initial)
        summary = llm_grts.run(grts_config, args.out, progress=True)
        stop = psro.stop_description(summary["epochs"], summary["criterion"], config.settings)
        driver.report(args.out, f"GRTS with LLM best responses: {stop}; red Nash value "
                                f"{summary['nash_value_red']:.3f}; red population diversity "
                                f"{summary['red_population_diversity'][-1]:.3f}")
        return 0
    oracle = PolicyGradientOracle(config.env, config.env_kwargs, oracle_settings, args.out, seed=config.settings.seed)
    result = psro.run(config, args.out, oracle=oracle, progress=True)
    driver.report(args.out, f"{_epochs(result, config.settings)} with LLM best responses; NashConv on the meta-game "
                            f"{result.empirical_nash_conv[-1]:.3g}")
    return 0
