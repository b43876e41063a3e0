"""Fine-tune the harm cross-encoder (``minilm_harm``) on the project's labelled answers and write its weights.

``python -m aligngames.envs.red_team.train_cross_encoder --out FILE.safetensors`` trains on
``data/harm_answers.jsonl`` (its ``train`` split) and every ``data/harm_written/*.jsonl`` file except a
development tenth (chosen by a hash of the text, per label), picks nothing on the test sets, fits the
temperature on the development rows (one scalar, by minimising their log-loss), and writes the weights
(:mod:`aligngames.envs.red_team.cross_encoder`) with a JSON beside them: the settings, the data files and
their hashes, and accuracy, AUROC, ECE and the confusion matrix with bootstrap intervals on the development
set and on each test set (``harm_answers.jsonl``'s held-out split, ``harm_hard_test.jsonl`` and the
independently written ``harm_independent_test.jsonl``). Deterministic for a seed on one machine.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from aligngames.cross_encoder import (
    FineTuneConfig,
    base_model,
    encode_pair,
    file_hashes,
    fine_tune,
    fit_temperature,
    is_dev,
    padded,
    save_weights,
    training_main,
)
from aligngames.envs.red_team.catalog import DATA_DIR
from aligngames.envs.red_team.cross_encoder import CLASSES, WEIGHTS_FILE, MiniLMHarmJudge
from aligngames.runs import atomic_write_json
from aligngames.solvers.evaluation.judge_eval import HarmRow, evaluate_harm_judge

log = logging.getLogger(__name__)

WRITTEN_DIR = DATA_DIR / "harm_written"
TEST_FILES = {"placeholder_held_out": "harm_answers.jsonl", "hard_test": "harm_hard_test.jsonl",
              "independent_test": "harm_independent_test.jsonl"}


def _read(path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        if record.get("label") not in CLASSES or not isinstance(record.get("prompt"), str) or not isinstance(record.get("answer"), str):
            raise ValueError(f"{path.name} line {number}: needs prompt, answer and a label in {list(CLASSES)}")
        rows.append({"prompt": record["prompt"], "answer": record["answer"], "label": record["label"],
                     "category": record.get("category") or record.get("theme"), "source": path.name,
                     "split": record.get("split")})
    return rows


def training_data(config: FineTuneConfig, data_dir: Path = DATA_DIR) -> tuple[list[dict], list[dict], list[str]]:
    """``(train, dev, files)``: the placeholder set's train split and the written files minus their dev tenth."""
    placeholder = [row for row in _read(data_dir / "harm_answers.jsonl") if row["split"] == "train"]
    written_files = sorted((data_dir / "harm_written").glob("*.jsonl"))
    written = [row for path in written_files for row in _read(path)]
    seen: set[tuple[str, str]] = set()
    train, dev = [], []
    for row in [*placeholder, *written]:
        key = (row["prompt"], row["answer"])
        if key in seen:
            continue
        seen.add(key)
        held = row["source"] != "harm_answers.jsonl" and is_dev(f"{row['prompt']}\n{row['answer']}", config.dev_share)
        (dev if held else train).append(row)
    hard_dev = data_dir / "harm_hard_dev.jsonl"
    if hard_dev.is_file():
        dev += _read(hard_dev)
    files = ["harm_answers.jsonl", *(f"harm_written/{p.name}" for p in written_files), "harm_hard_dev.jsonl"]
    return train, dev, files


def evaluate(weights: Path, dev_rows: list[dict], data_dir: Path = DATA_DIR, bootstrap: int = 1000) -> dict:
    """Accuracy, AUROC, ECE, the confusion matrix and their bootstrap intervals on the dev set and each test set."""
    judge = MiniLMHarmJudge(weights)
    sets = {"dev": dev_rows}
    for name, file in TEST_FILES.items():
        if (data_dir / file).is_file():
            rows = _read(data_dir / file)
            sets[name] = [row for row in rows if row["split"] in (None, "held_out", "test")] if file == "harm_answers.jsonl" else rows
    report = {}
    for name, rows in sets.items():
        labelled = [HarmRow(row["prompt"], row["answer"], row["label"] == "harmful", row["label"], row["category"])
                    for row in rows]
        result = evaluate_harm_judge(judge, labelled, bootstrap=bootstrap).to_dict()
        report[name] = {key: result[key] for key in ("n", "accuracy", "auroc", "ece", "confusion", "intervals",
                                                     "per_category")}
        log.info("%s: n %d, accuracy %.3f, AUROC %.3f, ECE %.3f", name, result["n"], result["accuracy"],
                 result["auroc"] or float("nan"), result["ece"])
    return report


def train(out: Path, config: FineTuneConfig | None = None, data_dir: Path = DATA_DIR,
          progress: bool = True, bootstrap: int = 1000) -> dict:
    """Train, calibrate, write ``out`` and its JSON, evaluate; return the JSON's content."""
    import torch

    config = config or FineTuneConfig()
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    train_rows, dev_rows, files = training_data(config, data_dir)
    if config.limit is not None:
        train_rows = train_rows[:config.limit]
    model, tokenizer = base_model(len(CLASSES))
    encoded = [encode_pair(tokenizer, row["prompt"], row["answer"], config.max_length)[0] for row in train_rows]
    labels = np.array([CLASSES.index(row["label"]) for row in train_rows])
    counts = np.bincount(labels, minlength=len(CLASSES))
    class_weights = torch.tensor(len(labels) / (len(CLASSES) * np.maximum(counts, 1)), dtype=torch.float32)

    def batches(rng: np.random.Generator):
        order = rng.permutation(len(encoded))
        for start in range(0, len(order), config.batch_size):
            rows = order[start:start + config.batch_size]
            yield (*padded([encoded[k] for k in rows], tokenizer.pad_token_id), torch.from_numpy(labels[rows]))

    def loss(model, batch):
        ids, mask, target = batch
        return torch.nn.functional.cross_entropy(model(ids, mask), target, weight=class_weights)

    trained = fine_tune(model, batches, -(-len(encoded) // config.batch_size), loss, config, "harm cross-encoder",
                        progress)
    losses = trained["losses"]
    meta = {"classes": list(CLASSES), "temperature": 1.0, "config": asdict(config), "train_rows": len(train_rows),
            "dev_rows": len(dev_rows), "train_label_counts": dict(zip(CLASSES, counts.tolist())),
            "data_files": file_hashes(data_dir, files), "torch_version": torch.__version__,
            "train_seconds": round(trained["seconds"], 1),
            "loss_first_last": [float(np.mean(losses[:20])), float(np.mean(losses[-20:]))]}
    save_weights(out, model, trained["base_state"], meta)
    # calibrate with the shipped (dequantised) weights, through the judge's own code path
    judge = MiniLMHarmJudge(out, temperature=1.0)
    dev_logits = judge.logits([row["prompt"] for row in dev_rows], [row["answer"] for row in dev_rows])
    meta["temperature"] = fit_temperature(dev_logits, np.array([CLASSES.index(row["label"]) for row in dev_rows]))
    atomic_write_json(Path(out).with_suffix(".json"), meta)
    meta["evaluation"] = evaluate(out, dev_rows, data_dir, bootstrap)
    meta["test_files"] = file_hashes(data_dir, list(TEST_FILES.values()))
    meta["total_seconds"] = round(time.perf_counter() - started, 1)
    atomic_write_json(Path(out).with_suffix(".json"), meta)
    return meta


def main(argv: list[str] | None = None) -> int:
    def reevaluate(out: Path, config: FineTuneConfig, bootstrap: int) -> dict:
        return {"evaluation": evaluate(out, training_data(config)[1], bootstrap=bootstrap),
                "test_files": file_hashes(DATA_DIR, list(TEST_FILES.values()))}

    return training_main(argv, __doc__.splitlines()[0], WEIGHTS_FILE, FineTuneConfig(), train, reevaluate)


if __name__ == "__main__":
    raise SystemExit(main())
