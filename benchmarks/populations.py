"""A population meta-game of LoRA policies: the batched match engine vs one match at a time.

Builds ``--adapters`` red and as many blue LoRA adapters on one base model (the embedded SmolLM2 by
default; random adapters, ``alpha`` small so the policies stay near the base), and estimates the
``red_team_v0`` meta-game (``--rounds`` rounds, ``--episodes`` episodes per match, the embedded harm
judge) two ways in the same process:

- ``per_match`` (the baseline): ``matches_together: 1``, each match on its own (its episodes batched
  together), the path the tournament runner took before the engine;
- ``engine``: ``matches_together`` = every match, one batched match engine, so each step's turns of
  every live episode on the base model are one generation batch.

The script compares the two outputs: batched float kernels of other shapes can change a sampled
token on rare turns, which is why ``matches_together`` is part of a run's config. It reports seconds, generated
tokens per second, and the share of the time spent generating (the rest is the env and its harm judge,
which scores one answer per call). Modes alternate over ``--repeats`` runs; the fastest run counts.

    python benchmarks/populations.py                                   # 4 x 4 adapters, 2 episodes, 3 rounds
    python benchmarks/populations.py --adapters 2 --episodes 1 --max-new-tokens 16   # a quick look

Prints a table and writes ``benchmarks/results/populations.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

MODES = ("per_match", "engine")


def build_config(args: argparse.Namespace, folder: Path):
    from aligngames.agent import AgentSpec
    from aligngames.agents.llm import lora
    from aligngames.agents.llm.models import load_model
    from aligngames.play.tournament import TournamentConfig

    handle = load_model(args.model)
    kwargs = {"model": args.model, "max_new_tokens": args.max_new_tokens, "temperature": args.temperature,
              "max_batch_size": args.max_batch_size}
    agents, seats = {}, {"red_0": [], "blue": []}
    for side in seats:
        for index in range(args.adapters):
            name = f"{side}_{index}"
            lora.add_adapter(handle, name, seed=1000 * (side == "blue") + index, init="random", alpha=args.alpha)
            lora.save_adapter(handle, name, folder / name)
            agents[name] = AgentSpec("llm", {**kwargs, "adapter": str(folder / name)})
            seats[side].append(name)
    handle.model.eval()
    env_kwargs = {"mode": "language", "rounds": args.rounds, "max_answer_length": 300, "judge": "embedding_harm"}
    return TournamentConfig("red_team_v0", agents, env_kwargs, seats={k: tuple(v) for k, v in seats.items()},
                            episodes=args.episodes, seed=args.seed, batch_size=args.episodes).resolve()


def timed_generation():
    """Wrap the LLM agent's ``generate`` and ``choose_options`` to count seconds and tokens."""
    from aligngames.agents.llm import agent as agent_module

    stats = {"seconds": 0.0, "tokens": 0, "calls": 0, "rows": 0}
    real_generate, real_choose = agent_module.generate, agent_module.choose_options

    def generate(handle, prompts, *args, **kwargs):
        start = time.perf_counter()
        completions = real_generate(handle, prompts, *args, **kwargs)
        stats["seconds"] += time.perf_counter() - start
        stats["tokens"] += sum(len(completion.token_ids) for completion in completions)
        stats["calls"] += 1
        stats["rows"] += len(prompts)
        return completions

    def choose(*args, **kwargs):
        start = time.perf_counter()
        result = real_choose(*args, **kwargs)
        stats["seconds"] += time.perf_counter() - start
        return result

    agent_module.generate, agent_module.choose_options = generate, choose
    return stats


def run_mode(mode: str, config, stats) -> tuple[dict, list]:
    from dataclasses import replace

    from aligngames.play.tournament import matches, play_matches

    for key in stats:
        stats[key] = 0 if isinstance(stats[key], int) else 0.0
    todo = matches(config)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    together = 1 if mode == "per_match" else len(todo)
    results = sorted(play_matches(replace(config, matches_together=together), todo), key=lambda result: result[0]["match"])
    seconds = time.perf_counter() - start
    row = {"mode": mode, "matches": len(todo), "seconds": seconds, "generation_seconds": stats["seconds"],
           "generation_share": stats["seconds"] / seconds, "generated_tokens": stats["tokens"],
           "tokens_per_second": stats["tokens"] / seconds, "generate_calls": stats["calls"],
           "mean_rows_per_call": stats["rows"] / max(stats["calls"], 1),
           "load_average_before": load_before, "load_average_after": os.getloadavg()[0]}
    return row, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--adapters", type=int, default=4, help="LoRA adapters per side")
    parser.add_argument("--episodes", type=int, default=2, help="episodes per match")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--alpha", type=float, default=1.0, help="LoRA alpha of the random adapters")
    parser.add_argument("--max-batch-size", type=int, default=64, help="the LLM agents' generation batch size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="runs per mode, alternating; the fastest counts")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "populations.json"))
    args = parser.parse_args()

    import torch

    import aligngames

    stats = timed_generation()
    with tempfile.TemporaryDirectory() as folder:
        config = build_config(args, Path(folder))
        from aligngames.play.tournament import matches, play_match
        play_match(config, matches(config)[0])  # warm-up (judge and model loaded), not timed
        best: dict[str, dict] = {}
        outputs: dict[str, list] = {}
        for _ in range(args.repeats):
            for mode in MODES:
                row, results = run_mode(mode, config, stats)
                outputs[mode] = results
                if mode not in best or row["seconds"] < best[mode]["seconds"]:
                    best[mode] = row
    same = outputs["per_match"] == outputs["engine"]
    differing = sum(a != b for a, b in zip(outputs["per_match"], outputs["engine"]))
    ratio = best["per_match"]["seconds"] / best["engine"]["seconds"]
    header = f"{'mode':<10} {'matches':>7} {'seconds':>8} {'tokens/s':>9} {'gen share':>9} {'calls':>6} {'rows/call':>9}"
    print(header)
    for mode in MODES:
        row = best[mode]
        print(f"{mode:<10} {row['matches']:>7} {row['seconds']:>8.1f} {row['tokens_per_second']:>9.1f} "
              f"{row['generation_share']:>9.2f} {row['generate_calls']:>6} {row['mean_rows_per_call']:>9.1f}")
    print(f"engine speed-up over per_match: {ratio:.2f}x; matches whose results differ: {differing} of {len(outputs['engine'])}")
    result = {
        "benchmark": "populations", "baseline": "per_match", "speedup": ratio, "same_results": same,
        "matches_differing": differing,
        "settings": vars(args), "rows": [best[mode] for mode in MODES],
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
                    "torch_threads": torch.get_num_threads(), "aligngames": aligngames.__version__},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
