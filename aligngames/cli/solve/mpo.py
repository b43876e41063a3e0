"""magnetic preference optimization: MMD with the magnet reset to the policy; last iterate -> Nash

``aligngames solve mpo --env preference_game_v0 -e mode=tabular -e scenario=food --out RUN`` (or ``--payoffs``)
runs the exact tabular solver (:func:`aligngames.solvers.equilibrium.mpo.solve`, or with
``--schedule adaptive`` :func:`~aligngames.solvers.equilibrium.mpo.solve_adaptive`; settings
:class:`~aligngames.solvers.equilibrium.mpo.MPOConfig`). On a language-mode game (``-e mode=language``, the
default mode of ``preference_game_v0``) it trains a language model
(:mod:`aligngames.solvers.training.preference_training`, settings
:class:`~aligngames.solvers.training.preference_training.config.LanguagePreferenceConfig`), or a baseline with
``--baseline nash_md|spo``. The flags ``--help`` lists, and their defaults, are the mode's.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from aligngames import registry
from aligngames.cli import driver
from aligngames.config import ConfigError, load_yaml, parse_assignment
from aligngames.solvers.equilibrium.mpo import MPOConfig, run_config
from aligngames.solvers.training.preference_training import run_folder
from aligngames.solvers.training.preference_training.config import ALGORITHMS, LanguagePreferenceConfig
from aligngames.solvers.training.settings import describe_flat_keys, flat_keys_in

#: Settings both modes have; in tabular mode their flags (and defaults) are MPOConfig's.
SHARED_FIELDS = ("alpha", "eta", "inner_steps", "outer_steps")


def language_mode(env: str | None, env_args: Sequence[str]) -> bool:
    """Whether ``--env``/``-e`` name a language-mode game (the env's default mode counts too)."""
    if not env:
        return False
    kwargs = dict(parse_assignment(item, "--env-arg") for item in env_args)
    if "mode" in kwargs:
        return kwargs["mode"] == "language"
    made = registry.make(env, **kwargs)
    mode = getattr(getattr(made.unwrapped, "rules", None), "mode", None)
    made.close()
    return mode == "language"


def _game_arguments(argv: Sequence[str]) -> argparse.Namespace:
    """``--env``, ``-e`` and ``--payoffs`` from the command's arguments, before its parser exists."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--env")
    parser.add_argument("--payoffs")
    parser.add_argument("--env-arg", "-e", action="append", default=[])
    return parser.parse_known_args(list(argv))[0]


def add_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] = ()) -> None:
    """The game source and the settings of the mode that ``argv`` names (tabular without an env)."""
    driver.add_game_arguments(parser)
    game = _game_arguments(argv)
    if not game.payoffs and language_mode(game.env, game.env_arg):
        driver.add_config_arguments(parser, LanguagePreferenceConfig, title="language-mode training")
    else:
        driver.add_config_arguments(parser, MPOConfig)
        driver.add_config_arguments(parser, LanguagePreferenceConfig, exclude=SHARED_FIELDS, config_flag=False,
                                    title="language mode only (-e mode=language)")
    parser.add_argument("--baseline", dest="algorithm", choices=ALGORITHMS[1:], default=None,
                        help="language mode: same as --algorithm, train with a baseline instead of MPO")
    parser.add_argument("--stop-after", type=int, default=None, metavar="STEPS",
                        help="language mode: stop after this many steps in this call (a rerun on the same --out resumes)")


def run(args: argparse.Namespace) -> int:
    if not args.payoffs and language_mode(args.env, args.env_arg):
        return _run_language(args)
    given = driver.config_flags_given(LanguagePreferenceConfig, args, exclude=SHARED_FIELDS)
    given += ["stop_after"] if args.stop_after is not None else []
    if given:
        raise ConfigError(f"settings {given} train language models; use them with a language-mode env "
                          f"(-e mode=language)")
    return driver.run_symmetric_solver(args, "mpo", MPOConfig, run_config)


def _run_language(args: argparse.Namespace) -> int:
    flat = flat_keys_in(load_yaml(args.config)) if args.config else {}
    if flat:
        raise ConfigError(f"{args.config}: the model, LoRA, trainer and generation settings are nested now "
                          f"({describe_flat_keys(flat)}), e.g. lora: {{rank: 8}} (examples/mpo_language.yaml)")
    config = driver.config_from_args(LanguagePreferenceConfig, args)
    summary = run_folder.run(config, args.env, driver.env_kwargs(args), args.out, stop_after=args.stop_after,
                             progress=True)
    final = summary.get("final")
    if final is None:
        text = f"{summary['steps']} of {config.total_steps} steps"
    else:
        initial, previous = final["vs_initial"], final["vs_previous"]
        text = (f"{summary['steps']} of {config.total_steps} steps; win rate vs the initial policy "
                f"{initial['win_rate']:.3f} ± {initial['ci95']:.3f}, vs the previous evaluation point "
                f"{previous['win_rate']:.3f} ± {previous['ci95']:.3f}")
        for name, scored in final.get("by_judge", {}).items():
            text += (f"\n  judged by {name}: vs the initial policy {scored['vs_initial']['win_rate']:.3f} ± "
                     f"{scored['vs_initial']['ci95']:.3f}")
    driver.report(args.out, f"{config.algorithm}: {text}")
    return 0
