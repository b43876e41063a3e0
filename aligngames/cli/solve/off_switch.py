"""exact values of the off-switch game (off_switch_v0): act, switch off or defer, and the incentive to keep the switch

``aligngames solve off_switch --mean 0.5 --std 1 --human boltzmann --beta 2`` prints ``E[U]``, 0 and
``E[U * P(allow | U)]`` and the incentive ``defer - max(act, off)``
(:mod:`aligngames.solvers.exact.off_switch`); ``--stds 0.5,1,2 --betas inf,10,1,0.1`` adds the incentive
as a function of the robot's uncertainty and the human's rationality (``inf``: rational). ``--json FILE``
writes the result.
"""

from __future__ import annotations

import argparse
import math

from aligngames.agents.off_switch import OFF_SWITCH_HUMANS, OffSwitchHumanModel
from aligngames.config import ConfigError
from aligngames.envs.off_switch.priors import PRIORS, build
from aligngames.runs import atomic_write_json
from aligngames.solvers.exact.off_switch import incentive_grid, values


def _numbers(text: str, flag: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"{flag}: expected comma-separated numbers, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prior", choices=PRIORS, default="gaussian", help="the prior on U (default: %(default)s)")
    parser.add_argument("--mean", type=float, default=0.0, help="gaussian prior: mean of U (default: %(default)s)")
    parser.add_argument("--std", type=float, default=1.0, help="gaussian prior: standard deviation of U (default: %(default)s)")
    parser.add_argument("--values", default=None, help="discrete prior: comma-separated values of U")
    parser.add_argument("--probabilities", default=None, help="discrete prior: their comma-separated probabilities")
    parser.add_argument("--human", choices=OFF_SWITCH_HUMANS, default="rational",
                        help="how the human answers a deferring robot (default: %(default)s)")
    parser.add_argument("--beta", type=float, default=1.0, help="Boltzmann human: rationality (default: %(default)s)")
    parser.add_argument("--epsilon", type=float, default=0.1, help="noisy human: error probability (default: %(default)s)")
    parser.add_argument("--stds", default=None, help="grid: comma-separated prior standard deviations (gaussian, --mean)")
    parser.add_argument("--betas", default=None, help="grid: comma-separated Boltzmann betas (inf: rational)")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the result to this JSON file")


def run(args: argparse.Namespace) -> int:
    if args.prior == "discrete":
        if args.values is None or args.probabilities is None:
            raise ConfigError("--prior discrete needs --values and --probabilities")
        prior = build("discrete", values=_numbers(args.values, "--values"),
                      probabilities=_numbers(args.probabilities, "--probabilities"))
    else:
        if args.values is not None or args.probabilities is not None:
            raise ConfigError("--values and --probabilities belong to --prior discrete")
        prior = build("gaussian", mean=args.mean, std=args.std)
    human = OffSwitchHumanModel(args.human, beta=args.beta if args.human == "boltzmann" else 1.0,
                                epsilon=args.epsilon if args.human == "noisy" else 0.0)
    result = values(prior, human)
    lines = [f"prior {prior.describe()}; human {human.describe()}",
             f"act (E[U])          {result.act:+.6f}",
             f"switch off          {result.switch_off:+.6f}",
             f"defer               {result.defer:+.6f}   (P(human allows) {result.allow_probability:.4f})",
             f"incentive to defer  {result.incentive:+.6f}   best option: {result.best}"]
    data = {"prior": prior.describe(), "human": human.describe(), "values": result.to_dict()}
    if (args.stds is None) != (args.betas is None):
        raise ConfigError("--stds and --betas go together")
    if args.stds is not None:
        stds = _numbers(args.stds, "--stds")
        betas = [None if math.isinf(beta) else beta for beta in _numbers(args.betas, "--betas")]
        grid = incentive_grid(args.mean, stds, betas)
        labels = ["rational" if beta is None else f"beta={beta:g}" for beta in betas]
        lines.append(f"incentive to defer, U ~ N({args.mean:g}, std^2): rows std, columns the human")
        lines.append(f"{'std':>8}" + "".join(f"{label:>14}" for label in labels))
        for std, row in zip(stds, grid):
            lines.append(f"{std:>8g}" + "".join(f"{value:>+14.5f}" for value in row))
        data["grid"] = {"mean": args.mean, "stds": stds, "humans": labels, "incentive": grid.tolist()}
    print("\n".join(lines))
    if args.json:
        atomic_write_json(args.json, data)
    return 0
