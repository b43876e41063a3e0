"""Train the embedded reward model (``minilm_reward``) on the project's preference pairs and write its weights.

``python -m aligngames.judges.train_reward --out FILE.safetensors`` trains the shared MiniLM cross-encoder
(:mod:`aligngames.cross_encoder`) with one output on every ``data/reward_pairs/*.jsonl`` pair except a
development tenth (chosen by a hash of the pair), with the Bradley-Terry loss
``-log sigmoid(r(x, chosen) - r(x, rejected))``, and writes the weights with a JSON beside them: the
settings, the data files and their hashes, and pair agreement (both orders, bootstrap intervals) overall
and per kind of pair, on the development pairs and on the separately written ``data/reward_pairs_test.jsonl``,
with the feature judge's on the same pairs for comparison. Nothing is tuned on the test pairs.
Deterministic for a seed on one machine.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np

from aligngames.cross_encoder import (
    FineTuneConfig,
    base_model,
    encode_pair,
    file_hashes,
    fine_tune,
    is_dev,
    padded,
    save_weights,
    training_main,
)
from aligngames.judges import FeatureJudge
from aligngames.judges.minilm_reward import DATA_DIR, WEIGHTS_FILE, MiniLMRewardJudge
from aligngames.runs import atomic_write_json
from aligngames.solvers.evaluation.judge_eval import PreferenceRow, evaluate_preference_judge

log = logging.getLogger(__name__)

PAIRS_DIR = DATA_DIR / "reward_pairs"
TEST_FILE = DATA_DIR / "reward_pairs_test.jsonl"
#: Pairs per optimiser step (each pair is two sequences).
PAIRS_PER_STEP = 8


def read_pairs(path: Path) -> list[dict]:
    """The rows of a pairs file: ``prompt``, ``chosen``, ``rejected`` (strings) and optional ``kind``."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        if not all(isinstance(record.get(key), str) and record[key].strip() for key in ("prompt", "chosen", "rejected")):
            raise ValueError(f"{path.name} line {number}: needs non-empty prompt, chosen and rejected strings")
        rows.append({"prompt": record["prompt"], "chosen": record["chosen"], "rejected": record["rejected"],
                     "kind": record.get("kind", "unlabelled")})
    return rows


def training_pairs(config: FineTuneConfig, pairs_dir: Path = PAIRS_DIR) -> tuple[list[dict], list[dict], list[str]]:
    """``(train, dev, files)``: every pair of the training files, the development tenth set apart by hash."""
    files = sorted(pairs_dir.glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"no training pairs (*.jsonl) in {pairs_dir}")
    train, dev, seen = [], [], set()
    for path in files:
        for row in read_pairs(path):
            key = (row["prompt"], row["chosen"], row["rejected"])
            if key in seen:
                continue
            seen.add(key)
            (dev if is_dev("\n".join(key), config.dev_share) else train).append(row)
    return train, dev, [f"reward_pairs/{path.name}" for path in files]


def evaluate(judge, rows: list[dict], bootstrap: int) -> dict:
    """Pair agreement of ``judge`` on ``rows``: overall (with intervals, position bias) and per kind."""
    labelled = [PreferenceRow(row["prompt"], row["chosen"], row["rejected"]) for row in rows]
    result = evaluate_preference_judge(judge, labelled, bootstrap=bootstrap)
    both = (np.array(result.p_chosen_as_given) + np.array(result.p_chosen_swapped)) / 2
    correct = np.where(both > 0.5, 1.0, np.where(both == 0.5, 0.5, 0.0))
    kinds = sorted({row["kind"] for row in rows})
    per_kind = {kind: {"n": int(sum(row["kind"] == kind for row in rows)),
                       "agreement": float(np.mean([c for c, row in zip(correct, rows) if row["kind"] == kind]))}
                for kind in kinds}
    data = result.to_dict()
    return {"n": result.n, "agreement": result.agreement_both_orders,
            "interval": data["intervals"]["agreement_both_orders"], "position_bias_rate": result.position_bias_rate,
            "per_kind": per_kind}


def evaluation_sets(dev: list[dict]) -> dict[str, list[dict]]:
    sets = {"dev": dev}
    if TEST_FILE.is_file():
        sets["test"] = read_pairs(TEST_FILE)
    return sets


def evaluate_all(weights: Path, dev: list[dict], bootstrap: int) -> dict:
    """The reward model's and the feature judge's agreement on the dev pairs and the test pairs."""
    judges = {"minilm_reward": MiniLMRewardJudge(weights), "features": FeatureJudge()}
    report = {}
    for name, rows in evaluation_sets(dev).items():
        report[name] = {judge: evaluate(model, rows, bootstrap) for judge, model in judges.items()}
        log.info("%s (n %d): minilm_reward %.3f, features %.3f", name, len(rows),
                 report[name]["minilm_reward"]["agreement"], report[name]["features"]["agreement"])
    return report


def train(out: Path, config: FineTuneConfig | None = None, progress: bool = True, bootstrap: int = 1000) -> dict:
    """Train, write ``out`` and its JSON, evaluate; return the JSON's content."""
    import torch

    config = config or FineTuneConfig(batch_size=PAIRS_PER_STEP)
    torch.manual_seed(config.seed)
    train_rows, dev_rows, files = training_pairs(config)
    if config.limit is not None:
        train_rows = train_rows[:config.limit]
    model, tokenizer = base_model(1)
    encoded = [(encode_pair(tokenizer, row["prompt"], row["chosen"], config.max_length)[0],
                encode_pair(tokenizer, row["prompt"], row["rejected"], config.max_length)[0]) for row in train_rows]

    def batches(rng: np.random.Generator):
        order = rng.permutation(len(encoded))
        for start in range(0, len(order), config.batch_size):
            rows = order[start:start + config.batch_size]
            yield padded([encoded[k][0] for k in rows] + [encoded[k][1] for k in rows], tokenizer.pad_token_id)

    def loss(model, batch):
        ids, mask = batch
        rewards = model(ids, mask)[:, 0]
        half = len(rewards) // 2
        return -torch.nn.functional.logsigmoid(rewards[:half] - rewards[half:]).mean()

    trained = fine_tune(model, batches, -(-len(encoded) // config.batch_size), loss, config, "reward model", progress)
    losses = trained["losses"]
    meta = {"outputs": 1, "config": asdict(config), "train_pairs": len(train_rows), "dev_pairs": len(dev_rows),
            "data_files": file_hashes(DATA_DIR, [*files, TEST_FILE.name]), "torch_version": torch.__version__,
            "train_seconds": round(trained["seconds"], 1),
            "loss_first_last": [float(np.mean(losses[:20])), float(np.mean(losses[-20:]))]}
    save_weights(out, model, trained["base_state"], meta)
    meta["evaluation"] = evaluate_all(out, dev_rows, bootstrap)
    atomic_write_json(Path(out).with_suffix(".json"), meta)
    return meta


def main(argv: list[str] | None = None) -> int:
    def reevaluate(out: Path, config: FineTuneConfig, bootstrap: int) -> dict:
        return {"evaluation": evaluate_all(out, training_pairs(config)[1], bootstrap)}

    return training_main(argv, __doc__.splitlines()[0], WEIGHTS_FILE, FineTuneConfig(batch_size=PAIRS_PER_STEP),
                         train, reevaluate)


if __name__ == "__main__":
    raise SystemExit(main())
