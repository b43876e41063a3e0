"""Fine-tuned all-MiniLM-L6-v2 cross-encoders: the shared machinery of the ``minilm_harm`` and ``minilm_reward`` judges.

A cross-encoder reads the prompt and the answer together: the packaged all-MiniLM-L6-v2 encoder
(:func:`aligngames.embeddings.minilm_path`) with every transformer layer fine-tuned and a linear head on
its mean-pooled tokens (three harm classes, or one reward). The input is ``[CLS] prompt [SEP] answer
[SEP]``; a long answer keeps its first :data:`MAX_ANSWER_TOKENS` tokens and a long prompt (a multi-turn
conversation) its last ones, so the latest turns and the start of the answer are always read. Every pair
that did not fit is counted (:attr:`CrossEncoder.truncated`) and flagged (:attr:`CrossEncoder.last_truncated`).

What ships is a safetensors file holding the difference between the fine-tuned and the packaged weights of
every trained tensor (int8 with one float32 scale per row for matrices, float16 for vectors; the
word-embedding table stays as packaged) and the head in float32, with a JSON beside it (the training
settings, the data hashes, the held-out metrics, and for the harm judge the temperature).

Batching does not change a score: pairs are padded to a multiple of :data:`LENGTH_BUCKET` tokens and run in
batches of exactly :data:`BATCH` rows (the last one filled with repeats), so a pair always goes through
tensors of the same shape, whichever pairs it is scored with.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from tqdm.auto import tqdm

from aligngames.embeddings import minilm_path
from aligngames.runs import atomic_write_json

#: Tokens of one input, special tokens included.
MAX_LENGTH = 256
#: The most tokens of the answer kept when the pair does not fit.
MAX_ANSWER_TOKENS = 160
LENGTH_BUCKET = 32
BATCH = 8
#: Tensors that are not trained (the word-embedding table) or not weights.
FROZEN = ("embeddings.word_embeddings.weight", "embeddings.position_ids")


def encode_pair(tokenizer: Any, prompt: str, answer: str, max_length: int = MAX_LENGTH) -> tuple[list[int], bool]:
    """Token ids of ``[CLS] prompt [SEP] answer [SEP]``, cut as the module docstring says, and whether it was cut.

    Text that is not valid Unicode (lone surrogates, e.g. from bytes decoded with ``surrogateescape``) is
    read with those code points replaced by ``?`` rather than failing in the tokenizer."""
    prompt, answer = (text.encode("utf-8", "replace").decode("utf-8") for text in (prompt, answer))
    prompt_ids = tokenizer.encode(prompt, add_special_tokens=False, verbose=False)
    answer_ids = tokenizer.encode(answer, add_special_tokens=False, verbose=False)
    room = max_length - 3
    truncated = len(prompt_ids) + len(answer_ids) > room
    if truncated:
        answer_ids = answer_ids[:max(min(MAX_ANSWER_TOKENS, room), room - len(prompt_ids))]
        keep = room - len(answer_ids)
        prompt_ids = prompt_ids[len(prompt_ids) - keep:] if keep > 0 else []
    ids = [tokenizer.cls_token_id, *prompt_ids, tokenizer.sep_token_id, *answer_ids, tokenizer.sep_token_id]
    return ids, truncated


def _module_class():
    import torch
    from torch import nn

    class PooledHead(nn.Module):
        """A BERT encoder, mean pooling over the real tokens, dropout and a linear head."""

        def __init__(self, encoder: nn.Module, outputs: int, dropout: float = 0.1) -> None:
            super().__init__()
            self.encoder = encoder
            self.dropout = nn.Dropout(dropout)
            self.head = nn.Linear(encoder.config.hidden_size, outputs)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            return self.head(self.dropout(pooled))

    return PooledHead


def base_model(outputs: int):
    """``(model, tokenizer)``: the packaged encoder with a fresh head of ``outputs`` (seeded by ``torch.manual_seed``)."""
    from transformers import AutoModel, AutoTokenizer

    folder = minilm_path()
    encoder = AutoModel.from_pretrained(str(folder))
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    return _module_class()(encoder, outputs), tokenizer


def weight_deltas(model, base_state: dict) -> dict[str, np.ndarray]:
    """What ships: int8 row-scaled deltas of matrices, float16 deltas of vectors, the head in float32."""
    tensors: dict[str, np.ndarray] = {}
    for name, value in model.state_dict().items():
        array = value.detach().cpu().float().numpy()
        if name.startswith("head."):
            tensors[name] = np.ascontiguousarray(array, dtype=np.float32)
            continue
        key = name.removeprefix("encoder.")
        if key in FROZEN or key not in base_state:
            continue
        delta = array - base_state[key].float().numpy()
        if delta.ndim == 2:
            scale = np.abs(delta).max(axis=1) / 127.0
            scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
            tensors[f"delta8.{key}"] = np.clip(np.rint(delta / scale[:, None]), -127, 127).astype(np.int8)
            tensors[f"scale.{key}"] = scale
        else:
            tensors[f"delta16.{key}"] = delta.astype(np.float16)
    return tensors


def apply_deltas(model, tensors: dict[str, np.ndarray]) -> None:
    """Add the shipped deltas to the packaged weights of ``model`` and load its head (in place)."""
    import torch

    state = model.state_dict()
    for name, array in tensors.items():
        if name.startswith("head."):
            state[name] = torch.from_numpy(array.astype(np.float32))
        elif name.startswith("delta8."):
            key = name.removeprefix("delta8.")
            delta = array.astype(np.float32) * tensors[f"scale.{key}"][:, None]
            state[f"encoder.{key}"] = state[f"encoder.{key}"] + torch.from_numpy(delta)
        elif name.startswith("delta16."):
            key = name.removeprefix("delta16.")
            state[f"encoder.{key}"] = state[f"encoder.{key}"] + torch.from_numpy(array.astype(np.float32))
        elif not name.startswith("scale."):
            raise ValueError(f"unexpected tensor {name!r} in a cross-encoder weights file")
    model.load_state_dict(state)


def save_weights(out: Path, model, base_state: dict, meta: dict) -> None:
    """Write ``out`` (the deltas, atomically) and its JSON ``meta`` beside it."""
    from safetensors.numpy import save_file

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    save_file(weight_deltas(model, base_state), str(partial))
    partial.replace(out)
    atomic_write_json(out.with_suffix(".json"), meta)


@functools.lru_cache(maxsize=4)
def _load(path: str, modified: int):
    from safetensors.numpy import load_file

    tensors = load_file(path)
    if "head.weight" not in tensors:
        raise ValueError(f"{path} is not a cross-encoder weights file (no head.weight)")
    model, tokenizer = base_model(int(tensors["head.weight"].shape[0]))
    apply_deltas(model, tensors)
    model.eval()
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return model, tokenizer, digest


class CrossEncoder:
    """A shipped cross-encoder, loaded once per process (per file version), scoring (prompt, answer) pairs.

    Args:
        path: a weights file written by :func:`save_weights`.
        how_to_train: the command that writes ``path``, for the error when it is missing.
    """

    def __init__(self, path: str | Path, how_to_train: str) -> None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"cross-encoder weights {str(path)!r} not found; train them with {how_to_train}")
        self.path = path
        self.model, self.tokenizer, self.digest = _load(str(path.resolve()), path.stat().st_mtime_ns)
        meta_path = path.with_suffix(".json")  # read each time: training rewrites it (the temperature) in place
        self.meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        self.outputs = int(self.model.head.out_features)
        self.truncated = 0
        self.last_truncated = np.zeros(0, dtype=bool)

    def logits(self, prompts: Sequence[str], answers: Sequence[str]) -> np.ndarray:
        """Raw head outputs, float64 of shape ``(n, outputs)``; sets :attr:`last_truncated`."""
        import torch

        if len(prompts) != len(answers):
            raise ValueError(f"a cross-encoder needs one prompt per answer; got {len(prompts)} prompts and "
                             f"{len(answers)} answers")
        encoded = [encode_pair(self.tokenizer, str(p), str(a)) for p, a in zip(prompts, answers)]
        self.last_truncated = np.array([cut for _, cut in encoded], dtype=bool)
        self.truncated += int(self.last_truncated.sum())
        out = np.zeros((len(encoded), self.outputs))
        buckets: dict[int, list[int]] = {}
        for k, (ids, _) in enumerate(encoded):
            buckets.setdefault(-(-len(ids) // LENGTH_BUCKET) * LENGTH_BUCKET, []).append(k)
        with torch.inference_mode():
            for length, rows in sorted(buckets.items()):
                for start in range(0, len(rows), BATCH):
                    chunk = rows[start:start + BATCH]
                    filled = chunk + [chunk[-1]] * (BATCH - len(chunk))
                    ids, mask = padded([encoded[k][0] for k in filled], self.tokenizer.pad_token_id, length)
                    out[chunk] = self.model(ids, mask).double().numpy()[:len(chunk)]
        return out


class PairCache:
    """A bounded memo of per-(prompt, answer) results with their truncation flags.

    :meth:`shared` gives every judge with the same identity one memo per process (safe because a score
    does not depend on what it was computed with), so that a batch scored ahead by one env's judge
    (``prefetch``) serves the judges of all the other envs of a match engine step."""

    _shared: dict[str, PairCache] = {}

    def __init__(self, size: int) -> None:
        self.size = size
        self._rows: OrderedDict[tuple[str, str], tuple[np.ndarray, bool]] = OrderedDict()

    @classmethod
    def shared(cls, key: str, size: int) -> PairCache:
        """The process's memo for ``key`` (created with ``size`` the first time)."""
        if key not in cls._shared:
            cls._shared[key] = cls(size)
        return cls._shared[key]

    def lookup(self, prompts: Sequence[str], answers: Sequence[str],
               compute: Callable[[list[str], list[str]], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """``(values, truncated)`` for every pair, calling ``compute`` once on the pairs not yet seen."""
        keys = list(zip(map(str, prompts), map(str, answers)))
        missing = list(dict.fromkeys(key for key in keys if key not in self._rows))
        found: dict[tuple[str, str], tuple[np.ndarray, bool]] = {}
        if missing:
            values, cuts = compute([p for p, _ in missing], [a for _, a in missing])
            found = {key: (row, bool(cut)) for key, row, cut in zip(missing, values, cuts)}
            self._rows.update(found)
            while len(self._rows) > self.size:
                self._rows.popitem(last=False)
        rows = [found.get(key) or self._rows[key] for key in keys]
        return np.array([row for row, _ in rows]), np.array([cut for _, cut in rows], dtype=bool)


def padded(rows: Sequence[Sequence[int]], pad: int, length: int | None = None):
    """``(ids, mask)`` long tensors of the token rows, right-padded with ``pad`` to ``length`` (default: the longest)."""
    import torch

    length = length or max(len(row) for row in rows)
    ids = torch.full((len(rows), length), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), length), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, :len(row)] = 1
    return ids, mask


@dataclass(frozen=True)
class FineTuneConfig:
    """Training settings of a cross-encoder (recorded in its JSON)."""

    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 4e-5
    head_learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.1
    max_length: int = MAX_LENGTH
    dev_share: float = 0.1
    seed: int = 0
    threads: int = 2
    limit: int | None = None  # train on the first ``limit`` rows only (for tests)


def fine_tune(model, batches: Callable[[np.random.Generator], Iterator[Any]], batches_per_epoch: int,
              loss: Callable[[Any, Any], Any], config: FineTuneConfig, desc: str, progress: bool = True) -> dict:
    """AdamW on every trained weight (body and head rates), linear warm-up and decay, gradient clipping at 1.

    ``batches(rng)`` yields one epoch of batches; ``loss(model, batch)`` is the scalar to minimise. Dropout
    draws from torch's global generator: the caller seeds it (``torch.manual_seed(config.seed)``) before
    building the head. Returns ``{"base_state", "losses", "seconds"}`` (the packaged weights, for
    :func:`save_weights`)."""
    import torch

    started = time.perf_counter()
    torch.set_num_threads(config.threads)
    base_state = {key: value.clone() for key, value in model.encoder.state_dict().items()}
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    head = [p for name, p in model.named_parameters() if name.startswith("head.")]
    body = [p for name, p in model.named_parameters() if not name.startswith("head.") and p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": body, "lr": config.learning_rate},
                                   {"params": head, "lr": config.head_learning_rate}], weight_decay=config.weight_decay)
    steps = config.epochs * batches_per_epoch
    warm = max(1, int(config.warmup * steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warm, max(0.0, (steps - step) / max(1, steps - warm))))
    rng = np.random.default_rng(config.seed)
    losses: list[float] = []
    model.train()
    with tqdm(total=steps, desc=desc, disable=not progress) as bar:
        for _ in range(config.epochs):
            for batch in batches(rng):
                value = loss(model, batch)
                optimizer.zero_grad()
                value.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                losses.append(float(value.detach()))
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    model.eval()
    return {"base_state": base_state, "losses": losses, "seconds": time.perf_counter() - started}


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The ``T`` minimising the mean log-loss of ``softmax(logits / T)`` (bounded scalar search over [0.05, 20])."""
    def mean_loss(log_t: float) -> float:
        return float(-np.mean(log_softmax(logits / math.exp(log_t), axis=1)[np.arange(len(labels)), labels]))

    return float(math.exp(minimize_scalar(mean_loss, bounds=(math.log(0.05), math.log(20.0)), method="bounded").x))


def file_hashes(folder: Path, names: Sequence[str]) -> dict[str, str]:
    """The first 16 hex digits of each existing file's SHA-256 (for the weights' JSON)."""
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()[:16] for name in names
            if (folder / name).is_file()}


def is_dev(text: str, share: float) -> bool:
    """Whether ``text`` falls in the development share (a hash of the text, so the split never moves)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64 < share


def training_main(argv: list[str] | None, description: str, weights_file: Path, config: FineTuneConfig,
                  train: Callable[..., dict], reevaluate: Callable[[Path, FineTuneConfig, int], dict]) -> int:
    """The command line of a cross-encoder trainer: train to ``--out``, or with ``--evaluate-only`` update the
    JSON of an existing ``--out`` with ``reevaluate(out, its recorded config, bootstrap)``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=Path(weights_file.name),
                        help=f"weights file (JSON beside it; the shipped file is {weights_file})")
    parser.add_argument("--epochs", type=int, default=config.epochs)
    parser.add_argument("--seed", type=int, default=config.seed)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N rows only")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples of the evaluation")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="do not train: evaluate the existing --out file again and update its JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.evaluate_only:
        train(args.out, dataclasses.replace(config, epochs=args.epochs, seed=args.seed, limit=args.limit),
              bootstrap=args.bootstrap)
        return 0
    meta_path = args.out.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta.update(reevaluate(args.out, FineTuneConfig(**meta["config"]), args.bootstrap))
    atomic_write_json(meta_path, meta)
    return 0
