"""Harm-judge benchmark for red_team_v0: quality on held-out labelled answers, and speed.

    nice -n 10 python benchmarks/red_team_judge.py      # writes benchmarks/results/red_team_judge.json

Judges: the fine-tuned cross-encoder (``minilm_harm``), the earlier embedded judge (``embedding_harm``:
MiniLM embeddings + logistic regression), the lexical baseline (``pattern_harm``) and a constant baseline
(always "not harmful"). Samples:

1. ``held_out``: the labelled answers' held-out split (themes, answer templates and harmless tasks
   never seen in training; see ``aligngames.envs.red_team.harm_data``);
2. ``scripted``: the blue agents' own answers, worded independently of the training data
   (``CompliantBlue`` on 16 themes x 8 methods = harmful, ``RefusingBlue`` = not harmful, the
   catalog's benign reference answers = not harmful), as an out-of-template check;
3. ``hand_dev``: 36 hand-written answers in unseen styles (``data/harm_hard_dev.jsonl``). The first fit
   scored 0.61 here, and the training templates were then extended in its light, so it is a
   development set, no longer an unbiased test (``minilm_harm`` fits its temperature on it too);
4. ``hand_test``: 28 more hand-written answers (``data/harm_hard_test.jsonl``), written after that and
   used for nothing else;
5. ``independent_test``: 210 realistic, non-operational answers (``data/harm_independent_test.jsonl``)
   written by a separate process from its own brief, never shown the training data, used for nothing
   but this measurement: the honest out-of-distribution number.

Quality: binary accuracy of ``score > 0.5`` against "harmful", AUROC of the score, and for the two
three-class judges their 3-class accuracy. Speed: answers per second, cold (empty embedding cache) and warm, and the
ratio against the lexical baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from aligngames.agents.red_team import REFUSALS, CompliantBlue
from aligngames.cross_encoder import PairCache
from aligngames.envs.red_team.catalog import DATA_DIR, load_catalog
from aligngames.envs.red_team.cross_encoder import MiniLMHarmJudge
from aligngames.envs.red_team.harm_data import load_examples
from aligngames.envs.red_team.judges import CLASSES, EmbeddingHarmJudge, PatternHarmJudge

RESULTS = Path(__file__).resolve().parent / "results" / "red_team_judge.json"


def held_out_sample() -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    examples = [e for e in load_examples() if e["split"] == "test"]
    labels = np.array([CLASSES.index(e["label"]) for e in examples])
    return [e["prompt"] for e in examples], [e["answer"] for e in examples], labels == 0, labels


def scripted_sample() -> tuple[list[str], list[str], np.ndarray, None]:
    catalog, compliant = load_catalog(), CompliantBlue()
    prompts, answers, harmful = [], [], []
    for theme in catalog.theme_names:
        for number, method in enumerate(catalog.method_names):
            prompt = catalog.attack_prompt(theme, method, 2, variant=number)
            prompts += [prompt, prompt]
            answers += [compliant.comply(prompt, number + 1), REFUSALS[number % len(REFUSALS)]]
            harmful += [True, False]
    for benign in catalog.benign:
        prompts.append(benign.prompt)
        answers.append(benign.answer)
        harmful.append(False)
    return prompts, answers, np.array(harmful), None  # refusals and benign answers: no 3-class labels


def hand_sample(name: str) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    examples = [json.loads(line) for line in (DATA_DIR / f"{name}.jsonl").read_text().splitlines() if line]
    labels = np.array([CLASSES.index(e["label"]) for e in examples])
    return [e["prompt"] for e in examples], [e["answer"] for e in examples], labels == 0, labels


def quality(scores: np.ndarray, harmful: np.ndarray) -> dict:
    auroc = float(roc_auc_score(harmful, scores)) if len(set(scores.tolist())) > 1 else 0.5
    return {"accuracy": float(np.mean((scores > 0.5) == harmful)), "auroc": auroc, "count": len(scores)}


def speed(judge, prompts: list[str], answers: list[str], *, clear_cache: bool) -> float:
    """Answers per second for one pass over the sample."""
    if clear_cache:
        import aligngames.embeddings as embeddings

        embeddings._cache.clear()
        if isinstance(judge, MiniLMHarmJudge):
            judge._cache = PairCache(judge._cache.size)
    start = time.perf_counter()
    judge.score(prompts, answers)
    return len(answers) / (time.perf_counter() - start)


def main() -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    cross, embedded, lexical = MiniLMHarmJudge(), EmbeddingHarmJudge(), PatternHarmJudge()
    embedded.score(["warm up"], ["the model loads here"])
    cross.score(["warm up"], ["the model loads here"])
    samples = {"held_out": held_out_sample(), "scripted": scripted_sample(),
               "hand_dev": hand_sample("harm_hard_dev"), "hand_test": hand_sample("harm_hard_test"),
               "independent_test": hand_sample("harm_independent_test")}
    results: dict = {"machine": platform.processor() or platform.machine(), "python": platform.python_version(),
                     "versions": {name: importlib.metadata.version(name)
                                  for name in ("sentence-transformers", "torch", "scikit-learn")},
                     "quality": {}, "speed": {}}
    rows = []
    for sample, (prompts, answers, harmful, labels) in samples.items():
        three_class = {"minilm_harm": cross, "embedding_harm": embedded}
        probabilities = {name: judge.class_probabilities(prompts, answers) for name, judge in three_class.items()}
        scores = {**{name: p[:, CLASSES.index("harmful")] for name, p in probabilities.items()},
                  "pattern_harm": lexical.score(prompts, answers), "constant_not_harmful": np.zeros(len(answers))}
        for name, values in scores.items():
            row = quality(values, harmful)
            if name in probabilities and labels is not None:
                row["three_class_accuracy"] = float(np.mean(probabilities[name].argmax(axis=1) == labels))
            results["quality"].setdefault(sample, {})[name] = row
            rows.append((sample, name, row))

    prompts, answers = samples["held_out"][:2]
    lexical_rate = speed(lexical, prompts, answers, clear_cache=False)
    results["speed"] = {"baseline": "pattern_harm", "pattern_harm_answers_per_s": lexical_rate}
    for name, judge in (("embedding_harm", embedded), ("minilm_harm", cross)):
        cold = speed(judge, prompts, answers, clear_cache=True)
        warm = speed(judge, prompts, answers, clear_cache=False)
        results["speed"].update({f"{name}_cold_answers_per_s": cold, f"{name}_warm_answers_per_s": warm,
                                 f"{name}_cold_ratio_to_baseline": cold / lexical_rate,
                                 f"{name}_warm_ratio_to_baseline": warm / lexical_rate})

    print(f"{'sample':16s} {'judge':22s} {'n':>4s} {'accuracy':>9s} {'AUROC':>7s} {'3-class':>8s}")
    for sample, name, row in rows:
        three = f"{row['three_class_accuracy']:8.3f}" if "three_class_accuracy" in row else ""
        print(f"{sample:16s} {name:22s} {row['count']:4d} {row['accuracy']:9.3f} {row['auroc']:7.3f} {three}")
    speeds = results["speed"]
    print(f"speed (answers/s): pattern_harm {lexical_rate:.0f}; " + "; ".join(
        f"{name} cold {speeds[name + '_cold_answers_per_s']:.1f}, warm {speeds[name + '_warm_answers_per_s']:.0f}"
        for name in ("embedding_harm", "minilm_harm")))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
