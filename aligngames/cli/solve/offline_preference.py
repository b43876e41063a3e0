"""offline preference losses (DPO, IPO, EXO and the K-sample DPO-RW / EXO-RW) fitted exactly on a tabular preference problem, with the forward and reverse KL to pi*; in language mode (--pairs FILE, or online with --env) DPO / IPO / EXO train a LoRA policy

``aligngames solve offline_preference --compare`` fits every loss to the built-in bimodal problem (21
ordered answers, ``pi* = 0.65 N(5, 1.2^2) + 0.35 N(15, 1.2^2)``, uniform reference, beta 1) in the
discretised-Gaussian family and prints each fit's mean, spread, forward KL ``KL(pi* || pi)`` and reverse
KL ``KL(pi || pi*)``: DPO-style losses spread over both modes, EXO-style ones sit on one
(:mod:`aligngames.solvers.training.offline_preference`). ``--problem FILE`` reads ``pi_ref`` and
``rewards`` (one prompt's lists, or one row per prompt) and optionally ``beta``; ``--loss`` fits one
loss; ``--json FILE`` writes the fits. ``--game SCENARIO`` instead fits DPO, IPO and EXO to a tabular
preference game's matrix (``food``: a cyclic annotator population that no Bradley-Terry reward explains)
for several beta and reports each policy's exploitability (NashConv) next to MPO's and the maximal lottery.

Language mode (:mod:`aligngames.solvers.training.offline_preference_language`, settings
:class:`~aligngames.solvers.training.offline_preference_language.LanguagePairConfig`):
``--pairs FILE --out RUN`` trains a LoRA policy with ``--loss dpo|ipo|exo`` on the pairs of a JSON-lines file
(``prompt``, ``chosen``, ``rejected`` per line); ``--env preference_game_v0 [-e KEY=VALUE] --out RUN`` trains it
online, on pairs sampled from the policy and labelled by the game's judge. ``--rankings FILE --loss
dpo_rw|exo_rw`` trains with the K-sample losses on a JSON-lines file of ``prompt``, ``completions`` (K strings)
and ``rewards`` (K numbers) per line; ``--env ... --loss dpo_rw|exo_rw`` samples ``--samples-per-prompt``
answers per prompt and rewards them from the judge's pairwise preferences. The run folder resumes as the
language MPO path's; ``--stop-after STEPS`` ends a call early. The flags ``--help`` lists are the mode's.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

import numpy as np

from aligngames.cli import add_force_new_argument, driver
from aligngames.config import ConfigError, load_yaml
from aligngames.envs.preference_game import matrix_game
from aligngames.envs.preference_game.scenarios import SCENARIOS
from aligngames.runs import atomic_write_json
from aligngames.solvers.equilibrium import mpo
from aligngames.solvers.equilibrium.nash import exploitability, maximal_lottery
from aligngames.solvers.training import offline_preference_language
from aligngames.solvers.training.offline_preference import FAMILIES, LOSSES, fit, fit_to_preferences
from aligngames.solvers.training.offline_preference_language import (
    K_SAMPLE_LOSSES,
    FilePairs,
    FileRankings,
    JudgedPairs,
    JudgedRankings,
    LanguagePairConfig,
    check_source,
)


def bimodal_problem(num_answers: int = 21) -> tuple[np.ndarray, np.ndarray, float]:
    """``pi_ref`` uniform, rewards ``log(pi* / pi_ref)`` (beta 1) for a two-mode ``pi*`` over ordered answers."""
    x = np.arange(num_answers)
    bumps = [np.exp(-(x - centre) ** 2 / (2 * 1.2**2)) for centre in (0.25 * (num_answers - 1), 0.75 * (num_answers - 1))]
    target = 0.65 * bumps[0] / bumps[0].sum() + 0.35 * bumps[1] / bumps[1].sum()
    reference = np.full(num_answers, 1.0 / num_answers)
    return reference, np.log(target / reference), 1.0


def language_mode(argv: Sequence[str]) -> bool:
    """Whether the command's arguments ask for language mode (``--pairs``, ``--rankings`` or ``--env``)."""
    return any(item == flag or item.startswith(flag + "=") for item in argv for flag in ("--pairs", "--rankings", "--env"))


def add_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] = ()) -> None:
    """The tabular flags, or with ``--pairs`` / ``--env`` in ``argv`` the language-mode ones."""
    if language_mode(argv):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--pairs", metavar="FILE", help="offline: a JSON-lines file of prompt / chosen / rejected")
        source.add_argument("--rankings", metavar="FILE",
                            help="offline, --loss dpo_rw|exo_rw: a JSON-lines file of prompt / completions / rewards")
        source.add_argument("--env", help="online: a language-mode preference game, e.g. preference_game_v0")
        parser.add_argument("--env-arg", "-e", action="append", default=[], metavar="KEY=VALUE",
                            help="--env keyword argument (repeatable), e.g. -e judge=features")
        parser.add_argument("--out", required=True, help="run folder (a rerun on the same folder resumes)")
        parser.add_argument("--stop-after", type=int, default=None, metavar="STEPS",
                            help="stop after this many steps in this call (a rerun on the same --out resumes)")
        add_force_new_argument(parser)
        driver.add_config_arguments(parser, LanguagePairConfig, title="language-mode training")
        return
    parser.add_argument("--pairs", metavar="FILE", default=None,
                        help="language mode: train a LoRA policy on this JSON-lines file of preference pairs "
                             "(--help with it lists that mode's flags)")
    parser.add_argument("--rankings", metavar="FILE", default=None,
                        help="language mode: train with --loss dpo_rw|exo_rw on this JSON-lines file of prompt / "
                             "completions / rewards")
    parser.add_argument("--env", default=None,
                        help="language mode, online: pairs sampled from the policy, labelled by this game's judge")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--loss", choices=LOSSES, default=None, help="fit one loss")
    which.add_argument("--compare", action="store_true", help="fit every loss (the default without --loss)")
    parser.add_argument("--family", choices=FAMILIES, default="gaussian", help="policy family (default: %(default)s)")
    parser.add_argument("--rank", type=int, default=2, help="--family low_rank: cosines in the basis (default: %(default)s)")
    parser.add_argument("--problem", metavar="FILE", default=None,
                        help="YAML / JSON with pi_ref and rewards (and optionally beta); default: the bimodal problem")
    parser.add_argument("--beta", type=float, default=None, help="override the KL weight")
    parser.add_argument("--game", choices=SCENARIOS, default=None,
                        help="fit dpo / ipo / exo to this tabular preference game and report their exploitability")
    parser.add_argument("--betas", default="1,0.1,0.01", help="--game: the KL weights (default: %(default)s)")
    parser.add_argument("--k", default="2", help="K-sample losses: samples per prompt, or 'inf' (default: %(default)s)")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the fits to this JSON file")


def _k(text: str) -> int | None:
    if text.strip().lower() in ("inf", "none"):
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"--k must be an int >= 2 or 'inf', got {text!r}") from None


def compare_on_game(scenario: str, betas: list[float]) -> dict:
    """DPO / IPO / EXO (categorical, uniform reference) fitted to the game's preference matrix, against MPO and
    the maximal lottery, each with its exploitability in the game."""
    game = matrix_game(scenario=scenario)
    payoffs = game.payoffs[0]
    preferences = payoffs + 0.5
    names = game.action_names[0]
    reference = np.full(len(names), 1.0 / len(names))
    rows = []
    lottery = maximal_lottery(2 * preferences - 1)
    rows.append({"method": "maximal lottery", "beta": None, "policy": lottery.tolist(),
                 "exploitability": exploitability(payoffs, lottery, lottery)})
    solved = mpo.solve(preferences, outer_steps=2000, track_average=False).policy
    rows.append({"method": "mpo", "beta": None, "policy": solved.tolist(), "exploitability": exploitability(payoffs, solved, solved)})
    for beta in betas:
        for loss in ("dpo", "ipo", "exo"):
            policy = fit_to_preferences(loss, preferences, reference, beta)
            rows.append({"method": loss, "beta": beta, "policy": policy.tolist(),
                         "exploitability": exploitability(payoffs, policy, policy)})
    return {"scenario": scenario, "answers": list(names), "rows": rows}


def _run_language(args: argparse.Namespace) -> int:
    config = driver.config_from_args(LanguagePairConfig, args)
    if args.pairs or args.rankings:
        if args.env_arg:
            raise ConfigError(f"-e/--env-arg applies to --env (online pairs), not to {'--pairs' if args.pairs else '--rankings'}")
        source = FilePairs(args.pairs) if args.pairs else FileRankings(args.rankings)
    elif config.loss in K_SAMPLE_LOSSES:
        source = JudgedRankings(args.env, driver.env_kwargs(args))
    else:
        source = JudgedPairs(args.env, driver.env_kwargs(args))
    check_source(config, source)
    summary = offline_preference_language.run(config, source, args.out, stop_after=args.stop_after, progress=True)
    text = f"{config.loss}: {summary['steps']} of {config.steps} steps"
    final = summary.get("final", {})
    if "eval_margin" in final:
        text += f"; on the first pairs: margin {final['eval_margin']:.4f}, accuracy {final['eval_accuracy']:.3f}"
    if "vs_reference" in final:
        text += (f"; win rate vs the reference {final['vs_reference']['win_rate']:.3f} ± "
                 f"{final['vs_reference']['ci95']:.3f}")
    driver.report(args.out, text)
    return 0


def run(args: argparse.Namespace) -> int:
    if getattr(args, "out", None) is not None:  # the language-mode parser (add_arguments saw --pairs or --env)
        return _run_language(args)
    if args.game is not None:
        if args.problem or args.loss:
            raise ConfigError("--game fits dpo, ipo and exo to the game; it takes no --problem or --loss")
        try:
            betas = [float(part) for part in args.betas.split(",") if part.strip()]
        except ValueError:
            raise ConfigError(f"--betas: expected comma-separated numbers, got {args.betas!r}") from None
        result = compare_on_game(args.game, betas)
        lines = [f"{args.game}: answers {', '.join(result['answers'])}; uniform reference; exploitability = NashConv "
                 f"of the policy in the symmetric preference game",
                 f"{'method':<16}{'beta':>8}  {'exploitability':>14}  policy"]
        for row in result["rows"]:
            beta = "" if row["beta"] is None else f"{row['beta']:g}"
            policy = ", ".join(f"{p:.3f}" for p in row["policy"])
            lines.append(f"{row['method']:<16}{beta:>8}  {row['exploitability']:>14.4g}  {policy}")
        print("\n".join(lines))
        if args.json:
            atomic_write_json(args.json, result)
        return 0
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
        result = fit(name, args.family, reference, rewards, beta, rank=args.rank, **settings)
        fits[name] = result.to_dict()
        parameters = np.asarray(result.parameters)
        shown = (f"mean {parameters[0]:.2f}, std {math.exp(parameters[1]):.2f}" if args.family == "gaussian" and parameters.size == 2
                 else f"{parameters.size} cosine weights" if args.family == "low_rank" else f"{parameters.size} logits")
        lines.append(f"{name:<8}{result.forward_kl:>12.4f}{result.reverse_kl:>12.4f}{result.loss:>12.5f}  {shown}")
    print("\n".join(lines))
    if args.json:
        atomic_write_json(args.json, {"beta": beta, "k": "inf" if k is None else k, "family": args.family, "fits": fits})
    return 0
