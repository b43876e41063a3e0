"""Voting rules, maximal lotteries and RLCHF: known answers computed by hand, cross-checked with
pref_voting and an independent LP."""

from __future__ import annotations

import itertools
import json
import logging
from fractions import Fraction

import numpy as np
import pytest
from scipy.optimize import linprog

import aligngames
from aligngames.preferences import AnnotatorGroup
from aligngames.solvers.social_choice import voting as sc

# Condorcet cycle: 4 voters 0>1>2, 3 voters 1>2>0, 2 voters 2>0>1 (9 voters).
# Margins by hand: M[0,1] = (4+2)-3 = 3, M[1,2] = (4+3)-2 = 5, M[2,0] = (3+2)-4 = 1.
CYCLE = ([[0, 1, 2], [1, 2, 0], [2, 0, 1]], [4, 3, 2])

# The disagreement population (23 voters, 5 candidates), see sc.disagreement_population().
DISAGREE_RANKINGS = [[0, 2, 4, 1, 3], [4, 0, 1, 3, 2], [4, 3, 2, 1, 0], [3, 2, 1, 0, 4], [3, 4, 1, 0, 2]]
DISAGREE_COUNTS = [8, 2, 5, 6, 2]


def column_player_lottery(margins: np.ndarray) -> np.ndarray:
    """An independent LP: the column player's minimax strategy, min u s.t. M q <= u, q in the simplex.

    For a skew-symmetric M the game's value is 0 and the column player's optimal q satisfies
    (M q)_i <= 0 for all i, i.e. q^T M >= 0: a maximal lottery.
    """
    size = len(margins)
    objective = np.zeros(size + 1)
    objective[-1] = 1.0  # minimise u
    result = linprog(objective, A_ub=np.hstack([margins, -np.ones((size, 1))]), b_ub=np.zeros(size),
                     A_eq=np.hstack([np.ones((1, size)), np.zeros((1, 1))]), b_eq=[1.0],
                     bounds=[(0, None)] * size + [(None, None)], method="highs")
    assert result.success
    return result.x[:size]


def test_margin_matrix_by_hand_and_against_pref_voting():
    margins = sc.margin_matrix(*CYCLE)
    expected = np.array([[0, 3, -1], [-3, 0, 5], [1, -5, 0]], dtype=float)
    np.testing.assert_array_equal(margins, expected)
    from pref_voting.profiles import Profile

    rng = np.random.default_rng(0)
    for _ in range(20):
        size = int(rng.integers(3, 6))
        rankings = [list(rng.permutation(size)) for _ in range(int(rng.integers(1, 7)))]
        counts = [int(c) for c in rng.integers(1, 5, size=len(rankings))]
        profile = Profile(rankings, rcounts=counts)
        ours = sc.margin_matrix(rankings, counts)
        theirs = np.array([[profile.margin(a, b) for b in range(size)] for a in range(size)])
        np.testing.assert_array_equal(ours, theirs)


def test_rules_on_a_condorcet_cycle():
    assert sc.copeland(*CYCLE) == frozenset({0, 1, 2})  # each wins once, loses once: a three-way tie
    np.testing.assert_array_equal(sc.copeland_scores(*CYCLE), [0, 0, 0])
    # largest defeats: 0 loses to 2 by 1, 1 to 0 by 3, 2 to 1 by 5 -> minimax elects 0
    assert sc.minimax(*CYCLE) == frozenset({0})
    np.testing.assert_array_equal(sc.minimax_scores(*CYCLE), [-1, -3, -5])
    # ranked pairs locks 1>2 (5), then 0>1 (3), skips 2>0 (1, would close the cycle) -> 0 on top
    assert sc.ranked_pairs(*CYCLE) == frozenset({0})
    # Borda (points = candidates ranked below): 0: 2*4+0*3+1*2 = 10, 1: 1*4+2*3+0*2 = 10, 2: 0+3+4 = 7 -> tie
    np.testing.assert_array_equal(sc.borda_scores(*CYCLE), [10, 10, 7])
    assert sc.borda(*CYCLE) == frozenset({0, 1})
    assert sc.plurality(*CYCLE) == frozenset({0})
    # maximal lottery of a 3-cycle with margins a=M01, b=M12, c=M20: p proportional to (b, c, a) = (5, 1, 3)
    lottery = sc.maximal_lottery(*CYCLE)
    np.testing.assert_allclose(lottery, np.array([5, 1, 3]) / 9, atol=1e-9)
    np.testing.assert_allclose(lottery, column_player_lottery(sc.margin_matrix(*CYCLE)), atol=1e-7)


def test_copeland_minimax_borda_and_the_maximal_lottery_disagree():
    election = sc.Election.from_rankings(DISAGREE_RANKINGS, DISAGREE_COUNTS)
    margins = election.margins
    # Copeland scores from the signs of the margins (row sums): only candidate 3 has +2
    np.testing.assert_array_equal(np.sign(margins).sum(axis=1), [0, -2, 0, 2, 0])
    assert sc.copeland(election) == frozenset({3})
    # largest defeats: 0: 3, 1: 15, 2: 7, 3: 7, 4: 5 -> minimax elects 0
    np.testing.assert_array_equal(-sc.minimax_scores(election), [3, 15, 7, 7, 5])
    assert sc.minimax(election) == frozenset({0})
    assert sc.borda(election) == frozenset({2})
    # p = (7, 0, 0, 5, 3) / 15 satisfies p^T M >= 0 column by column (checked by hand: 0, 27, 27, 0, 0),
    # and with 23 voters every margin is odd, so the maximal lottery is unique.
    expected = np.array([7, 0, 0, 5, 3]) / 15
    np.testing.assert_allclose(expected @ margins * 15, [0, 27, 27, 0, 0], atol=1e-9)
    lottery = sc.maximal_lottery(election)
    np.testing.assert_allclose(lottery, expected, atol=1e-8)
    np.testing.assert_allclose(column_player_lottery(margins), expected, atol=1e-7)
    low, high = sc.maximal_lottery_bounds(election)
    np.testing.assert_allclose(low, expected, atol=1e-7)
    np.testing.assert_allclose(high, expected, atol=1e-7)
    # the named population is this profile
    answers, groups = sc.disagreement_population()
    np.testing.assert_array_equal(sc.Election.from_groups(groups, answers).margins, margins)


def test_pref_voting_rules_on_profiles_match_our_margin_graph_and_borda():
    """Rules run on pref_voting's Profile give what our margin graph gives; our margin Borda matches."""
    from pref_voting import voting_methods
    from pref_voting.profiles import Profile

    rng = np.random.default_rng(1)
    for _ in range(15):
        size = int(rng.integers(3, 6))
        rankings = [list(rng.permutation(size)) for _ in range(int(rng.integers(2, 7)))]
        counts = [int(c) for c in rng.integers(1, 4, size=len(rankings))]
        counts[0] += 1 - sum(counts) % 2  # an odd electorate: no zero margins, so pref_voting's basic ranked pairs is quick
        profile = Profile(rankings, rcounts=counts)
        election = sc.Election.from_rankings(rankings, counts)
        for ours, name in [(sc.copeland, "copeland"), (sc.minimax, "minimax"), (sc.ranked_pairs, "ranked_pairs"),
                           (sc.schulze, "beat_path")]:
            assert ours(election) == frozenset(getattr(voting_methods, name)(profile)), name
        scores = profile.borda_scores()
        np.testing.assert_allclose(sc.borda_scores(election), [scores[c] for c in range(size)])
        margins_only = sc.Election.from_preferences(election.preferences(), num_voters=election.total_weight)
        assert sc.borda(margins_only) == sc.borda(election)


def test_ranked_pairs_by_stacks_agrees_with_edge_tie_breaking():
    """With pairwise ties we run pref_voting's stack algorithm; it must agree with its tie-breaking one."""
    from pref_voting import voting_methods

    rng = np.random.default_rng(2)
    checked = 0
    while checked < 40:
        size = int(rng.integers(3, 5))
        rankings = [list(rng.permutation(size)) for _ in range(int(rng.integers(2, 5)))]
        election = sc.Election.from_rankings(rankings)
        tied_pairs = int((np.triu(election.margins == 0, k=1)).sum())
        if tied_pairs > 2:  # the tie-breaking algorithm tries (2 * tied_pairs)! orders; keep it quick
            continue
        basic = voting_methods.ranked_pairs(sc._margin_graph(election), algorithm="basic")
        assert sc.ranked_pairs(election) == frozenset(basic)
        checked += 1


def test_preference_matrix_election_and_the_food_lottery():
    answers, groups = sc.population("food")
    election = sc.Election.from_groups(groups, answers)
    # weights 0.40 / 0.35 / 0.25: M01 = 2(0.40+0.25)-1 = 0.3, M12 = 2(0.40+0.35)-1 = 0.5, M20 = 2(0.35+0.25)-1 = 0.2
    assert election.margins[0, 1] == pytest.approx(0.3)
    assert election.margins[1, 2] == pytest.approx(0.5)
    assert election.margins[2, 0] == pytest.approx(0.2)
    np.testing.assert_allclose(sc.maximal_lottery(election), [0.5, 0.2, 0.3], atol=1e-8)


def test_stochastic_groups_give_a_margins_only_election():
    groups = [AnnotatorGroup("a", 1.0, (1.0, 0.0, 0.5), beta=2.0), AnnotatorGroup("b", 1.0, (0.0, 1.0, 0.2), beta=2.0)]
    election = sc.Election.from_groups(groups)
    assert election.rankings == ()
    with pytest.raises(ValueError, match="needs the voters' rankings"):
        sc.plurality(election)
    comparison = sc.compare_rules(groups, rules=("copeland", "plurality", "maximal_lottery"))
    assert [o.rule for o in comparison.outcomes] == ["copeland", "maximal_lottery"]


def test_non_unique_maximal_lottery_is_reported(caplog):
    # 0 -> 1 -> 2 -> 0 with unit margins and a fourth candidate tied with everyone: both (1/3, 1/3, 1/3, 0)
    # and (0, 0, 0, 1) satisfy p^T M >= 0, and so does every mixture of them.
    preferences = np.array([[.5, 1, 0, .5], [0, .5, 1, .5], [1, 0, .5, .5], [.5, .5, .5, .5]])
    election = sc.Election.from_preferences(preferences)
    with caplog.at_level(logging.WARNING):
        lottery = sc.maximal_lottery(election)
    assert "not unique" in caplog.text
    assert sc.is_maximal_lottery(lottery, election.margins)
    low, high = sc.maximal_lottery_bounds(election)
    np.testing.assert_allclose(low, [0, 0, 0, 0], atol=1e-7)
    np.testing.assert_allclose(high, [1 / 3, 1 / 3, 1 / 3, 1], atol=1e-7)
    assert sc.copeland(election) == frozenset({0, 1, 2, 3})  # nobody has a net win: all tie


def test_social_rankings():
    election = sc.Election.from_rankings(*CYCLE)
    assert sc.social_ranking("copeland", election) == (frozenset({0, 1, 2}),)
    assert sc.social_ranking("minimax", election) == (frozenset({0}), frozenset({1}), frozenset({2}))
    # iterated ranked pairs: 0 first; between 1 and 2 the majority says 1 > 2
    assert sc.social_ranking("ranked_pairs", election) == (frozenset({0}), frozenset({1}), frozenset({2}))
    assert sc.social_ranking("borda", election) == (frozenset({0, 1}), frozenset({2}))
    with pytest.raises(ValueError, match="valid rules"):
        sc.social_ranking("plurality", election)


def test_rlchf_labels_matrix_and_the_preference_game():
    answers, groups = sc.disagreement_population()
    result = sc.rlchf(sc.Election.from_groups(groups, answers), "copeland")
    # Copeland scores (0, -2, 0, 2, 0): socratic, then {concise, cautious, playful}, then detailed
    assert result.ranking == (frozenset({3}), frozenset({0, 2, 4}), frozenset({1}))
    matrix = result.preferences
    assert matrix[3].tolist() == [1, 1, 1, 0.5, 1]
    assert matrix[0, 2] == matrix[2, 4] == 0.5 and matrix[1, 0] == 0.0
    assert len(result.labels) == 10 and sum(label.tie for label in result.labels) == 3
    assert all(answers[x.preferred] == "socratic" for x in result.labels if 3 in (x.preferred, x.other))
    env = aligngames.make("preference_game_v0", **result.env_kwargs())
    row = env.unwrapped.matrix_game().row_payoffs
    assert np.all(row[3] >= 0) and np.all(row[:, 3] <= 0)  # socratic is a dominant answer in the RLCHF game
    env.reset(seed=0)
    for _agent in env.agent_iter():
        _, _, termination, truncation, _ = env.last()
        env.step(None if termination or truncation else 3)
    assert env.unwrapped.record()["preference"] == 0.5
    json.dumps(result.to_dict())


def test_compare_rules_scores_each_group():
    answers, groups = sc.population("food")
    comparison = sc.compare_rules(groups, answers, rules=("copeland", "minimax", "maximal_lottery"))
    copeland, minimax, lottery = comparison.outcomes
    assert copeland.winners == frozenset({0, 1, 2})
    assert minimax.winners == frozenset({0})
    # diner_fans rank burger > sushi > pasta: normalised utilities (1, 0.5, 0); ML (0.5, 0.2, 0.3) -> 0.6
    assert lottery.group_utility[0] == pytest.approx(0.6)
    assert minimax.group_utility.tolist() == pytest.approx([1.0, 0.0, 0.5])
    # the maximal lottery is never beaten by any single answer: worst-case win rate exactly 1/2 ...
    assert lottery.worst_case_win_rate == pytest.approx(0.5)
    # ... while the uniform draw over Copeland's tie loses to sushi: (0.65 + 0.5 + 0.25) / 3
    assert copeland.worst_case_win_rate == pytest.approx(1.4 / 3)
    assert "maximal_lottery" in comparison.table()


def test_rule_names_and_errors():
    with pytest.raises(ValueError, match="valid rules"):
        sc.winners("dictator", *CYCLE)
    with pytest.raises(ValueError, match="exactly once"):
        sc.copeland([[0, 1, 1]])
    with pytest.raises(ValueError, match="counts go with"):
        sc.copeland(sc.Election.from_rankings(*CYCLE), [1, 2, 3])
    assert sc.winners("maximal_lottery", *CYCLE) == frozenset({0, 1, 2})
    assert sc.parse_ranking("2>0>1*4") == ([2, 0, 1], 4.0)
    with pytest.raises(ValueError, match="best first"):
        sc.parse_ranking("a>b")


def test_every_rule_runs_on_every_permutation_profile_of_three():
    """Smoke over all 6 single-voter profiles: the voter's top candidate wins under every rule."""
    for ranking in itertools.permutations(range(3)):
        for rule in sc.WINNER_RULES:
            assert sc.winners(rule, [list(ranking)]) == frozenset({ranking[0]}), rule
        np.testing.assert_allclose(sc.maximal_lottery([list(ranking)]), np.eye(3)[ranking[0]], atol=1e-9)


def test_cli(tmp_path, capsys):
    from aligngames.cli import main

    out = tmp_path / "social.json"
    assert main(["solve", "social_choice", "--population", "food", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "maximal_lottery" in printed and "preference_game_v0 kwargs" in printed
    data = json.loads(out.read_text(), parse_constant=lambda name: pytest.fail(f"{out} holds {name}: not JSON"))
    assert data["rlchf"]["rule"] == "copeland"
    assert {group["beta"] for group in data["comparison"]["groups"]} == {"inf"}  # hard-max annotators
    assert main(["solve", "social_choice", "--rankings", "0>1>2*4", "1>2>0*3", "2>0>1*2"]) == 0
    assert "minimax" in capsys.readouterr().out


def test_maximal_lottery_agrees_with_the_nash_lp_of_the_margin_game():
    """The two routes to the maximal lottery (pref_voting's LP on a profile; our HiGHS LP on the
    margin matrix, aligngames.solvers.equilibrium.nash) agree where it is unique (an odd number of voters)."""
    from aligngames.solvers.equilibrium import nash

    rng = np.random.default_rng(7)
    for _ in range(20):
        num_candidates = int(rng.integers(3, 7))
        rankings = [list(rng.permutation(num_candidates)) for _ in range(int(rng.integers(1, 6)) * 2 + 1)]
        election = sc.as_election(rankings)
        np.testing.assert_allclose(sc.maximal_lottery(election), nash.maximal_lottery(election.margins), atol=1e-7)


# --- fractional weights: ties that are exact in rational arithmetic stay ties ---------------------

# 0.1: 0>1>2, 0.2: 0>2>1, 0.3: 1>0>2. Margins by hand: M01 = 0.1 + 0.2 - 0.3 = 0 (a tie that floats
# miss: 0.1 + 0.2 > 0.3), M02 = 0.6, M12 = 0.1 - 0.2 + 0.3 = 0.2.
FRACTIONAL = ([[0, 1, 2], [0, 2, 1], [1, 0, 2]], [0.1, 0.2, 0.3])


def test_fractional_counts_are_read_as_the_decimals_written():
    assert sc.exact_counts([0.1, 0.2, 0.3], 3) == (Fraction(1, 10), Fraction(1, 5), Fraction(3, 10))
    assert sc.exact_counts([Fraction(1, 3), 2, np.int64(4), np.float64(0.25)], 4) == (
        Fraction(1, 3), Fraction(2), Fraction(4), Fraction(1, 4))
    election = sc.Election.from_rankings(*FRACTIONAL)
    assert election.exact_margins.tolist() == [[0, 0, Fraction(3, 5)], [0, 0, Fraction(1, 5)],
                                               [Fraction(-3, 5), Fraction(-1, 5), 0]]
    assert election.exact_total_weight == Fraction(3, 5)
    np.testing.assert_array_equal(sc.margin_matrix(*FRACTIONAL), [[0, 0, 0.6], [0, 0, 0.2], [-0.6, -0.2, 0]])


def test_every_rule_keeps_exact_fractional_ties():
    # 0 and 1 tie pairwise and both beat 2: every margin rule ties them. Plurality: first places 0.1 + 0.2 = 0.3
    # for 0 and 0.3 for 1. Instant runoff: 2 has no first place and goes; 0 and 1 then tie at 0.3 of 0.6,
    # no majority, so both win. Kemeny-Young: 0>1>2 and 1>0>2 both score 0 + 0.6 + 0.2.
    for rule in ("copeland", "minimax", "ranked_pairs", "schulze", "kemeny_young", "plurality", "instant_runoff"):
        assert sc.winners(rule, *FRACTIONAL) == frozenset({0, 1}), rule
    # Borda: 0 gets 2(0.1) + 2(0.2) + 0.3 = 0.9, 1 gets 0.1 + 2(0.3) = 0.7: no tie
    assert sc.borda(*FRACTIONAL) == frozenset({0})
    np.testing.assert_allclose(sc.borda_scores(*FRACTIONAL), [0.9, 0.7, 0.2])
    assert sc.social_ranking("copeland", *FRACTIONAL) == (frozenset({0, 1}), frozenset({2}))
    assert sc.social_ranking("minimax", *FRACTIONAL) == (frozenset({0, 1}), frozenset({2}))
    # Borda ties: 0.1 and 0.2 of 0>1>2 against 0.3 of 1>0>2 give 0 and 1 both 0.9
    borda_tie = ([[0, 1, 2], [0, 1, 2], [1, 0, 2]], [0.1, 0.2, 0.3])
    assert sc.borda(*borda_tie) == frozenset({0, 1})
    assert sc.social_ranking("borda", *borda_tie) == (frozenset({0, 1}), frozenset({2}))
    # instant runoff: first places 2: 0.1 + 0.2, 3: 0.3, of 0.6; 0 and 1 (none) go, then 2 and 3 tie: both win
    assert sc.instant_runoff([[2, 1, 0, 3], [2, 1, 3, 0], [3, 2, 0, 1]], [0.1, 0.2, 0.3]) == frozenset({2, 3})
    # the same elections with integer weights (x10) elect the same candidates
    for rule in sc.WINNER_RULES:
        assert sc.winners(rule, FRACTIONAL[0], [1, 2, 3]) == sc.winners(rule, *FRACTIONAL), rule


def test_kemeny_young_with_fractional_weights_matches_an_exact_enumeration():
    rankings, counts = [[1, 3, 0, 2], [3, 2, 1, 0], [3, 2, 0, 1], [2, 0, 1, 3]], [0.6, 0.3, 0.1, 0.6]
    margins = sc.Election.from_rankings(rankings, counts).exact_margins
    scores = {order: sum(margins[a, b] for i, a in enumerate(order) for b in order[i + 1:])
              for order in itertools.permutations(range(4))}
    best = max(scores.values())
    expected = frozenset(order[0] for order, score in scores.items() if score == best)
    assert expected == frozenset({1, 2})  # floats elected {2} alone
    assert sc.kemeny_young(rankings, counts) == expected


def test_plurality_instant_runoff_and_borda_match_pref_voting_on_integer_counts():
    from pref_voting import voting_methods
    from pref_voting.profiles import Profile

    rng = np.random.default_rng(4)
    for _ in range(40):
        size = int(rng.integers(3, 6))
        rankings = [list(rng.permutation(size)) for _ in range(int(rng.integers(1, 7)))]
        counts = [int(c) for c in rng.integers(1, 4, size=len(rankings))]
        profile = Profile(rankings, rcounts=counts)
        for ours, name in [(sc.plurality, "plurality"), (sc.instant_runoff, "instant_runoff"), (sc.borda, "borda"),
                           (sc.kemeny_young, "kemeny_young")]:
            assert ours(rankings, counts) == frozenset(int(c) for c in getattr(voting_methods, name)(profile)), name
