"""IDA accuracy recursion against hand-derived numbers, closed forms, exact enumeration and Monte Carlo.

Hand derivations (b = 3, each subtask answer right with probability a = 0.9, error e = 0.1):
- vote: P(at most one of three wrong) = 0.9^3 + 3 * 0.1 * 0.9^2 = 0.729 + 0.243 = 0.972;
- parity: right iff an even number wrong: (1 + 0.8^3) / 2 = 0.756;
- majority over uniform leaves: all three truths equal (prob 1/4) -> 0.972; a 2-1 split (prob 3/4) -> right iff
  both majority-side answers stay (0.81) or exactly one does and the minority answer flips (2 * 0.1 * 0.9 * 0.1 =
  0.018): 0.828; total 0.243 + 0.621 = 0.864.
- one IDA level with eps = 0.05: a_1 = 0.95 * 0.972 + 0.05 * 0.028 = 0.9248.
- vote b = 3, noise n: stable fixed point 1/2 + sqrt(3/4 - 1/(2(1 - 2n))) (n = 0.1: 0.853553), threshold 1/6;
  b = 5: f'(1/2) = 5 * C(4, 2) / 16 = 15/8, threshold (1 - 8/15) / 2 = 7/30.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from aligngames.envs.amplification.problems import (
    AmplificationProblem,
    combination_accuracy,
    combine,
    compose_errors,
)
from aligngames.solvers.exact.amplification import (
    fixed_points,
    limit_accuracy,
    parity_closed_form,
    rrm_accuracies,
    simulate_trees,
    solve,
    tradeoff_table,
    vote_fixed_point_three,
    vote_threshold,
)


def test_one_level_by_hand():
    assert combination_accuracy("vote", 0.9, 3) == pytest.approx(0.972)
    assert combination_accuracy("parity", 0.9, 3) == pytest.approx(0.756)
    assert combination_accuracy("majority", 0.9, 3) == pytest.approx(0.864)
    problem = AmplificationProblem(depth=1, rule="vote", base_accuracy=0.9, distillation_error=0.05)
    assert problem.distilled_accuracies() == pytest.approx([0.9, 0.9248])
    assert compose_errors(0.1, 0.2) == pytest.approx(0.1 + 0.2 - 2 * 0.02)


def test_parity_closed_form_matches_the_recursion_and_decays_to_one_half():
    problem = AmplificationProblem(depth=5, branching=2, rule="parity", base_accuracy=0.95, distillation_error=0.02,
                                   overseer_error=0.01)
    assert problem.distilled_accuracies() == pytest.approx(parity_closed_form(problem), abs=1e-12)
    # s_2 = c^3 s_0^4 with c = 0.98 * 0.96, s_0 = 0.9
    assert parity_closed_form(problem)[2] == pytest.approx(0.5 * (1 + (0.98 * 0.96) ** 3 * 0.9 ** 4))
    assert fixed_points("parity", 2, 0.03)[-1].accuracy == 0.5
    assert limit_accuracy("parity", 2, 0.03, 0.99) == 0.5


def test_vote_fixed_point_and_threshold():
    assert vote_fixed_point_three(0.1) == pytest.approx(0.5 + math.sqrt(0.125))
    points = fixed_points("vote", 3, 0.1)
    assert [p.accuracy for p in points] == pytest.approx([0.5, 0.5 + math.sqrt(0.125)])
    assert [p.stable for p in points] == [False, True]
    assert points[1].slope == pytest.approx(3 - 3 * 0.8, abs=1e-6)  # 3 - 3 (1 - 2n)
    assert vote_threshold(3) == pytest.approx(1 / 6) and vote_threshold(5) == pytest.approx(7 / 30)
    below, above = fixed_points("vote", 3, 1 / 6 - 1e-3), fixed_points("vote", 3, 1 / 6 + 1e-3)
    assert len(below) == 2 and [p.accuracy for p in above] == [0.5]
    # every a_0 > 1/2 reaches the stable point, from below and from above
    for start in (0.55, 0.99):
        assert limit_accuracy("vote", 3, 0.1, start) == pytest.approx(0.5 + math.sqrt(0.125))
        deep = AmplificationProblem(depth=60, rule="vote", base_accuracy=start, distillation_error=0.1)
        assert deep.distilled_accuracies()[-1] == pytest.approx(0.5 + math.sqrt(0.125), abs=1e-9)


def test_majority_over_random_inputs_loses_accuracy_even_with_a_perfect_overseer():
    points = fixed_points("majority", 3, 0.0)
    assert [p.accuracy for p in points] == pytest.approx([0.5, 1.0])
    assert points[0].slope == pytest.approx(0.75, abs=1e-6) and not points[1].stable
    assert limit_accuracy("majority", 3, 0.0, 0.999) == 0.5


def test_tradeoff_table_costs_and_ends():
    problem = AmplificationProblem(depth=3, branching=3, rule="vote", base_accuracy=0.9, distillation_error=0.05)
    rows = tradeoff_table(problem)
    assert [row["model_calls"] for row in rows] == [1, 3, 9, 27]
    assert [row["overseer_calls"] for row in rows] == [0, 1, 4, 13]
    assert rows[0]["accuracy"] == pytest.approx(problem.distilled_accuracies()[-1])
    accuracy = 0.9  # HCH: three noiseless vote levels over M_0
    for _ in range(3):
        accuracy = combination_accuracy("vote", accuracy, 3)
    assert rows[-1]["accuracy"] == pytest.approx(accuracy)
    assert all(a["accuracy"] < b["accuracy"] for a, b in itertools.pairwise(rows))  # more compute, more accuracy


def test_rrm_is_ida_with_one_more_learned_step():
    problem = AmplificationProblem(depth=4, rule="vote", base_accuracy=0.8, distillation_error=0.07, overseer_error=0.02)
    reward_model, agent = rrm_accuracies(problem, reward_model_error=0.07, policy_error=0.0)
    assert agent == pytest.approx(problem.distilled_accuracies())
    reward_model, agent = rrm_accuracies(problem, 0.05, 0.04)
    # first level by hand: reference flip(f(0.8), 0.02), R_1 = flip(., 0.05), q_1 = flip(R_1, 0.04)
    f = 0.8 ** 3 + 3 * 0.2 * 0.8 ** 2
    reference = 0.98 * f + 0.02 * (1 - f)
    assert reward_model[0] == pytest.approx(0.95 * reference + 0.05 * (1 - reference))
    assert agent[1] == pytest.approx(0.96 * reward_model[0] + 0.04 * (1 - reward_model[0]))
    # the threshold 1/6 applies to the composed noise: IDA at delta 0.02, eps 0.1 (noise 0.116) keeps its stable
    # accuracy; RRM with the same reward-model error and an RL error of 0.12 (noise 0.208) decays to 1/2
    deep = AmplificationProblem(depth=64, rule="vote", base_accuracy=0.99, distillation_error=0.1, overseer_error=0.02)
    assert deep.distilled_accuracies()[-1] == pytest.approx(vote_fixed_point_three(compose_errors(0.02, 0.1)), abs=1e-9)
    _, agent = rrm_accuracies(deep, 0.1, 0.12)
    assert compose_errors(0.02, 0.1, 0.12) > 1 / 6 and agent[-1] < 0.501


def _enumerate(problem: AmplificationProblem, levels: int) -> float:
    """Exact root accuracy by summing over every leaf truth and every flip of an explicit tree."""
    b, k = problem.branching, problem.depth
    leaves = b ** k
    nodes = [b ** (k - d) for d in range(1, k + 1)]  # internal nodes per depth
    node_noise = [compose_errors(problem.overseer_error, problem.distillation_error if d <= k - levels else 0.0)
                  for d in range(1, k + 1)]
    truth_bits = 1 if problem.rule == "vote" else leaves
    total = 0.0
    flips = leaves + sum(nodes)
    for truth in itertools.product((0, 1), repeat=truth_bits):
        truths = list(truth) * leaves if problem.rule == "vote" else list(truth)
        for pattern in itertools.product((0, 1), repeat=flips):
            weight = 0.5 ** truth_bits
            leaf_flips = pattern[:leaves]
            for bit in leaf_flips:
                weight *= (1 - problem.base_accuracy) if bit else problem.base_accuracy
            answers = [t ^ f for t, f in zip(truths, leaf_flips)]
            values, used = truths, leaves
            for depth, count in enumerate(nodes):
                noise = node_noise[depth]
                node_flips = pattern[used:used + count]
                used += count
                for bit in node_flips:
                    weight *= noise if bit else 1 - noise
                answers = [combine(problem.rule, answers[i * b:(i + 1) * b]) ^ f for i, f in enumerate(node_flips)]
                values = [combine(problem.rule, values[i * b:(i + 1) * b]) for i in range(count)]
            total += weight * (answers[0] == values[0])
    return total


@pytest.mark.parametrize(("rule", "branching", "depth", "levels"),
                         [("parity", 2, 2, 0), ("parity", 2, 2, 1), ("vote", 3, 1, 0), ("majority", 3, 1, 1)])
def test_recursion_equals_enumeration_of_explicit_trees(rule, branching, depth, levels):
    problem = AmplificationProblem(depth=depth, branching=branching, rule=rule, base_accuracy=0.85,
                                   distillation_error=0.1, overseer_error=0.05)
    assert _enumerate(problem, levels) == pytest.approx(problem.amplified_accuracy(levels), abs=1e-12)


def test_recursion_matches_monte_carlo_on_depth_three_majority_trees():
    problem = AmplificationProblem(depth=3, branching=3, rule="majority", base_accuracy=0.9, distillation_error=0.05,
                                   overseer_error=0.02)
    rng = np.random.default_rng(0)
    for levels in (0, 3):
        exact = problem.amplified_accuracy(levels)
        estimate = simulate_trees(problem, levels, 40_000, rng)
        assert abs(estimate - exact) < 4 * math.sqrt(exact * (1 - exact) / 40_000)


def test_bad_input_names_the_argument():
    for kwargs, name in (({"base_accuracy": 1.2}, "base_accuracy"), ({"distillation_error": 0.7}, "distillation_error"),
                         ({"overseer_error": -0.1}, "overseer_error"), ({"depth": 0}, "depth"),
                         ({"rule": "sum"}, "rule"), ({"rule": "vote", "branching": 2}, "branching"),
                         ({"branching": 0}, "branching")):
        with pytest.raises(ValueError, match=name):
            AmplificationProblem(**kwargs)
    with pytest.raises(ValueError, match="levels"):
        AmplificationProblem(depth=2).amplified_accuracy(3)
    with pytest.raises(ValueError, match="reward_model_error"):
        rrm_accuracies(AmplificationProblem(), 0.6)
    with pytest.raises(ValueError, match="unknown amplification problem keys"):
        AmplificationProblem.from_mapping({"depht": 3})


def test_solve_reports_everything():
    result = solve(AmplificationProblem(depth=2, base_accuracy=0.9, distillation_error=0.05),
                   reward_model_error=0.05).to_dict()
    assert result["distilled_accuracy"][1] == pytest.approx(0.9248) and result["amplified_accuracy"][0] == pytest.approx(0.972)
    assert result["threshold"] == pytest.approx(1 / 6) and result["rrm"]["agent_accuracy"][1] == pytest.approx(0.9248)
