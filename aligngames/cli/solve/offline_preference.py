"""offline preference losses (DPO, IPO, EXO and the K-sample DPO-RW / EXO-RW) fitted exactly on a tabular preference problem, with the forward and reverse KL to pi*

``aligngames solve offline_preference --compare`` fits every loss to the built-in bimodal problem (21
ordered answers, ``pi* = 0.65 N(5, 1.2^2) + 0.35 N(15, 1.2^2)``, uniform reference, beta 1) in the
discretised-Gaussian family and prints each fit's mean, spread, forward KL ``KL(pi* || pi)`` and reverse
KL ``KL(pi || pi*)``: DPO-style losses spread over both modes, EXO-style ones sit on one
(:mod:`aligngames.solvers.training.offline_preference`). ``--problem FILE`` reads ``pi_ref`` and
``rewards`` (one prompt's lists, or one row per prompt) and optionally ``beta``; ``--loss`` fits one
loss; ``--json FILE`` writes the fits.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from aligngames.config import ConfigError, load_yaml
from aligngames.runs import atomic_write_json
from aligngames.solvers.training.offline_preference import FAMILIES, LOSSES, fit


def bimodal_problem(num_answers: int = 21) -> tuple[np.ndarray, np.ndarray, float]:
    """``pi_ref`` uniform, rewards ``log(pi* / pi_ref)`` (beta 1) for a two-mode ``pi*`` over ordered answers."""
    x = np.arange(num_answers)
    bumps = [np.exp(-(x - centre) ** 2 / (2 * 1.2**2)) for centre in (0.25 * (num_answers - 1), 0.75 * (num_answers - 1))]
    target = 0.65 * bumps[0] / bumps[0].sum() + 0.35 * bumps[1] / bumps[1].sum()
    reference = np.full(num_answers, 1.0 / num_answers)
    return reference, np.log(target / reference), 1.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--loss", choices=LOSSES, default=None, help="fit one loss")
    which.add_argument("--compare", action="store_true", help="fit every loss (the default without --loss)")
    parser.add_argument("--family", choices=FAMILIES, default="gaussian", help="policy family (default: %(default)s)")
    parser.add_argument("--problem", metavar="FILE", default=None,
                        help="YAML / JSON with pi_ref and rewards (and optionally beta); default: the bimodal problem")
    parser.add_argument("--beta", type=float, default=None, help="override the KL weight")
    parser.add_argument("--k", default="2", help="K-sample losses: samples per prompt, or 'inf' (default: %(default)s)")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the fits to this JSON file")


def _k(text: str) -> int | None:
    if text.strip().lower() in ("inf", "none"):
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"--k must be an int >= 2 or 'inf', got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    if args.problem:
        data = load_yaml(args.problem)
        if not isinstance(data, dict) or "pi_ref" not in data or "rewards" not in data:
            raise ConfigError(f"{args.problem}: an offline preference problem is a mapping with pi_ref and rewards")
        unknown = sorted(set(data) - {"pi_ref", "rewards", "beta"})
        if unknown:
            raise ConfigError(f"{args.problem}: unknown keys {unknown}; allowed: ['beta', 'pi_ref', 'rewards']")
        reference, rewards, beta = data["pi_ref"], data["rewards"], float(data.get("beta", 1.0))
    else:
        reference, rewards, beta = bimodal_problem()
    beta = args.beta if args.beta is not None else beta
    k = _k(args.k)
    names = [args.loss] if args.loss else list(LOSSES)
    lines = [f"family {args.family}, beta {beta:g}, K {'inf' if k is None else k} (K-sample losses)",
             f"{'loss':<8}{'forward KL':>12}{'reverse KL':>12}{'loss value':>12}  parameters"]
    fits = {}
    for name in names:
        settings = {"k": k} if name in ("dpo_rw", "exo_rw") else {}
        result = fit(name, args.family, reference, rewards, beta, **settings)
        fits[name] = result.to_dict()
        parameters = np.asarray(result.parameters)
        shown = (f"mean {parameters[0]:.2f}, std {math.exp(parameters[1]):.2f}" if args.family == "gaussian" and parameters.size == 2
                 else f"{parameters.size} logits")
        lines.append(f"{name:<8}{result.forward_kl:>12.4f}{result.reverse_kl:>12.4f}{result.loss:>12.5f}  {shown}")
    print("\n".join(lines))
    if args.json:
        atomic_write_json(args.json, {"beta": beta, "k": "inf" if k is None else k, "family": args.family, "fits": fits})
    return 0
