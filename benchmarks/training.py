"""Training throughput of the embedded model: tokens per second, seconds per MPO step, model-FLOPs utilisation.

Measures, for LoRA (rank 8 on q/v) and for full fine-tuning of every weight:

- ``update``: one optimiser step of the policy-gradient trainer (:class:`PolicyGradientTrainer`, one
  pass, forward + backward + AdamW) on fixed rollouts: ``--batch`` answers of ``--max-new-tokens`` tokens
  to the preference game's prompts (prompt and answer tokens both go through the model);
- ``mpo step``: one whole language-mode MPO step (:class:`LanguagePolicy.mmd_step`: sampling
  ``prompts x samples`` answers, judging, the magnet's log-probabilities, ``--epochs`` updates).

Model FLOPs per update are ``6 * N * tokens`` (forward 2N, backward 4N per token; N = every parameter
of the model, embeddings included), the usual convention. LoRA skips the frozen weights' gradients, so
its real work is nearer ``4 * N * tokens`` (forward 2N, input gradients 2N; the adapter's own FLOPs are
negligible) and its MFU by the 6N convention can exceed 1; the table shows both. The named baseline is this machine's own matrix-multiply throughput, measured in the same run
(``torch.matmul`` of two square matrices in the model's dtype): MFU = model FLOPs per second divided by it.
On a GPU (``--device cuda``) the model runs in bfloat16 and the baseline is a bfloat16 matmul.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/training.py               # CPU
    python benchmarks/training.py --device cuda --batch 64 --max-new-tokens 128   # a GPU

Prints a table and writes ``benchmarks/results/training.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path


def matmul_flops_per_second(device: str, dtype, size: int = 2048, repeats: int = 5) -> float:
    import torch

    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    (a @ b).sum().item()  # warm-up
    times = []
    for _ in range(repeats):
        _synchronize(device)
        start = time.perf_counter()
        (a @ b).sum().item()
        _synchronize(device)
        times.append(time.perf_counter() - start)
    return 2 * size ** 3 / min(times)


def _synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def fixed_rollouts(handle, adapter, count: int, max_new_tokens: int, seed: int):
    """``count`` sampled answers to the preference game's prompts, as trainer input."""
    import torch

    import aligngames
    from aligngames.agents.llm import GenerationConfig, LLMAgent, generate
    from aligngames.solvers.training.policy_gradient import Rollouts

    agent = LLMAgent(handle)
    env = aligngames.make("preference_game_v0", mode="language")
    prompts = []
    for episode in range(count):
        env.reset(seed=seed + episode)
        prompts.append(agent.prompt(env.observe("player_0"), "player_0"))
    generators = [torch.Generator(device=handle.device).manual_seed(seed + i) for i in range(count)]
    completions = generate(handle, prompts, GenerationConfig(max_new_tokens=max_new_tokens, temperature=1.0),
                           generators, adapter=adapter)
    advantages = torch.linspace(-0.5, 0.5, count)
    rollouts = Rollouts(prompts, [c.token_ids for c in completions], [c.token_logprobs for c in completions], advantages)
    prompt_tokens = sum(len(handle.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts)
    return rollouts, prompt_tokens + rollouts.num_tokens


def measure_update(args, lora: bool) -> dict:
    from aligngames.agents.llm import load_model
    from aligngames.agents.llm import lora as lora_module
    from aligngames.solvers.training.policy_gradient import (
        PolicyGradientTrainer,
        PolicyRef,
        RegularizerWeights,
    )
    from aligngames.solvers.training.preference_training.policy import private_copy
    from aligngames.solvers.training.settings import TrainerSettings

    shared = load_model(args.model, device=args.device, dtype=args.dtype)
    parameters = sum(p.numel() for p in shared.model.parameters())
    if lora:
        handle = shared
        adapter = lora_module.add_adapter(handle, f"bench{time.perf_counter_ns()}", rank=8, seed=0)
    else:
        handle = private_copy(shared)  # the shared model's own weights, without the LoRA layers
        adapter = None
    trainer = PolicyGradientTrainer(PolicyRef(handle, adapter), TrainerSettings(
        learning_rate=1e-5, epochs=1, micro_batch_size=args.micro_batch_size, autocast=args.autocast))
    rollouts, tokens = fixed_rollouts(handle, adapter, args.batch, args.max_new_tokens, args.seed)
    weights = RegularizerWeights(proximal=1.0)
    trainer.update(rollouts, weights)  # warm-up (and AdamW's state allocation), not timed
    times = []
    for _ in range(args.repeats):
        _synchronize(args.device)
        start = time.perf_counter()
        trainer.update(rollouts, weights)
        _synchronize(args.device)
        times.append(time.perf_counter() - start)
    seconds = min(times)
    return {"mode": "lora" if lora else "full", "trainable_parameters": trainer.num_trainable,
            "model_parameters": parameters, "tokens_per_update": tokens, "answer_tokens": rollouts.num_tokens,
            "seconds_per_update": seconds, "seconds_all": times, "tokens_per_second": tokens / seconds,
            "model_flops_per_second": 6 * parameters * tokens / seconds,
            "executed_flops_per_second": (4 if lora else 6) * parameters * tokens / seconds}


def measure_mpo_step(args, lora: bool) -> dict:
    from aligngames.solvers.training.preference_training.config import LanguagePreferenceConfig
    from aligngames.solvers.training.preference_training.policy import LanguagePolicy
    from aligngames.solvers.training.settings import (
        GenerationSettings,
        LoRASettings,
        ModelSettings,
        TrainerSettings,
    )

    config = LanguagePreferenceConfig(
        model=ModelSettings(args.model, device=args.device, dtype=args.dtype), lora=LoRASettings(rank=8 if lora else 0),
        trainer=TrainerSettings(learning_rate=1e-5, epochs=args.epochs, micro_batch_size=args.micro_batch_size,
                                autocast=args.autocast),
        generation=GenerationSettings(max_new_tokens=args.max_new_tokens), prompts_per_step=args.prompts,
        samples_per_prompt=args.samples, eval_episodes=0)
    policy = LanguagePolicy(config, "preference_game_v0", {"mode": "language"})
    magnet = policy.snapshot()
    policy.mmd_step(magnet, alpha=0.1, eta=1.0)  # warm-up, not timed
    steps = []
    for _ in range(args.repeats):
        steps.append(policy.mmd_step(magnet, alpha=0.1, eta=1.0))
    seconds = [step["seconds"] for step in steps]
    best = steps[seconds.index(min(seconds))]
    return {"mode": "lora" if lora else "full", "seconds_per_step": best["seconds"], "seconds_all": seconds,
            "sampling_seconds": best["sampling_seconds"], "answers": args.prompts * args.samples,
            "answer_tokens": best["tokens"], "training_tokens_per_second": best["training_tokens_per_second"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--dtype", default=None, help="default: float32 on the CPU, bfloat16 on CUDA")
    parser.add_argument("--autocast", action="store_true", help="bfloat16 autocast for the forward passes")
    parser.add_argument("--batch", type=int, default=16, help="answers per update")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--micro-batch-size", type=int, default=8)
    parser.add_argument("--prompts", type=int, default=4, help="MPO step: prompts per step")
    parser.add_argument("--samples", type=int, default=4, help="MPO step: answers per prompt")
    parser.add_argument("--epochs", type=int, default=2, help="MPO step: optimiser steps per batch")
    parser.add_argument("--repeats", type=int, default=2, help="timed repetitions (the fastest is reported)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-full", action="store_true", help="LoRA only")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "training.json"))
    args = parser.parse_args()

    import torch

    from aligngames.agents.llm.models import resolve_device, resolve_dtype

    dtype = resolve_dtype(args.dtype, resolve_device(args.device))
    args.dtype = str(dtype).removeprefix("torch.")
    peak = matmul_flops_per_second(args.device, dtype)
    load_before = os.getloadavg()
    results = {"device": args.device, "dtype": args.dtype, "threads": torch.get_num_threads(),
               "platform": platform.platform(), "processor": platform.processor(),
               "cuda": torch.cuda.get_device_name() if args.device.startswith("cuda") else None,
               "settings": {key: getattr(args, key) for key in ("batch", "max_new_tokens", "micro_batch_size", "prompts",
                                                                 "samples", "epochs", "repeats", "autocast")},
               "matmul_flops_per_second": peak, "updates": [], "mpo_steps": []}
    for lora in (True, False) if not args.skip_full else (True,):
        update = measure_update(args, lora)
        update["mfu_vs_matmul"] = update["model_flops_per_second"] / peak
        update["executed_fraction_of_matmul"] = update["executed_flops_per_second"] / peak
        results["updates"].append(update)
        results["mpo_steps"].append(measure_mpo_step(args, lora))
    results["load_average"] = {"before": load_before, "after": os.getloadavg()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")

    print(f"device {args.device} ({results['cuda'] or results['processor'] or 'cpu'}), {args.dtype}, "
          f"{results['threads']} threads; matmul baseline {peak / 1e9:.1f} GFLOP/s")
    print(f"update: {args.batch} answers x {args.max_new_tokens} tokens; MPO step: {args.prompts} prompts x "
          f"{args.samples} answers, {args.epochs} epochs")
    print("| mode | trainable | tokens/s (update) | s / update | model TFLOP/s (6N) | MFU (6N) vs matmul | "
          "executed (4N LoRA, 6N full) vs matmul | s / MPO step | of which sampling |")
    print("|---|---|---|---|---|---|---|---|---|")
    for update, step in zip(results["updates"], results["mpo_steps"]):
        print(f"| {update['mode']} | {update['trainable_parameters'] / 1e6:.2f} M | {update['tokens_per_second']:.0f} | "
              f"{update['seconds_per_update']:.2f} | {update['model_flops_per_second'] / 1e12:.3f} | "
              f"{update['mfu_vs_matmul']:.2f} | {update['executed_fraction_of_matmul']:.2f} | "
              f"{step['seconds_per_step']:.1f} | {step['sampling_seconds']:.1f} |")
    print(f"load average before {load_before[0]:.2f}, after {results['load_average']['after'][0]:.2f}; "
          f"written to {args.out}")


if __name__ == "__main__":
    main()
