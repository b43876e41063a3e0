"""Known answers for the debate solvers: Elo, sparse-evidence minimax, and the evaluation driver."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.optimize import minimize

import aligngames
from aligngames.agent import AgentSpec
from aligngames.agents.debate import GreedyRevealer
from aligngames.envs.debate.sparse import posterior_positive
from aligngames.solvers.evaluation.debate_eval import (
    DebateEvalConfig,
    evaluate,
    format_summary,
)
from aligngames.solvers.evaluation.elo import bootstrap_elo, expected_score, fit_elo
from aligngames.solvers.exact.sparse_debate import MinimaxRevealer, solve_sparse_debate

# --- Elo ----------------------------------------------------------------------------------------------


def test_elo_recovers_ratings_from_exactly_proportional_results():
    # strengths 4 : 2 : 1, so P(0 > 1) = 2/3, P(1 > 2) = 2/3, P(0 > 2) = 4/5; with win counts in exactly
    # these proportions the likelihood equations hold at the true strengths, whose Elo gaps are 400 log10(ratio)
    results = [(0, 1)] * 10 + [(1, 0)] * 5 + [(1, 2)] * 10 + [(2, 1)] * 5 + [(0, 2)] * 8 + [(2, 0)] * 2
    ratings = fit_elo(3, results)
    assert ratings[0] - ratings[1] == pytest.approx(400 * math.log10(2), abs=1e-4)
    assert ratings[0] - ratings[2] == pytest.approx(400 * math.log10(4), abs=1e-4)
    assert ratings.mean() == pytest.approx(1000.0)
    assert expected_score(ratings[0], ratings[1]) == pytest.approx(2 / 3, abs=1e-6)


def test_elo_matches_a_direct_likelihood_maximisation():
    rng = np.random.default_rng(4)
    true = np.array([0.0, 150.0, -80.0, 300.0])
    results = []
    for _ in range(600):
        i, j = rng.choice(4, size=2, replace=False)
        results.append((i, j) if rng.random() < expected_score(true[i], true[j]) else (j, i))

    winners = np.array([w for w, _ in results])
    losers = np.array([loser for _, loser in results])

    def negative_log_likelihood(free):  # natural-log strengths of players 1..3; player 0 fixed at 0
        theta = np.concatenate([[0.0], free])
        margin = theta[winners] - theta[losers]
        value = np.sum(np.logaddexp(0.0, -margin))  # -log sigmoid(margin)
        weight = -1.0 / (1.0 + np.exp(margin))  # d value / d margin
        gradient = np.zeros(4)
        np.add.at(gradient, winners, weight)
        np.add.at(gradient, losers, -weight)
        return value, gradient[1:]

    direct = minimize(negative_log_likelihood, np.zeros(3), jac=True, method="BFGS", options={"gtol": 1e-12}).x
    direct = 400.0 / math.log(10.0) * np.concatenate([[0.0], direct])
    fitted = fit_elo(4, results)
    assert (fitted - fitted[0]) == pytest.approx(direct, abs=1e-5)


def test_elo_refuses_an_infinite_mle_and_regularises_on_request():
    results = [(0, 1)] * 5 + [(1, 2)] * 5  # nobody ever beats player 0
    with pytest.raises(ValueError, match="infinite"):
        fit_elo(3, results)
    ratings = fit_elo(3, results, alpha=0.1)
    assert ratings[0] > ratings[1] > ratings[2]
    intervals = bootstrap_elo(3, results, np.random.default_rng(0), resamples=30, alpha=0.1)
    assert intervals.shape == (3, 2) and np.all(intervals[:, 0] <= intervals[:, 1])


# --- sparse-evidence debate -------------------------------------------------------------------------------

def brute_force_judge_accuracy(weights, budget, honest_first):
    """Every x, every reveal order, no memo: minimax over the full game tree, judging with an
    explicit enumeration of the hidden features."""
    n = len(weights)

    def judge_correct(revealed, label):
        hidden = [i for i in range(n) if i not in revealed]
        positive = sum(1 for values in itertools.product((-1, 1), repeat=len(hidden))
                       if sum(weights[i] * revealed[i] for i in revealed)
                       + sum(weights[i] * v for i, v in zip(hidden, values)) > 0)
        share = positive / 2 ** len(hidden)
        return 0.5 if share == 0.5 else float((share > 0.5) == label)

    def play(x, revealed, honest_to_move, label):
        if len(revealed) == budget:
            return judge_correct(revealed, label)
        values = [play(x, {**revealed, i: x[i]}, not honest_to_move, label) for i in range(n) if i not in revealed]
        return max(values) if honest_to_move else min(values)

    total = 0.0
    for x in itertools.product((-1, 1), repeat=n):
        label = sum(w * v for w, v in zip(weights, x)) > 0
        total += play(x, {}, honest_first, label) / 2 ** n
    return total


def test_sparse_debate_by_hand():
    # majority of 3, two reveals: unanimous x (2 of 8) the judge is right; otherwise the honest debater
    # shows one agreeing feature, the liar the disagreeing one, the judge is at 1/2: 2/8 + 6/8 * 1/2
    values = solve_sparse_debate((1, 1, 1), 2)
    assert values.honest_first == pytest.approx(0.625) and values.liar_first == pytest.approx(0.625)
    assert values.honest_advantage == pytest.approx(0.125)
    # all features revealed: always right; one reveal by the honest debater: always right
    assert solve_sparse_debate((1, 1, 1), 3).honest_first == pytest.approx(1.0)
    assert solve_sparse_debate((1, 1, 1), 1).honest_first == pytest.approx(1.0)
    assert solve_sparse_debate((1, 1, 1), 1).liar_first == pytest.approx(0.25)  # only unanimous x resist the liar


@pytest.mark.parametrize(("weights", "budget"), [((3, 2, 2, 1, 1), 2), ((3, 2, 2, 1, 1), 3), ((2, 1, 1, 1), 3)])
def test_sparse_debate_matches_brute_force(weights, budget):
    values = solve_sparse_debate(weights, budget)
    assert values.honest_first == pytest.approx(brute_force_judge_accuracy(weights, budget, True), abs=1e-12)
    assert values.liar_first == pytest.approx(brute_force_judge_accuracy(weights, budget, False), abs=1e-12)


def test_posterior_of_the_bayes_judge():
    assert posterior_positive(np.array([1.0, 1.0, 1.0]), {0: 1}, 0.5) == pytest.approx(0.75)
    assert posterior_positive(np.array([1.0, 1.0, 1.0]), {0: 1, 1: -1}, 0.5) == pytest.approx(0.5)
    assert posterior_positive(np.array([1.0, 1.0, 1.0]), {}, 0.9) == pytest.approx(0.9 ** 3 + 3 * 0.9 ** 2 * 0.1)


def test_minimax_revealers_realise_the_exact_value_in_the_env():
    weights, budget = (3, 2, 2, 1, 1), 3
    env = aligngames.make("debate_v0", mode="tabular", weights=list(weights), budget=budget)
    players = {seat: MinimaxRevealer(weights, budget) for seat in ("debater_a", "debater_b")}
    total = 0.0
    for x in itertools.product((-1, 1), repeat=len(weights)):
        env.reset(seed=0)
        env.unwrapped.rules.evidence = np.array(x)  # white-box: play every evidence vector once
        for seat in env.agent_iter():
            observation, _, termination, truncation, info = env.last()
            env.step(None if termination or truncation else players[seat].act(observation, seat,
                                                                              env.action_space(seat), info))
        record = env.unwrapped.record()
        probability = record["judge_probability"]
        positive = record["correct_position"] == "A"
        total += 0.5 if abs(probability - 0.5) < 1e-12 else float((probability > 0.5) == positive)
    assert total / 2 ** len(weights) == pytest.approx(solve_sparse_debate(weights, budget).debater_a_first, abs=1e-12)


def test_greedy_revealer_cannot_beat_the_minimax_liar():
    # the honest greedy debater against the optimal liar does no better than optimal play
    weights, budget = (3, 2, 2, 1, 1), 2
    env = aligngames.make("debate_v0", mode="tabular", weights=list(weights), budget=budget)
    wins = []
    for seed in range(60):
        env.reset(seed=seed)
        honest = "debater_a" if env.unwrapped.rules.correct_position == "A" else "debater_b"
        players = {seat: GreedyRevealer(list(weights)) if seat == honest else MinimaxRevealer(weights, budget)
                   for seat in ("debater_a", "debater_b")}
        for seat in env.agent_iter():
            observation, _, termination, truncation, info = env.last()
            env.step(None if termination or truncation else players[seat].act(observation, seat,
                                                                              env.action_space(seat), info))
        wins.append(env.unwrapped.record()["judge_correct"])
    assert np.mean(wins) <= solve_sparse_debate(weights, budget).honest_first + 0.15  # 60 games: sampling slack


# --- the evaluation driver ---------------------------------------------------------------------------------

def test_a_judge_that_always_says_a_scores_one_half_in_every_protocol():
    """Positions are swapped and averaged, so a positional judge is at exactly 1/2 on every item."""
    config = DebateEvalConfig(split="validation", max_items=6, rounds=1, judge="player",
                              judge_agent=AgentSpec("constant", {"action": "Answer: A"}), elo_pool={})
    summary, records = evaluate(config)
    for protocol in ("debate", "consultancy", "blind"):
        row = summary["protocols"][protocol]
        assert (row["accuracy"], row["ci_low"], row["ci_high"]) == (0.5, 0.5, 0.5)
        assert row["invalid_verdicts"] == 0
    assert len(records) == 6 * (2 + 4 + 2)


def test_quote_judge_evaluation_with_scripted_debaters():
    config = DebateEvalConfig(split="test", max_items=8, rounds=2, bootstrap_resamples=200,
                              elo_pool={"quote": AgentSpec("quote_debater"), "assert": AgentSpec("assert_debater")})
    summary, _ = evaluate(config)
    debate, consultancy = summary["protocols"]["debate"], summary["protocols"]["consultancy"]
    # a consultant can always quote a real sentence naming its answer: the quote judge believes every one
    assert consultancy["accuracy_honest_consultant"] == 1.0 and consultancy["accuracy_dishonest_consultant"] == 0.0
    assert debate["accuracy"] > consultancy["accuracy"] == 0.5
    assert summary["protocols"]["blind"]["ties"] == 16  # nothing to count: every blind verdict is a coin
    elo = summary["elo"]["players"]
    assert elo["quote"]["elo"] > elo["assert"]["elo"]  # quoting beats asserting before a quote-counting judge
    assert "Elo" in format_summary(summary, config)


def test_cli_writes_a_summary(tmp_path):
    from aligngames.cli import main

    code = main(["solve", "debate_eval", "--split", "validation", "--max-items", "2", "--rounds", "1",
                                "--protocols", "debate", "blind", "--elo-pool", "--out", str(tmp_path)])
    assert code == 0
    assert (tmp_path / "summary.json").exists() and (tmp_path / "episodes.jsonl").read_text().count("\n") == 8
