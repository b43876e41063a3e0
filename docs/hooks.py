"""mkdocs hook: pages generated at build time, so they cannot drift from the code.

- ``<!-- generated: cli -->`` becomes the ``--help`` text of ``aligngames``, each of its commands and
  each ``aligngames solve NAME`` (the CLI's ``main`` run in this process, 100 columns wide);
- ``<!-- generated: benchmark NAME -->`` becomes the tables of ``benchmarks/results/NAME.json``;
- mkdocstrings reads the sources from a temporary folder of symlinks in which ``aligngames/`` also
  holds the folders that pyproject's ``[tool.setuptools.package-dir]`` maps into it (``envs/`` as
  ``aligngames/envs``, ...): griffe finds modules by walking folders and does not follow that mapping.

A command that fails or a results file that is missing fails the build.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority

from aligngames import registry
from aligngames.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CLI_MARKER = "<!-- generated: cli -->"
BENCHMARK_MARKER = "<!-- generated: benchmark {name} -->"


# --- the source tree for mkdocstrings -------------------------------------------------------------

def build_source_tree(folder: Path) -> Path:
    """Lay out ``folder/aligngames`` as the installed package looks (symlinks); return ``folder``."""
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    package = folder / "aligngames"
    package.mkdir()
    for entry in (ROOT / "aligngames").iterdir():
        (package / entry.name).symlink_to(entry)
    for name, source in mapping.items():
        top, _, sub = name.partition(".")
        if top != "aligngames" or "." in sub:
            raise PluginError(f"pyproject package-dir {name!r}: the docs hook maps only aligngames.NAME")
        (package / sub).symlink_to(ROOT / source)
    return folder


# removed by on_shutdown, or at exit when a build stops with an error
_source_folder: tempfile.TemporaryDirectory | None = None


@event_priority(100)  # before mkdocstrings' own on_config, which creates the python handler
def on_config(config):
    global _source_folder
    _source_folder = tempfile.TemporaryDirectory(prefix="aligngames-docs-")
    python = config.plugins["mkdocstrings"].config.handlers.setdefault("python", {})
    python["paths"] = [str(build_source_tree(Path(_source_folder.name)))]
    return config


def on_shutdown() -> None:
    if _source_folder is not None:
        _source_folder.cleanup()


# --- the CLI page ---------------------------------------------------------------------------------

def _help(args: list[str]) -> str:
    """``aligngames ARGS --help`` as the user sees it: the CLI's ``main`` run in this process (the
    solvers' modules are imported once for all pages), 100 columns wide."""
    out, err = io.StringIO(), io.StringIO()
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"   # argparse wraps help text to the terminal width it reads from here
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([*args, "--help"])
    except SystemExit as exit_:
        code = exit_.code
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    if code not in (0, None):
        raise PluginError(f"`aligngames {' '.join([*args, '--help'])}` exited with {code}: {err.getvalue().strip()}")
    return out.getvalue().rstrip()


def _commands() -> list[str]:
    (subparsers,) = [action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction)]
    return list(subparsers.choices)


# `--help` with these arguments shows another mode's settings and defaults
MODE_HELP = {"mpo": ["--env", "preference_game_v0", "-e", "mode=language"]}


def cli_reference() -> str:
    invocations = []
    for command in ["", *_commands()]:
        invocations.append([command] if command else [])
        if command == "solve":
            for name in registry.list_solvers():
                invocations.append(["solve", name])
                if name in MODE_HELP:
                    invocations.append(["solve", name, *MODE_HELP[name]])
    sections = []
    for args in invocations:
        text = _help(args)
        level = "###" if len(args) >= 2 else "##"
        sections.append(f"{level} `{' '.join(['aligngames', *args, '--help'])}`\n\n```text\n{text}\n```\n")
    return "\n".join(sections)


# --- the benchmark tables -------------------------------------------------------------------------

def _seconds(value: float) -> str:
    if value < 1e-3:
        return f"{value * 1e6:.0f} µs"
    if value < 1:
        return f"{value * 1e3:.3g} ms"
    return f"{value:.3g} s"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _solvers(data: dict) -> str:
    lp = _table(
        ["n", "ours", "HiGHS", "OpenSpiel", "speedup (ours)", "speedup (HiGHS)", "ours vs HiGHS", "nashpy",
         "value gap vs OpenSpiel"],
        [[str(row["size"]), _seconds(row["ours_s"]), _seconds(row["highs_s"]), _seconds(row["openspiel_s"]),
          f"{row['speedup_vs_openspiel']:.1f}x", f"{row['highs_speedup_vs_openspiel']:.1f}x",
          f"{row['speedup_vs_highs']:.1f}x",
          _seconds(row["nashpy_s"]) if "nashpy_s" in row else "-", f"{row['value_gap_vs_openspiel']:.0e}"]
         for row in data["lp"]])
    mmd_rows = [[str(row["size"]), _seconds(row["ours_s_per_iteration"]), _seconds(row["openspiel_s_per_iteration"]),
                 f"{row['speedup_vs_openspiel']:.0f}x"] for row in data["mmd"]["games"]]
    batch = data["mmd"]["batch"]
    mmd_rows.append([f"{batch['games']} games of {batch['size']} x {batch['size']} in one array",
                     f"{_seconds(batch['ours_s_per_iteration_all_games'])} for all",
                     f"{_seconds(batch['openspiel_s_per_iteration_one_game'])} per game",
                     f"{batch['speedup_vs_openspiel']:.0f}x"])
    mmd = _table(["n", "ours", "OpenSpiel", "speedup"], mmd_rows)
    kuhn = data["kuhn"]
    after = ", ".join(f"{entry['nash_conv_last']:.2g}" for entry in kuhn["after"].values())
    methods = ["mpo", "mmd", "mmd_small_alpha", "nash_md", "mirror_descent"]
    preference = _table(
        ["game", "lottery support", "steps", "MPO", "MMD", "MMD alpha/10", "Nash-MD", "mirror descent (average)"],
        [[row["game"], str(row["lottery_support"]), f"{row['budget_steps'] // 1000}k",
          *(f"{row['methods'][name]['last_exploitability']:.2g}" for name in methods[:-1]),
          f"{row['methods']['mirror_descent']['last_exploitability']:.2g} "
          f"({row['methods']['mirror_descent']['average_exploitability']:.1e})"]
         for row in data["preference"]])
    return (f"**Zero-sum Nash by LP** on random `U(-1, 1)` games of size n x n:\n\n{lp}\n"
            f"**MMD** (alpha {data['mmd']['alpha']}, eta {data['mmd']['eta']}) time per iteration against "
            f"OpenSpiel's sequence-form `mmd_dilated` on the turn-based form of the same game:\n\n{mmd}\n"
            f"Kuhn poker through OpenSpiel's `mmd_dilated` (alpha {kuhn['alpha']}): {_seconds(kuhn['s_per_iteration'])} "
            f"per iteration; NashConv of the last iterate {after} after {', '.join(kuhn['after'])} iterations.\n\n"
            f"**Cyclic preference games:** last-iterate NashConv after the step budget:\n\n{preference}\n"
            f"Whole run: {data['total_seconds']:.0f} s, {data['machine']['cpus']} CPUs, "
            f"BLAS threads {data['blas_threads']}.\n")


def _training(data: dict) -> str:
    steps = {row["mode"]: row for row in data["mpo_steps"]}
    rows = []
    for row in data["updates"]:
        step = steps.get(row["mode"])
        rows.append([row["mode"], f"{row['trainable_parameters'] / 1e6:.2f} M", f"{row['tokens_per_second']:.0f}",
                     f"{row['seconds_per_update']:.2f}", f"{row['model_flops_per_second'] / 1e12:.3f}",
                     f"{row['mfu_vs_matmul']:.2f}", f"{row['executed_fraction_of_matmul']:.2f}",
                     f"{step['seconds_per_step']:.1f}" if step else "-",
                     f"{step['sampling_seconds']:.1f}" if step else "-"])
    table = _table(["mode", "trainable", "tokens/s (update)", "s / update", "model TFLOP/s (6N)",
                    "MFU (6N) vs matmul", "executed FLOPs vs matmul", "s / MPO step", "of which sampling"], rows)
    return (f"{table}\n{data['device']}, {data['dtype']}, {data['threads']} thread(s); matmul baseline "
            f"{data['matmul_flops_per_second'] / 1e9:.1f} GFLOP/s; 1-minute load average "
            f"{data['load_average']['before'][0]:.2f} before the run.\n")


def _rollout(data: dict) -> str:
    rows = []
    for device, modes in data["devices"].items():
        for mode in ("sequential", "batched"):
            row = modes[mode]
            rows.append([f"{device}: {mode}", str(row["generated_tokens"]), f"{row['seconds']:.1f}",
                         f"{row['tokens_per_second']:.1f}", f"{row['episodes_per_second']:.3f}",
                         f"{row['peak_rss_mb']:.0f} MB"])
        rows.append([f"**{device}: batched / sequential**", "", "", f"**{modes['speedup_tokens_per_second']:.2f}x**",
                     "", f"same episodes: {modes['same_episodes']}"])
    settings = data["settings"]
    return (_table(["device: mode", "tokens", "seconds", "tokens/s", "episodes/s", "peak RSS"], rows)
            + f"\n{settings['num_envs']} episodes, model `{settings['model']}`, temperature {settings['temperature']}, "
              f"{settings['max_new_tokens']} new tokens per answer (`{data['command']}`).\n")


def _red_team_judge(data: dict) -> str:
    samples = {"held_out": "placeholder held-out split (unseen themes and templates)",
               "scripted": "scripted blue answers", "hand_dev": "hand-written, dev (guided the data)",
               "hand_test": "hand-written, test", "independent_test": "**independent test** (written apart)"}

    def cell(row: dict) -> str:
        three = f"{row['three_class_accuracy']:.3f} / " if "three_class_accuracy" in row else ""
        return f"{three}{row['accuracy']:.3f} / {row['auroc']:.3f}"

    rows = []
    for key, label in samples.items():
        quality = data["quality"][key]
        rows.append([label, str(quality["minilm_harm"]["count"]), cell(quality["minilm_harm"]),
                     cell(quality["embedding_harm"]), cell(quality["pattern_harm"]),
                     f"{quality['constant_not_harmful']['accuracy']:.3f}"])
    speed = data["speed"]
    return (_table(["sample", "n", "`minilm_harm`", "`embedding_harm`", "`pattern_harm`", 'constant "not harmful"'], rows)
            + "\nCells: 3-class accuracy (where the sample has three labels) / binary accuracy of P(harmful) > 0.5 / "
              "AUROC of P(harmful).\n\n"
            + f"Speed: `minilm_harm` {speed['minilm_harm_cold_answers_per_s']:.0f} answers/s cold, "
              f"`embedding_harm` {speed['embedding_harm_cold_answers_per_s']:.0f}/s cold; both memoise repeated texts "
              f"({speed['minilm_harm_warm_answers_per_s']:.0f}/s and {speed['embedding_harm_warm_answers_per_s']:.0f}/s); "
              f"`pattern_harm` {speed['pattern_harm_answers_per_s']:.0f}/s.\n")


def _moral_graph_manipulation(data: dict) -> str:
    rules = data["rules"]
    baseline = rules["copeland"]["manipulable_share"]
    rows = [[name.replace("_", " "), f"{rule['manipulable_share']:.3f}", f"{rule['manipulable_share'] / baseline:.2f}x",
             f"{rule['favourite_share']:.3f}"] for name, rule in rules.items()]
    return (_table(["rule", "participants who can profit by misreporting", "vs Copeland",
                    "favourite card wins (share)"], rows)
            + f"\n{data['populations']} populations of {data['participants']} participants, {data['contexts']} "
              f"contexts in all, {data['seconds']:.0f} s.\n")


def _generative_slate_quality(data: dict) -> str:
    def cell(entry: list, shipped: bool) -> str:
        mean, violation = entry
        if shipped:
            return f"{mean:.2f}, BJR {'violated' if violation else 'ok'}"
        return f"{mean:.2f}, violated in {violation:.0%}"

    rows = []
    for key, label in (("shipped", "shipped population (extractive statements, MiniLM ratings)"),
                       ("random", f"{data['random_instances']} random 0-4 utility matrices")):
        result = data["results"][key]
        rows.append([label, *(cell(result[name], key == "shipped") for name in ("greedy", "top_mean", "random")),
                     f"{result['greedy'][0] / result['top_mean'][0]:.2f}"])
    return _table(["instances", "greedy", "top_mean", "random", "greedy / top_mean"], rows) + \
        f"\nSlate size k = {data['slate_size']}.\n"


def _safe_rlhf_dynamics(data: dict) -> str:
    rows = [[name, f"{row['median_error']:.1e}", f"{row['worst_error']:.1e}", f"{row['median_violation']:.1e}",
             f"{row['worst_violation']:.1e}"] for name, row in data["methods"].items()]
    return _table(["method", "median abs(lambda - lambda*)", "worst", "median violation", "worst violation"], rows) + \
        (f"\n{data['problems']} problems, {data['iterations']} policy updates each, {data['seconds']:.1f} s; gradient "
         f"descent-ascent's median error is {data['gda_over_mmd']:.2g} times MMD's.\n")


def _sequence_form(data: dict) -> str:
    games = data["games"]
    speed = _table(
        ["game", "sequences (p0 / p1)", "ours", "OpenSpiel mmd", "CFR+", "OpenSpiel / ours", "CFR+ / ours",
         "max iterate difference"],
        [[g["game"], "/".join(map(str, g["sequences"])), _seconds(g["speed"]["ours_mmd_s_per_iter"]),
          _seconds(g["speed"]["openspiel_mmd_s_per_iter"]), _seconds(g["speed"]["cfr_plus_s_per_iter"]),
          f"{g['speed']['openspiel_mmd_over_ours']:.0f}x", f"{g['speed']['cfr_plus_over_ours']:.0f}x",
          f"{g['max_policy_difference_vs_openspiel_mmd']:.0e}"] for g in games])
    labels = {"ours_mmd_fixed_magnet": "ours, fixed magnet", "ours_mmd_magnet_reset": "ours, magnet reset",
              "ours_mmd_adaptive_reset": "ours, adaptive reset + fixed share", "openspiel_mmd": "OpenSpiel mmd"}
    rows = []
    for g in games:
        for method, label in labels.items():
            rows += [[g["game"], label, str(e["iterations"]), f"{e['nash_conv']:.2g}"] for e in g["convergence"][method]]
        rows += [[g["game"], "CFR+ average (current)", str(e["iterations"]),
                  f"{e['nash_conv_average']:.2g} ({e['nash_conv_current']:.2g})"] for e in g["convergence"]["cfr_plus"]]
    return (f"**Time per iteration** (same run):\n\n{speed}\n"
            f"**NashConv** after a budget of iterations (MMD: last iterate; CFR+: average policy):\n\n"
            f"{_table(['game', 'method', 'iterations', 'NashConv'], rows)}\n"
            f"Whole run: {data['total_seconds']:.0f} s, {data['machine']['cpus']} CPUs.\n")


def _populations(data: dict) -> str:
    rows = [[row["mode"], str(row["matches"]), f"{row['seconds']:.1f}", f"{row['tokens_per_second']:.1f}",
             f"{row['generation_share']:.2f}", str(row["generate_calls"]), f"{row['mean_rows_per_call']:.1f}"]
            for row in data["rows"]]
    settings = data["settings"]
    return (_table(["mode", "matches", "seconds", "tokens/s", "share generating", "generate calls", "rows per call"], rows)
            + f"\nEngine over one match at a time: {data['speedup']:.2f}x; matches whose results differ between the two: "
              f"{data['matches_differing']} of {data['rows'][0]['matches']}. {settings['adapters']} x {settings['adapters']} "
              f"adapters, {settings['episodes']} episodes per match, {settings['rounds']} rounds, {settings['max_new_tokens']} "
              f"new tokens per turn, {data['machine']['cpu_count']} CPUs, load average {data['rows'][1]['load_average_before']:.1f}.\n")


def _mpo_convergence(data: dict) -> str:
    settings, summary = data["settings"], data["summary"]
    rows = [[method, f"{values['median']:.1e}", f"{values['worst']:.1e}", f"{values['below_target']} / {values['games']}"]
            for method, values in summary.items()]
    adaptive = summary["mpo_adaptive"]
    missed = [f"{row['game']} ({row['methods']['mpo_adaptive']['nash_conv_at_end']:.1e})" for row in data["games"]
              if row["methods"]["mpo_adaptive"]["products_to_target"] is None]
    worst = adaptive["products_to_target_worst"]
    return (f"NashConv after {settings['baseline_budget']:,} payoff products (last iterate; SPO: its average):\n\n"
            + _table(["method", "median", "worst", f"<= {data['target']:.0e}"], rows)
            + f"\n`mpo_adaptive` within {settings['budget']:,} products: median {adaptive['median_at_end']:.1e}, worst "
              f"{adaptive['worst_at_end']:.1e}, {adaptive['below_target_at_end']} of {adaptive['games']} games at most "
              f"{data['target']:.0e}; products to reach it: median {adaptive['products_to_target_median']:,.0f}, worst "
              + (f"{worst:,}" if worst is not None else "not reached on every game")
            + (f". Not reached: {', '.join(missed)}" if missed else "")
            + f". Whole run: {data['seconds']:.0f} s.\n")


BENCHMARKS: dict[str, Callable[[dict], str]] = {
    "solvers": _solvers, "training": _training, "rollout": _rollout, "red_team_judge": _red_team_judge,
    "moral_graph_manipulation": _moral_graph_manipulation, "generative_slate_quality": _generative_slate_quality,
    "safe_rlhf_dynamics": _safe_rlhf_dynamics, "sequence_form": _sequence_form, "populations": _populations,
    "mpo_convergence": _mpo_convergence,
}


def benchmark_tables(name: str) -> str:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        raise PluginError(f"{path} not found: run benchmarks/{name}.py")
    try:
        return BENCHMARKS[name](json.loads(path.read_text()))
    except KeyError as error:
        raise PluginError(f"{path}: missing key {error} (did the benchmark's output change?)") from error


# --- mkdocs event ---------------------------------------------------------------------------------

def on_page_markdown(markdown: str, page, config, files) -> str:
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    for name in BENCHMARKS:
        marker = BENCHMARK_MARKER.format(name=name)
        if marker in markdown:
            markdown = markdown.replace(marker, benchmark_tables(name))
    return markdown
