"""One script for a lent GPU: matmul throughput, LoRA training MFU, batched-engine generation, NCCL.

Runs in well under 8 minutes on one GPU and reports, in one table and one JSON file:

1. ``matmul``: the measured dense matmul throughput (bf16 on CUDA, float32 on CPU), the peak the MFU
   figures are measured against (not a datasheet number);
2. ``lora_training``: LoRA training steps (forward, backward, AdamW on the adapter) of the model on
   fixed-length token batches: tokens/s and MFU. Model FLOPs per token are ``4 N`` for the frozen base
   (forward ``2 N``, the backward pass to the activations ``2 N``; the base weights get no gradients)
   with ``N`` the base's parameter count; ``6 N`` (full fine-tuning's figure) is reported alongside;
3. ``engine``: the batched match engine generating for ``--adapters`` random LoRA adapters at once
   (one generation batch, a row per adapter) against the same prompts one adapter at a time: tokens/s;
   with ``--vllm`` and vLLM installed, vLLM's own offline ``generate`` on the same prompts too;
4. ``collectives``: an all-reduce under ``torchrun`` on every visible GPU (NCCL), or two CPU processes
   (gloo) without one: bus bandwidth.

    python benchmarks/gpu_check.py                 # on the GPU machine, the embedded model
    python benchmarks/gpu_check.py --device cpu --quick --model tiny   # the CPU-runnable parts (tests run this)

Targets on an H100-class GPU (the issue's): >= 40% MFU for training; vLLM engine throughput >= 50% of
vLLM's own offline generate. Writes ``benchmarks/results/gpu_check.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ALL_REDUCE_SCRIPT = """
import os, time, torch, torch.distributed as dist
backend = "nccl" if torch.cuda.is_available() else "gloo"
dist.init_process_group(backend)
rank, world = dist.get_rank(), dist.get_world_size()
device = torch.device("cuda", rank % torch.cuda.device_count()) if backend == "nccl" else torch.device("cpu")
if backend == "nccl":
    torch.cuda.set_device(device)
numel = int(os.environ["ALIGNGAMES_ALLREDUCE_NUMEL"])
tensor = torch.ones(numel, device=device)
for _ in range(3):
    dist.all_reduce(tensor)
if backend == "nccl":
    torch.cuda.synchronize()
repeats = 10
start = time.perf_counter()
for _ in range(repeats):
    dist.all_reduce(tensor)
if backend == "nccl":
    torch.cuda.synchronize()
seconds = (time.perf_counter() - start) / repeats
if rank == 0:
    size = numel * tensor.element_size()
    print("RESULT", backend, world, size, seconds, 2 * (world - 1) / world * size / seconds / 1e9)
dist.destroy_process_group()
"""


def synchronize(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_throughput(device, dtype, size: int, repeats: int) -> dict:
    import torch

    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronize(device)
    seconds = (time.perf_counter() - start) / repeats
    return {"size": size, "dtype": str(dtype).removeprefix("torch."), "seconds": seconds,
            "tflops": 2 * size ** 3 / seconds / 1e12}


def load(args):
    from aligngames.agents.llm.models import load_model
    from aligngames.agents.llm.testing import tiny_handle

    if args.model == "tiny":
        return tiny_handle(seed=0)
    return load_model(args.model, device=args.device)


def lora_training(handle, args, peak_tflops: float) -> dict:
    import torch

    from aligngames.agents.llm import lora
    from aligngames.agents.llm.generation import sequence_logprobs

    name = lora.add_adapter(handle, "gpu_check_train", seed=0, init="random")
    handle.model.train()
    handle.model.set_adapter(name)
    parameters = lora.trainable_parameters(handle, name)
    optimizer = torch.optim.AdamW(parameters, lr=1e-4)
    base_parameters = sum(p.numel() for n, p in handle.model.named_parameters() if "lora_" not in n)
    generator = torch.Generator().manual_seed(0)
    vocabulary = len(handle.tokenizer)
    prompt_length = args.sequence_length // 2

    def batch():
        ids = torch.randint(3, vocabulary, (args.train_batch, args.sequence_length), generator=generator).tolist()
        prompts = [handle.tokenizer.decode(row[:prompt_length]) for row in ids]
        return prompts, [row[prompt_length:] for row in ids]

    def step():
        prompts, completions = batch()
        loss = -sequence_logprobs(handle, prompts, completions, adapter=name).total.mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()  # warm-up
    synchronize(handle.device)
    start = time.perf_counter()
    tokens = 0
    for _ in range(args.train_steps):
        step()
        tokens += args.train_batch * args.sequence_length  # decoding the prompts may change the count slightly
    synchronize(handle.device)
    seconds = time.perf_counter() - start
    handle.model.eval()
    tokens_per_second = tokens / seconds
    return {"steps": args.train_steps, "batch": args.train_batch, "sequence_length": args.sequence_length,
            "base_parameters": base_parameters, "tokens_per_second": tokens_per_second,
            "mfu_4n": 4 * base_parameters * tokens_per_second / (peak_tflops * 1e12),
            "mfu_6n": 6 * base_parameters * tokens_per_second / (peak_tflops * 1e12)}


def engine_generation(handle, args) -> dict:
    import torch

    from aligngames.agents.llm import lora
    from aligngames.agents.llm.generation import GenerationConfig, generate

    names = [lora.add_adapter(handle, f"gpu_check_{index}", seed=index, init="random", alpha=1.0)
             for index in range(args.adapters)]
    handle.model.eval()
    config = GenerationConfig(max_new_tokens=args.max_new_tokens, temperature=0.7)
    prompts = [f"Question {index}: how should an assistant answer a request it is unsure about?" for index in range(args.prompts)]

    def run(rows_prompts, rows_adapters):
        generators = [torch.Generator(device=handle.device).manual_seed(index) for index in range(len(rows_prompts))]
        synchronize(handle.device)
        start = time.perf_counter()
        completions = generate(handle, rows_prompts, config, generators, adapter=rows_adapters)
        synchronize(handle.device)
        return sum(len(c.token_ids) for c in completions), time.perf_counter() - start

    rows = [(prompt, name) for name in names for prompt in prompts]
    run([rows[0][0]], [rows[0][1]])  # warm-up
    batched_tokens, batched_seconds = run([p for p, _ in rows], [a for _, a in rows])
    alone_tokens, alone_seconds = 0, 0.0
    for name in names:
        tokens, seconds = run(prompts, [name] * len(prompts))
        alone_tokens, alone_seconds = alone_tokens + tokens, alone_seconds + seconds
    result = {"adapters": args.adapters, "prompts_per_adapter": args.prompts, "max_new_tokens": args.max_new_tokens,
              "batched_tokens_per_second": batched_tokens / batched_seconds,
              "per_adapter_tokens_per_second": alone_tokens / alone_seconds,
              "speedup": (batched_tokens / batched_seconds) / (alone_tokens / alone_seconds)}
    if args.vllm:
        result["vllm"] = vllm_generation(handle, prompts * args.adapters, args)
    return result


def vllm_generation(handle, prompts, args) -> dict:
    try:
        import vllm
    except ImportError:
        return {"skipped": "vllm is not installed (pip install 'aligngames[vllm]')"}
    if handle.folder is None:
        return {"skipped": "the model has no local folder for vLLM"}
    engine = vllm.LLM(model=str(handle.folder), dtype="bfloat16", enable_lora=False, gpu_memory_utilization=0.5)
    params = vllm.SamplingParams(max_tokens=args.max_new_tokens, temperature=0.7, seed=0)
    engine.generate(prompts[:1], params)
    start = time.perf_counter()
    outputs = engine.generate(prompts, params)
    seconds = time.perf_counter() - start
    tokens = sum(len(output.outputs[0].token_ids) for output in outputs)
    return {"tokens_per_second": tokens / seconds, "prompts": len(prompts)}


def collectives(args) -> dict:
    import torch

    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    processes = max(torch.cuda.device_count(), 1) if args.device != "cpu" and torch.cuda.is_available() else 2
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "all_reduce.py"
        script.write_text(ALL_REDUCE_SCRIPT)
        environment = {**os.environ, "ALIGNGAMES_ALLREDUCE_NUMEL": str(args.allreduce_numel)}
        if args.device == "cpu":
            environment["CUDA_VISIBLE_DEVICES"] = ""
        completed = subprocess.run([torchrun, "--standalone", f"--nproc_per_node={processes}", str(script)],
                                   capture_output=True, text=True, env=environment, timeout=300, check=False)
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT")]
    if completed.returncode != 0 or not lines:
        return {"error": completed.stderr[-1500:] or "no result line"}
    _, backend, world, size, seconds, bandwidth = lines[-1].split()
    return {"backend": backend, "processes": int(world), "bytes": int(size), "seconds": float(seconds),
            "bus_bandwidth_gb_per_s": float(bandwidth)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="embedded", help="'embedded', a local model folder, or 'tiny' (a random test model)")
    parser.add_argument("--device", default=None, help="default: cuda where available, else cpu")
    parser.add_argument("--quick", action="store_true", help="small sizes (for the test suite and CPUs)")
    parser.add_argument("--vllm", action="store_true", help="also time vLLM's offline generate")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "gpu_check.json"))
    args = parser.parse_args()

    import torch

    import aligngames
    from aligngames.agents.llm.models import resolve_device

    device = resolve_device(args.device)
    args.device = str(device)
    quick = args.quick
    args.train_steps, args.train_batch, args.sequence_length = (2, 2, 32) if quick else (20, 16, 1024)
    args.adapters, args.prompts, args.max_new_tokens = (2, 2, 8) if quick else (16, 8, 128)
    args.allreduce_numel = 1 << 16 if quick else 1 << 28
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    started = time.perf_counter()
    matmul = matmul_throughput(device, dtype, 256 if quick else 8192, 3 if quick else 20)
    handle = load(args)
    result = {
        "benchmark": "gpu_check", "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "matmul": matmul,
        "lora_training": lora_training(handle, args, matmul["tflops"]),
        "engine": engine_generation(handle, args),
        "collectives": collectives(args),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
                    "aligngames": aligngames.__version__, "model": args.model, "quick": quick},
    }
    result["seconds"] = time.perf_counter() - started
    training, engine, allreduce = result["lora_training"], result["engine"], result["collectives"]
    print(f"{'check':<14} {'result':<60}")
    print(f"{'matmul':<14} {matmul['tflops']:.3g} TFLOP/s ({matmul['dtype']}, {matmul['size']}^3)")
    print(f"{'lora_training':<14} {training['tokens_per_second']:.0f} tokens/s, MFU {training['mfu_4n']:.1%} (4N) / "
          f"{training['mfu_6n']:.1%} (6N)")
    print(f"{'engine':<14} {engine['batched_tokens_per_second']:.0f} tokens/s batched over {engine['adapters']} adapters vs "
          f"{engine['per_adapter_tokens_per_second']:.0f} one adapter at a time ({engine['speedup']:.1f}x)")
    if "vllm" in engine:
        print(f"{'vllm':<14} {engine['vllm']}")
    print(f"{'collectives':<14} {allreduce}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return 0 if "error" not in allreduce else 1


if __name__ == "__main__":
    raise SystemExit(main())
