"""Batched multi-env rollouts vs one env at a time, with an LLM agent.

Plays the same ``--num-envs`` episodes of ``preference_game_v0`` (language mode; one LLMAgent in
both seats) two ways:

- ``sequential`` (the baseline): one env at a time, one prompt per model call, the way
  TextArena-style loops call a model per turn;
- ``batched``: all env copies in lockstep with ``aligngames.play.rollout.play_episodes``, so each round
  of turns is one batched generation.

Sampling is seeded per turn, so both ways produce the same episodes (the script checks it) and
generate the same tokens; the comparison is pure speed. Each way runs in its own subprocess so
that its peak memory (max RSS; on CUDA also the peak allocated GPU memory) is its own. Model
loading and a warm-up call are not timed. On a shared machine other processes take CPU time (and
torch's multi-threaded kernels, which the batched mode uses, suffer most when a core is taken
away), so the JSON records the load average around each run; compare runs taken on a quiet machine.

    python benchmarks/rollout.py                       # CPU, and CUDA too where available
    python benchmarks/rollout.py --devices cpu --num-envs 16 --max-new-tokens 48 --repeats 3

Prints a table and writes ``benchmarks/results/rollout.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

MODES = ("sequential", "batched")


def run_worker(args: argparse.Namespace) -> dict:
    import torch

    import aligngames
    from aligngames.agents.llm import GenerationConfig, LLMAgent
    from aligngames.play.rollout import play_episodes
    from aligngames.seeding import derive_seed

    agent = LLMAgent.from_pretrained(
        args.model, device=args.device,
        generation=GenerationConfig(max_new_tokens=args.max_new_tokens, temperature=args.temperature),
        max_batch_size=args.num_envs,
    )

    def make_env():
        return aligngames.make("preference_game_v0", mode="language")

    seats = {"player_0": agent, "player_1": agent}
    agent.reset(1)
    play_episodes(make_env, seats, [derive_seed(args.seed, "warmup")])  # warm-up, not timed
    seeds = [derive_seed(args.seed, "episode", e) for e in range(args.num_envs)]
    agent.reset(args.seed)
    if agent.handle.device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    if args.worker == "batched":
        episodes = play_episodes(make_env, seats, seeds, record_turns=True)
    else:
        episodes = [episode for seed in seeds for episode in play_episodes(make_env, seats, [seed], record_turns=True)]
    if agent.handle.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    tokens = sum(len(step["completion_ids"]) for episode in episodes for step in episode.steps)
    result = {
        "mode": args.worker,
        "device": str(agent.handle.device),
        "dtype": str(agent.handle.dtype).removeprefix("torch."),
        "torch_threads": torch.get_num_threads(),
        "episodes": len(episodes),
        "turns": sum(len(episode.steps) for episode in episodes),
        "generated_tokens": tokens,
        "seconds": seconds,
        "tokens_per_second": tokens / seconds,
        "episodes_per_second": len(episodes) / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        # other processes on the machine compete for its cores; the 1-minute load average shows how much
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0],
        "cpu_count": os.cpu_count(),
        "answers": [episode.record["answers"] for episode in episodes],
    }
    if agent.handle.device.type == "cuda":
        result["peak_gpu_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20
        result["gpu"] = torch.cuda.get_device_name()
    return result


def run_mode(args: argparse.Namespace, mode: str, device: str) -> dict:
    command = [sys.executable, __file__, "--worker", mode, "--device", device, "--model", args.model,
               "--num-envs", str(args.num_envs), "--max-new-tokens", str(args.max_new_tokens),
               "--temperature", str(args.temperature), "--seed", str(args.seed)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{mode} on {device} failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu, plus cuda where available")
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="runs per mode, alternating; the fastest counts")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "rollout.json"))
    parser.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--device", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_worker(args)))
        return 0

    import torch

    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    report = {"command": " ".join(sys.argv), "platform": platform.platform(), "processor": platform.processor(),
              "settings": {k: getattr(args, k) for k in ("model", "num_envs", "max_new_tokens", "temperature", "seed",
                                                         "repeats")},
              "devices": {}}
    rows = []
    for device in devices:
        # the modes alternate, and each keeps its fastest run: the run least disturbed by other load
        results: dict[str, dict] = {}
        for _ in range(args.repeats):
            for mode in MODES:
                result = run_mode(args, mode, device)
                if mode not in results or result["seconds"] < results[mode]["seconds"]:
                    results[mode] = result
        same = results["batched"]["answers"] == results["sequential"]["answers"]
        for result in results.values():
            result.pop("answers")
        speedup = results["batched"]["tokens_per_second"] / results["sequential"]["tokens_per_second"]
        report["devices"][device] = {**results, "speedup_tokens_per_second": speedup, "same_episodes": same}
        for mode in MODES:
            r = results[mode]
            rows.append((device, mode, r["generated_tokens"], r["seconds"], r["tokens_per_second"],
                         r["episodes_per_second"], r["peak_rss_mb"], r.get("peak_gpu_memory_mb")))
        rows.append((device, "speedup", None, None, speedup, None, None, None))
        if not same:
            print(f"warning: on {device} the batched episodes differ from the sequential ones", file=sys.stderr)

    header = f"{'device':<8} {'mode':<11} {'tokens':>7} {'seconds':>8} {'tokens/s':>9} {'episodes/s':>10} {'peak RSS MB':>11} {'peak GPU MB':>11}"
    print(header)
    print("-" * len(header))
    for device, mode, tokens, seconds, tps, eps, rss, gpu in rows:
        if mode == "speedup":
            print(f"{device:<8} {'batched/seq':<11} {'':>7} {'':>8} {tps:>8.2f}x")
            continue
        gpu_text = f"{gpu:>11.0f}" if gpu is not None else f"{'-':>11}"
        print(f"{device:<8} {mode:<11} {tokens:>7d} {seconds:>8.1f} {tps:>9.1f} {eps:>10.3f} {rss:>11.0f} {gpu_text}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
