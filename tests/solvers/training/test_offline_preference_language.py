"""Language-mode DPO / IPO / EXO: the pair losses by hand, their mean over pairs against the tabular expectation,
the pairs file's errors, learning and exact resume on a tiny model, the CLI, and TRL's DPO loss (when installed)."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from types import SimpleNamespace

import _training
import numpy as np
import pytest
import torch
import yaml
from scipy.special import expit

from aligngames.config import ConfigError
from aligngames.solvers.training import offline_preference as op
from aligngames.solvers.training.offline_preference_language import (
    FilePairs,
    FileRankings,
    JudgedPairs,
    JudgedRankings,
    LanguagePairConfig,
    PairPolicy,
    PairsFileError,
    RankingsFileError,
    bradley_terry_rewards,
    judged_rewards,
    k_sample_loss,
    pair_loss,
    read_pairs,
    read_rankings,
    run,
)
from aligngames.solvers.training.settings import (
    GenerationSettings,
    LoRASettings,
    ModelSettings,
    TrainerSettings,
)

one_thread = _training.one_thread
tiny_model = _training.tiny_model
TIMING_KEYS = {"seconds", "sampling_seconds"}


def tiny_config(model: str, **overrides) -> LanguagePairConfig:
    settings = dict(steps=4, pairs_per_step=3, eval_pairs=4, evaluate_every=2)
    return LanguagePairConfig(**{**settings, **overrides}, model=ModelSettings(model), lora=LoRASettings(rank=4),
                              trainer=TrainerSettings(learning_rate=0.01, micro_batch_size=4, epochs=2),
                              generation=GenerationSettings(max_new_tokens=4))


def write_pairs(path, count: int = 5):
    rows = [{"prompt": f"Question {i}?", "chosen": f"yes, {i} apples", "rejected": f"NO {i}!"} for i in range(count)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


# --- the losses --------------------------------------------------------------------------------------------

def test_pair_losses_by_hand():
    chosen, rejected = torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64), torch.tensor([0.1, 0.5, 2.0], dtype=torch.float64)
    beta, epsilon = 0.5, 0.01
    for i, (winner, loser) in enumerate(zip(chosen.tolist(), rejected.tolist())):
        d = winner - loser
        s = 1 / (1 + math.exp(-beta * d))
        assert float(pair_loss("dpo", chosen, rejected, beta)[i]) == pytest.approx(-math.log(s), abs=1e-12)
        assert float(pair_loss("ipo", chosen, rejected, beta)[i]) == pytest.approx((d - 1 / (2 * beta)) ** 2, abs=1e-12)
        exo = s * math.log(s / (1 - epsilon)) + (1 - s) * math.log((1 - s) / epsilon)
        assert float(pair_loss("exo", chosen, rejected, beta, epsilon=epsilon)[i]) == pytest.approx(exo, abs=1e-12)
    # equal log-ratios: DPO log 2, IPO 1/(4 beta^2), EXO KL((1/2, 1/2) || (1 - eps, eps))
    assert float(pair_loss("dpo", chosen, rejected, beta)[2]) == pytest.approx(math.log(2), abs=1e-12)
    assert float(pair_loss("ipo", chosen, rejected, beta)[2]) == pytest.approx(1 / (4 * beta**2), abs=1e-12)
    with pytest.raises(ValueError, match="valid losses: dpo, ipo, exo"):
        pair_loss("kto", chosen, rejected, beta)


@pytest.mark.parametrize("name", ["dpo", "ipo", "exo"])
def test_mean_over_labelled_pairs_is_the_tabular_expected_loss(name):
    """On a categorical policy, the sampled pair loss averaged over pairs ``pi_ref x pi_ref`` and Bradley-Terry labels
    is the tabular module's exact expectation (EXO: its hard-label form)."""
    rng = np.random.default_rng(3)
    n, beta = 4, 0.7
    pi_ref, rewards, logits = rng.dirichlet(np.ones(n)), rng.normal(size=n), rng.normal(size=n)
    h = torch.tensor(logits - np.log(np.exp(logits).sum()) - np.log(pi_ref))
    first, second = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    first, second = first.ravel(), second.ravel()
    weight = pi_ref[first] * pi_ref[second]
    p_first = expit(rewards[first] - rewards[second])
    wins = pair_loss(name, h[first], h[second], beta).numpy()     # y1 chosen
    losses = pair_loss(name, h[second], h[first], beta).numpy()   # y2 chosen
    sampled_mean = float((weight * (p_first * wins + (1 - p_first) * losses)).sum())
    settings = {"labels": "hard"} if name == "exo" else {}
    assert sampled_mean == pytest.approx(op.family_loss(name, "categorical", logits, pi_ref, rewards, beta, **settings)[0],
                                         abs=1e-12)


# --- the pairs file ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "message"), [
    ('{"prompt": "p", "chosen": "a"}', "line 2: missing field 'rejected'"),
    ('{"chosen": "a", "rejected": "b"}', "line 2: missing field 'prompt'"),
    ('{"prompt": "p", "rejected": "b"}', "line 2: missing field 'chosen'"),
    ('{"prompt": "p", "chosen": "  ", "rejected": "b"}', "line 2: field 'chosen' is an empty string"),
    ('{"prompt": "", "chosen": "a", "rejected": "b"}', "line 2: field 'prompt' is an empty string"),
    ('{"prompt": "p", "chosen": 3, "rejected": "b"}', "line 2: field 'chosen' must be a string, got int"),
    ('{"prompt": "p", "chosen": "a"', "line 2: not valid JSON"),
    ('["p", "a", "b"]', "line 2: expected a JSON object"),
])
def test_a_malformed_pairs_file_is_named_with_its_line(tmp_path, line, message):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"prompt": "p", "chosen": "a", "rejected": "b"}\n' + line + "\n")
    with pytest.raises(PairsFileError) as error:
        read_pairs(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_pairs_file_reading(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text('\n{"prompt": "p", "chosen": "a", "rejected": "b", "source": "x"}\n\n')
    (pair,) = read_pairs(path)
    assert (pair.prompt, pair.chosen, pair.rejected) == ("p", "a", "b")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(PairsFileError, match="no preference pairs"):
        read_pairs(tmp_path / "empty.jsonl")
    with pytest.raises(PairsFileError, match="not found"):
        read_pairs(tmp_path / "missing.jsonl")


def test_offline_order_visits_every_pair_once_per_pass(tmp_path):
    pairs = FilePairs(write_pairs(tmp_path / "pairs.jsonl", 5))
    first_two_passes = [i for step in range(5) for i in pairs.indices(7, step, 2)]
    assert sorted(first_two_passes[:5]) == list(range(5)) and sorted(first_two_passes[5:]) == list(range(5))
    assert pairs.indices(7, 3, 2) == first_two_passes[6:8]


def test_config_checks():
    with pytest.raises(ValueError, match="loss must be one of"):
        LanguagePairConfig(loss="kto")
    with pytest.raises(ValueError, match="beta must be > 0"):
        LanguagePairConfig(beta=0.0)
    with pytest.raises(ValueError, match="lora.rank must be >= 1"):
        LanguagePairConfig(lora=LoRASettings(rank=0))
    with pytest.raises(ValueError, match="epsilon"):
        LanguagePairConfig(epsilon=0.5)


# --- training on a tiny model ------------------------------------------------------------------------------

def test_offline_dpo_steps_raise_the_margin(tiny_model, tmp_path):
    """A few DPO steps raise ``h(chosen) - h(rejected)`` on the training pairs (it starts at 0: pi = pi_ref)."""
    source = FilePairs(write_pairs(tmp_path / "pairs.jsonl", 4))
    policy = PairPolicy(tiny_config(tiny_model, pairs_per_step=4), source)
    batch = source.batch(policy, source.pairs)
    before = policy.margins(batch)
    reference = policy.snapshot()
    losses = [policy.mmd_step(reference, alpha=0.1, eta=1.0)["loss"] for _ in range(5)]
    after = policy.margins(batch)
    assert np.allclose(before, 0.0, atol=1e-5) and losses[0] < math.log(2)  # the last of 2 passes: already moved
    assert after.min() > 1.0 and losses[-1] < losses[0]


@pytest.mark.parametrize("online", [False, True], ids=["offline", "online"])
def test_a_stopped_run_resumes_exactly(tiny_model, tmp_path, online):
    """Stopping after 1 and 2 more steps and resuming gives the metrics and adapter of an uninterrupted run."""
    def source():
        if online:
            return JudgedPairs("preference_game_v0", {"mode": "language", "max_answer_length": 40})
        return FilePairs(write_pairs(tmp_path / "pairs.jsonl", 5))

    config = tiny_config(tiny_model, loss="ipo" if online else "dpo", eval_pairs=2)
    whole = run(config, source(), tmp_path / "whole")
    for stop_after in (1, 2, None):
        parts = run(config, source(), tmp_path / "parts", stop_after=stop_after)
    assert parts["finished"] and parts["final"] == whole["final"]

    def metrics(folder):
        lines = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        return [{key: value for key, value in line.items() if key not in TIMING_KEYS} for line in lines]

    assert metrics(tmp_path / "whole") == metrics(tmp_path / "parts") and len(metrics(tmp_path / "whole")) == 4
    name = "adapters/policy/adapter_model.safetensors"
    assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "parts" / name).read_bytes()
    assert sorted(p.name for p in (tmp_path / "parts" / "checkpoints").iterdir()) == ["latest.json", "step_000003",
                                                                                      "step_000004"]


def test_cli_trains_on_a_pairs_file(tiny_model, tmp_path):
    from aligngames.cli import main

    pairs = write_pairs(tmp_path / "pairs.jsonl", 4)
    out = tmp_path / "run"
    arguments = ["solve", "offline_preference", "--pairs", str(pairs), "--out", str(out), "--model.name", tiny_model,
                 "--loss", "exo", "--steps", "2", "--pairs-per-step", "2", "--lora.rank", "4",
                 "--trainer.learning-rate", "0.01", "--eval-pairs", "2"]
    assert main(arguments) == 0
    assert {"config.yaml", "manifest.json", "metrics.jsonl", "summary.json", "checkpoints", "adapters", "training.png"} <= {
        p.name for p in out.iterdir()}
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["settings"]["loss"] == "exo" and config["source"]["num_pairs"] == 4
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished"] and summary["final"]["eval_margin"] > 0
    (tmp_path / "bad.jsonl").write_text('{"prompt": "p", "chosen": "a"}\n')
    assert main([*arguments[:3], str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "bad"), *arguments[6:]]) == 2
    # a tabular flag in language mode (argparse exits), and -e with a pairs file, are refused
    with pytest.raises(SystemExit):
        main([*arguments, "--family", "gaussian"])
    assert main([*arguments[:6], "-e", "mode=language", *arguments[6:]]) == 2


def test_cli_refusal_messages(tiny_model, tmp_path, capsys):
    from aligngames.cli import main

    (tmp_path / "bad.jsonl").write_text('{"prompt": "p", "chosen": "a", "rejected": ""}\n')
    assert main(["solve", "offline_preference", "--pairs", str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "r"),
                 "--model.name", tiny_model]) == 2
    assert f"{tmp_path / 'bad.jsonl'}: line 1: field 'rejected' is an empty string" in capsys.readouterr().err


# --- the K-sample losses (dpo_rw, exo_rw) -----------------------------------------------------------------

def write_rankings(path, count: int = 4):
    """Each prompt's answers: a lowercase one with the highest reward, a shouted one with the lowest."""
    rows = [{"prompt": f"Question {i}?", "completions": [f"yes, {i} apples", f"maybe {i}", f"NO {i}!"],
             "rewards": [1.0, 0.0, -1.0]} for i in range(count)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_k_sample_losses_by_hand():
    h = torch.tensor([[0.3, -1.0, 2.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    r = torch.tensor([[1.0, 0.5, -2.0], [0.2, 0.2, 0.2]], dtype=torch.float64)
    beta, beta_pi = 0.5, 2.0
    for row in range(2):
        a = [beta_pi * x for x in h[row].tolist()]
        b = [x / (beta / beta_pi) for x in r[row].tolist()]
        m = [math.exp(x) / sum(math.exp(y) for y in a) for x in a]
        q = [math.exp(x) / sum(math.exp(y) for y in b) for x in b]
        forward = sum(qi * math.log(qi / mi) for qi, mi in zip(q, m))
        reverse = sum(mi * math.log(mi / qi) for qi, mi in zip(q, m))
        assert float(k_sample_loss("dpo_rw", h, r, beta, beta_pi=beta_pi)[row]) == pytest.approx(forward, abs=1e-12)
        assert float(k_sample_loss("exo_rw", h, r, beta, beta_pi=beta_pi)[row]) == pytest.approx(reverse, abs=1e-12)
    # equal log-ratios and equal rewards: both softmaxes uniform, both KLs 0
    assert float(k_sample_loss("exo_rw", h, r, beta)[1]) == pytest.approx(0.0, abs=1e-15)
    with pytest.raises(ValueError, match="valid losses: dpo_rw, exo_rw"):
        k_sample_loss("dpo", h, r, beta)


@pytest.mark.parametrize("name", ["dpo_rw", "exo_rw"])
@pytest.mark.parametrize(("k", "beta_pi"), [(2, 1.0), (3, 0.5)])
def test_k_sample_loss_over_multisets_is_the_tabular_loss(name, k, beta_pi):
    """On a categorical policy: one multiset's loss equals the tabular module's per-tuple loss (its
    ``_kl_and_grad`` on its softmaxes), and the multinomial-weighted sum over all multisets of ``pi_ref`` is its
    expected loss ``op.loss(name, ..., k=k, beta_pi=beta_pi)`` (to 1e-10)."""
    rng = np.random.default_rng(5)
    n, beta = 4, 0.7
    pi_ref, rewards, logits = rng.dirichlet(np.ones(n)), rng.normal(size=n), rng.normal(size=n)
    h = logits - np.log(np.exp(logits).sum()) - np.log(pi_ref)
    index, counts, log_coefficient = op._multisets(n, k)
    ours = k_sample_loss(name, torch.tensor(h[index]), torch.tensor(rewards[index]), beta, beta_pi=beta_pi).numpy()
    beta_r = beta / beta_pi
    log_m = op.log_softmax(beta_pi * h[index], axis=-1)
    log_q = op.log_softmax(rewards[index] / beta_r, axis=-1)
    tabular_per_tuple = op._kl_and_grad(log_m, log_q, "forward" if name == "dpo_rw" else "reverse")[0]
    assert np.max(np.abs(ours - tabular_per_tuple)) < 1e-10
    weight = np.exp(log_coefficient + counts @ np.log(pi_ref))
    expected = op.loss(name, logits, pi_ref, rewards, beta, k=k, beta_pi=beta_pi)[0]
    assert abs(float(weight @ ours) - expected) < 1e-10


class ScoreJudge:
    """A Bradley-Terry stub judge: ``P(a > b) = sigmoid(s_a - s_b)``, an answer's score read from its text."""

    identity = {"type": "score-stub"}

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores

    def compare(self, prompts, first, second):
        return expit(np.array([self.scores[a] - self.scores[b] for a, b in zip(first, second)]))


def test_bradley_terry_rewards_recover_the_judges_scores():
    """``r_i = (1/K) sum_{j != i} logit P(y_i > y_j)`` gives ``r_i - r_j = s_i - s_j`` under a Bradley-Terry judge
    (both seat orders judged and averaged), and the clip bounds a sure preference."""
    rng = np.random.default_rng(0)
    scores = rng.normal(scale=2.0, size=(3, 5))                  # (prompts, K)
    answers = [f"answer {t}.{i}" for t in range(3) for i in range(5)]
    judge = ScoreJudge({a: float(s) for a, s in zip(answers, scores.ravel())})
    rewards, judged = judged_rewards(judge, ["p0", "p1", "p2"], answers, 5)
    assert rewards.shape == (3, 5) and judged.shape == (3 * 10,)
    differences = rewards[:, :, None] - rewards[:, None, :]
    assert np.max(np.abs(differences - (scores[:, :, None] - scores[:, None, :]))) < 1e-9
    assert np.allclose(rewards.sum(1), 0.0, atol=1e-9)           # r = s - mean(s)
    sure = np.array([[0.5, 1.0], [0.0, 0.5]])
    assert bradley_terry_rewards(sure) == pytest.approx(np.array([1, -1]) * math.log((1 - 1e-6) / 1e-6) / 2)


@pytest.mark.parametrize(("line", "message"), [
    ('{"prompt": "p", "completions": ["a", "b"]}', "line 2: missing field 'rewards'"),
    ('{"completions": ["a", "b"], "rewards": [1, 2]}', "line 2: missing field 'prompt'"),
    ('{"prompt": "p", "completions": ["a"], "rewards": [1]}', "line 2: field 'completions' needs K >= 2"),
    ('{"prompt": "p", "completions": ["a", "b"], "rewards": [1]}', "line 2: 2 completions but 1 rewards"),
    ('{"prompt": "p", "completions": ["a", " "], "rewards": [1, 2]}', "line 2: completions[1] must be a non-empty"),
    ('{"prompt": "p", "completions": ["a", "b"], "rewards": [1, NaN]}', "line 2: rewards[1] must be a finite number"),
    ('{"prompt": "p", "completions": ["a", "b"], "rewards": [1, "2"]}', "line 2: rewards[1] must be a finite number"),
    ('{"prompt": "", "completions": ["a", "b"], "rewards": [1, 2]}', "line 2: field 'prompt' must be a non-empty"),
    ('{"prompt": "p", "completions": "ab", "rewards": [1, 2]}', "line 2: field 'completions' must be a list"),
    ('{"prompt": "p", "completions": ["a", "b", "c"], "rewards": [1, 2, 3]}', "line 2: 3 completions, but the first"),
    ('{"prompt": "p"', "line 2: not valid JSON"),
    ('["p", "a", "b"]', "line 2: expected a JSON object"),
])
def test_a_malformed_rankings_file_is_named_with_its_line(tmp_path, line, message):
    path = tmp_path / "rankings.jsonl"
    path.write_text('{"prompt": "p", "completions": ["a", "b"], "rewards": [0.5, -1]}\n' + line + "\n")
    with pytest.raises(RankingsFileError) as error:
        read_rankings(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_rankings_file_reading_and_the_loss_source_checks(tmp_path):
    path = tmp_path / "rankings.jsonl"
    path.write_text('\n{"prompt": "p", "completions": ["a", "b"], "rewards": [1, -0.5], "source": "x"}\n')
    (ranked,) = read_rankings(path)
    assert (ranked.prompt, ranked.completions, ranked.rewards) == ("p", ("a", "b"), (1.0, -0.5))
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(RankingsFileError, match="no rankings"):
        read_rankings(tmp_path / "empty.jsonl")
    with pytest.raises(RankingsFileError, match="not found"):
        read_rankings(tmp_path / "missing.jsonl")
    pairs = write_pairs(tmp_path / "pairs.jsonl", 2)
    with pytest.raises(ConfigError, match="exo_rw needs K answers with rewards per prompt"):
        run(LanguagePairConfig(loss="exo_rw"), FilePairs(pairs), tmp_path / "refused")
    with pytest.raises(ConfigError, match="loss dpo trains on preference pairs"):
        run(LanguagePairConfig(loss="dpo"), FileRankings(path), tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    with pytest.raises(ValueError, match="samples_per_prompt must be >= 2"):
        LanguagePairConfig(loss="exo_rw", samples_per_prompt=1)
    with pytest.raises(ValueError, match="beta_pi must be"):
        LanguagePairConfig(loss="exo_rw", beta_pi=0.0)


def test_offline_exo_rw_steps_raise_the_best_answers_log_ratio(tiny_model, tmp_path):
    """A few EXO-RW steps on a rankings file raise ``h(highest reward) - h(lowest reward)`` (0 at the start)."""
    source = FileRankings(write_rankings(tmp_path / "rankings.jsonl", 3))
    policy = PairPolicy(tiny_config(tiny_model, loss="exo_rw", beta=1.0, pairs_per_step=3), source)
    batch = source.batch(policy, source.rankings)
    before = policy.tuple_logratios(batch)
    reference = policy.snapshot()
    lines = [policy.mmd_step(reference, alpha=1.0, eta=1.0) for _ in range(4)]
    after = policy.tuple_logratios(batch)
    assert np.allclose(before, 0.0, atol=1e-5)
    assert (after[:, 0] - after[:, 2]).min() > 0.5 and lines[-1]["loss"] < lines[0]["loss"]
    assert lines[-1]["margin"] > 0 and {"best_logratio", "worst_logratio"} <= set(lines[-1])


def test_a_stopped_online_k_sample_run_resumes_exactly(tiny_model, tmp_path):
    """Online dpo_rw (3 answers per prompt, judged pairs): stopping and resuming gives the uninterrupted run."""
    def source():
        return JudgedRankings("preference_game_v0", {"mode": "language", "max_answer_length": 40})

    config = tiny_config(tiny_model, loss="dpo_rw", samples_per_prompt=3, pairs_per_step=2, eval_pairs=2, steps=3)
    whole = run(config, source(), tmp_path / "whole")
    for stop_after in (1, None):
        parts = run(config, source(), tmp_path / "parts", stop_after=stop_after)
    assert parts["finished"] and parts["final"] == whole["final"]

    def metrics(folder):
        lines = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        return [{key: value for key, value in line.items() if key not in TIMING_KEYS} for line in lines]

    assert metrics(tmp_path / "whole") == metrics(tmp_path / "parts") and len(metrics(tmp_path / "whole")) == 3
    assert "judge_preference" in metrics(tmp_path / "whole")[0]
    name = "adapters/policy/adapter_model.safetensors"
    assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "parts" / name).read_bytes()


def test_cli_trains_on_a_rankings_file(tiny_model, tmp_path, capsys):
    from aligngames.cli import main

    rankings = write_rankings(tmp_path / "rankings.jsonl", 3)
    out = tmp_path / "run"
    arguments = ["solve", "offline_preference", "--rankings", str(rankings), "--out", str(out), "--model.name",
                 tiny_model, "--loss", "exo_rw", "--beta", "1", "--steps", "2", "--pairs-per-step", "2",
                 "--lora.rank", "4", "--trainer.learning-rate", "0.01", "--eval-pairs", "2"]
    assert main(arguments) == 0
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["settings"]["loss"] == "exo_rw" and config["source"]["num_rankings"] == 3
    assert config["source"]["samples_per_ranking"] == 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished"] and summary["final"]["eval_margin"] > 0 and (out / "training.png").is_file()
    capsys.readouterr()
    pairs = write_pairs(tmp_path / "pairs.jsonl", 2)
    assert main([*arguments[:2], "--pairs", str(pairs), "--out", str(tmp_path / "p"), *arguments[6:]]) == 2
    assert "exo_rw needs K answers with rewards per prompt" in capsys.readouterr().err


# --- TRL ---------------------------------------------------------------------------------------------------

def trl_loss(loss_type: str, beta: float, logps: dict[str, torch.Tensor], lengths: tuple[list[int], list[int]],
             label_smoothing: float = 0.0) -> float:
    """TRL's ``DPOTrainer._compute_loss`` run on given per-sequence log-probs: a stand-in model returns per-token
    log-probs that sum to them (spread evenly over each completion's tokens), and the reference log-probs are
    passed precomputed, as TRL's ``precompute_ref_log_probs`` does."""
    from trl.trainer.dpo_trainer import DPOTrainer

    chosen_lengths, rejected_lengths = lengths
    rows = chosen_lengths + rejected_lengths
    width = max(rows) + 1
    completion_mask = torch.zeros(len(rows), width, dtype=torch.long)
    per_token = torch.zeros(len(rows), width - 1, dtype=torch.float64)
    totals = torch.cat([logps["chosen"], logps["rejected"]])
    for row, length in enumerate(rows):
        completion_mask[row, width - length:] = 1
        per_token[row, width - 1 - length:] = totals[row] / length

    def model(**kwargs):
        return SimpleNamespace(log_probs=per_token, entropy=torch.zeros_like(per_token),
                               mean_logits=torch.zeros_like(per_token), is_top1=torch.zeros_like(per_token, dtype=torch.bool))

    accelerator = SimpleNamespace(device=torch.device("cpu"), gather_for_metrics=lambda x: x, gather=lambda x: x)
    trainer = SimpleNamespace(model=SimpleNamespace(training=True), accelerator=accelerator, aux_loss_enabled=False,
                              ld_alpha=None, precompute_ref_logps=True, f_divergence_type="reverse_kl",
                              loss_types=[loss_type], loss_weights=[1.0], beta=beta, label_smoothing=label_smoothing,
                              use_weighting=False, _metrics=defaultdict(lambda: defaultdict(list)),
                              _total_train_tokens=0, _tp_size=1)
    inputs = {"input_ids": torch.zeros(len(rows), width, dtype=torch.long), "attention_mask": torch.ones(len(rows), width),
              "completion_mask": completion_mask, "ref_chosen_logps": logps["ref_chosen"],
              "ref_rejected_logps": logps["ref_rejected"]}
    return float(DPOTrainer._compute_loss(trainer, model, inputs, return_outputs=False))


def test_sequence_losses_equal_trls_on_the_same_batch():
    """Our DPO and EXO equal TRL 1.16's ``sigmoid`` and ``exo_pair`` losses on the same log-probs (to 1e-6); TRL's
    ``ipo`` divides each log-ratio by the completion's token count first, so it equals ours on the averaged ratios."""
    pytest.importorskip("trl")
    generator = torch.Generator().manual_seed(0)
    logps = {key: -20 * torch.rand(6, generator=generator, dtype=torch.float64)
             for key in ("chosen", "rejected", "ref_chosen", "ref_rejected")}
    lengths = ([3, 5, 2, 7, 4, 1], [6, 2, 2, 3, 5, 4])
    chosen, rejected = logps["chosen"] - logps["ref_chosen"], logps["rejected"] - logps["ref_rejected"]
    beta = 0.3
    differences = {
        "dpo": abs(trl_loss("sigmoid", beta, logps, lengths) - float(pair_loss("dpo", chosen, rejected, beta).mean())),
        "exo": abs(trl_loss("exo_pair", beta, logps, lengths, label_smoothing=op.EXO_EPSILON)
                   - float(pair_loss("exo", chosen, rejected, beta).mean())),
        "ipo (token means)": abs(trl_loss("ipo", beta, logps, lengths) - float(pair_loss(
            "ipo", chosen / torch.tensor(lengths[0]), rejected / torch.tensor(lengths[1]), beta).mean())),
    }
    assert max(differences.values()) < 1e-6, differences
    # with summed log-ratios (the paper's IPO, ours) TRL's IPO is another number
    assert abs(trl_loss("ipo", beta, logps, lengths) - float(pair_loss("ipo", chosen, rejected, beta).mean())) > 1e-2
