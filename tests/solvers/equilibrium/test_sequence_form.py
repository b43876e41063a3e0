"""Sequence-form MMD (dilated entropy) on OpenSpiel games: known answers and OpenSpiel cross-checks.

- structure of Kuhn poker's sequence form; the value of a policy against OpenSpiel's ``policy_value``;
- our sequence-form NashConv equals OpenSpiel's ``exploitability.nash_conv`` (1e-9) on Kuhn and Leduc;
- with the centre magnet (OpenSpiel's regulariser ``alpha psi``) our iterates equal
  ``mmd_dilated.MMDDilatedEnt``'s (1e-8) after each of several updates, Kuhn and Leduc;
- with magnet reset (MPO) the last iterate of Kuhn reaches NashConv < 1e-6 within 500 updates, the game
  value -1/18 to 1e-6, and player 1's unique equilibrium strategy (bluff 1/3 with the jack, call 1/3 with
  the queen); the fixed-magnet run plateaus at its regularisation gap;
- the regularised gap: ``0`` at the regularised equilibrium, ``>= 0`` elsewhere, and equal to the gap
  computed from the regularised best responses' objective values;
- the adaptive reset (gap <= tau * NashConv, fixed-share mixing): the reset magnet is exactly
  ``(1 - eps) pi + eps rho_0`` with ``eps = m * NashConv / NashConv at the first reset``; Kuhn reaches
  NashConv < 1e-6 and -1/18; on Leduc NashConv falls at every 1000 updates to < 0.03 after 6000 while the
  plain reset has risen back above 0.09 (the drift the mixing removes).
"""

from __future__ import annotations

import numpy as np
import pyspiel
import pytest
from open_spiel.python.algorithms import expected_game_score, exploitability, mmd_dilated

import aligngames
from aligngames.solvers.equilibrium.openspiel_bridge import to_openspiel
from aligngames.solvers.equilibrium.sequence_form import (
    RESET_CHECK_EVERY,
    SequenceFormMMD,
    build_sequence_form,
    mmd,
)
from aligngames.solvers.exact.sparse_debate import solve_sparse_debate

KUHN_VALUE = -1.0 / 18.0
# Leduc poker's value for player 0: the sequence-form LP (scipy HiGHS, both players' LPs agree to 1e-15)
LEDUC_VALUE = -0.0856064
# the MPO settings of the docs and the benchmark: NashConv ~ 3e-9 after 500 updates (0.03 s)
RESET = {"alpha": 0.1, "eta": 4.0, "magnet_reset": 10}


@pytest.fixture(scope="module")
def kuhn():
    return pyspiel.load_game("kuhn_poker")


@pytest.fixture(scope="module")
def leduc():
    return pyspiel.load_game("leduc_poker")


def _random_policies(form, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    policies = []
    for tree in form.trees:
        pi = np.ones(tree.num_sequences)
        for start, size in zip(tree.infoset_start, tree.infoset_size, strict=True):
            pi[start:start + size] = rng.dirichlet(np.full(size, 0.5))
        policies.append(pi)
    return policies


def test_kuhn_sequence_form_structure(kuhn):
    form = build_sequence_form(kuhn)
    assert [tree.num_sequences for tree in form.trees] == [13, 13]
    assert [tree.num_infosets for tree in form.trees] == [6, 6]
    assert [len(tree.levels) for tree in form.trees] == [2, 1]   # player 0 acts again after check-bet
    for tree in form.trees:                                      # each level is a slice after its parents
        for level in tree.levels:
            assert np.all(level.parents < level.seq_lo)
    # the dilated-entropy centre: check leads to one more 2-action decision, so (2/3, 1/3) at the root
    center = form.trees[0].center()
    np.testing.assert_allclose(center[form.trees[0].infoset_start[0]:][:2], [2 / 3, 1 / 3])
    # the uniform policy's realisation plan sums to 1 over player 0's terminal-free root sequences
    x = form.trees[0].realisation_plan(form.trees[0].uniform())
    assert x[0] == 1.0 and np.isclose(x[1:7].sum(), 3.0)


def test_value_and_tabular_round_trip(kuhn, leduc):
    for game in (kuhn, leduc):
        form = build_sequence_form(game)
        policies = _random_policies(form, seed=1)
        tabular = form.to_tabular_policy(policies)
        back = form.from_tabular_policy(tabular)
        for a, b in zip(policies, back, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-15)
        plans = [tree.realisation_plan(p) for tree, p in zip(form.trees, policies, strict=True)]
        expected = expected_game_score.policy_value(game.new_initial_state(), [tabular, tabular])[0]
        assert form.value(*plans) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_nash_conv_equals_openspiel(kuhn, leduc, seed):
    for game in (kuhn, leduc):
        form = build_sequence_form(game)
        policies = _random_policies(form, seed)
        plans = [tree.realisation_plan(p) for tree, p in zip(form.trees, policies, strict=True)]
        ours = form.nash_conv(*plans)
        theirs = exploitability.nash_conv(game, form.to_tabular_policy(policies))
        assert ours == pytest.approx(theirs, abs=1e-9)


@pytest.mark.parametrize(("alpha", "stepsize"), [(0.1, None), (0.05, 2.0)])
def test_iterates_match_openspiel_mmd_dilated_on_kuhn(kuhn, alpha, stepsize):
    reference = mmd_dilated.MMDDilatedEnt(kuhn, alpha=alpha, stepsize=stepsize)
    ours = SequenceFormMMD(kuhn, alpha=alpha, eta=stepsize)          # magnet="center", uniform start
    assert ours.eta == pytest.approx(reference.stepsize)
    for _ in range(6):
        reference.update_sequences()
        ours.step()
        theirs = reference.get_policies().action_probability_array
        mine = ours.form.to_tabular_policy(ours.policies).action_probability_array
        assert np.abs(theirs - mine).max() < 1e-8
        for x_ours, x_theirs in zip(ours.plans, reference.current_sequences(), strict=True):
            assert np.isclose(x_ours.sum(), np.sum(x_theirs), atol=1e-8)


def test_iterates_match_openspiel_mmd_dilated_on_leduc(leduc):
    reference = mmd_dilated.MMDDilatedEnt(leduc, alpha=0.05)
    ours = SequenceFormMMD(leduc, alpha=0.05)
    for _ in range(2):
        reference.update_sequences()
        ours.step()
    theirs = reference.get_policies().action_probability_array
    assert np.abs(theirs - ours.form.to_tabular_policy(ours.policies).action_probability_array).max() < 1e-8


def test_uniform_magnet_is_a_different_regulariser(kuhn):
    """OpenSpiel's ``alpha psi(x)`` is the centre magnet; the uniform magnet gives other iterates."""
    center = mmd(kuhn, 5, alpha=0.1)
    uniform = mmd(kuhn, 5, alpha=0.1, magnet="uniform")
    assert max(np.abs(a - b).max() for a, b in zip(center.policies, uniform.policies, strict=True)) > 1e-3


def test_magnet_reset_converges_to_nash_on_kuhn(kuhn):
    result = mmd(kuhn, 500, **RESET)
    assert result.nash_conv[-1] < 1e-6                       # achieved: about 3e-9
    assert result.value == pytest.approx(KUHN_VALUE, abs=1e-6)
    tabular = result.tabular_policy()
    assert exploitability.nash_conv(kuhn, tabular) == pytest.approx(result.nash_conv[-1], abs=1e-9)
    # player 1's equilibrium strategy is unique: after a check, bet 1/3 with the jack (bluff), always
    # with the king, never with the queen; after a bet, call 1/3 with the queen
    bet = {key: tabular.policy_for_key(key)[1] for key in ("0p", "1p", "2p", "0b", "1b", "2b")}
    expected = {"0p": 1 / 3, "1p": 0.0, "2p": 1.0, "0b": 0.0, "1b": 1 / 3, "2b": 1.0}
    for key, probability in expected.items():
        assert bet[key] == pytest.approx(probability, abs=1e-4), key


def test_fixed_magnet_plateaus_at_its_regularisation_gap(kuhn):
    fixed = mmd(kuhn, 1000, alpha=RESET["alpha"], eta=RESET["eta"])
    reset = mmd(kuhn, 1000, **RESET)
    # converged (the last 500 updates change NashConv by < 1e-9) but to the QRE, not to Nash
    assert abs(fixed.nash_conv[-1] - fixed.nash_conv[499]) < 1e-9
    assert fixed.nash_conv[-1] > 0.1
    assert abs(fixed.value - KUHN_VALUE) > 1e-3
    assert reset.nash_conv[-1] < 1e-8
    # a smaller alpha shrinks the gap but does not close it
    small = mmd(kuhn, 3000, alpha=0.01, eta=0.5)
    assert 1e-4 < small.nash_conv[-1] < fixed.nash_conv[-1]


def test_nash_conv_trace_and_eval_every(kuhn):
    every = mmd(kuhn, 50, **RESET)
    sparse_trace = mmd(kuhn, 50, eval_every=20, **RESET)
    assert every.nash_conv.shape == (50,)
    assert sparse_trace.nash_conv_iterations.tolist() == [20, 40, 50]
    np.testing.assert_allclose(sparse_trace.nash_conv, every.nash_conv[[19, 39, 49]])


def test_rejects_games_outside_two_player_zero_sum():
    with pytest.raises(ValueError, match="3 players"):
        build_sequence_form(pyspiel.load_game("kuhn_poker", {"players": 3}))
    with pytest.raises(ValueError, match="alpha"):
        SequenceFormMMD(pyspiel.load_game("kuhn_poker"), alpha=-1.0)
    with pytest.raises(ValueError, match="step size"):
        SequenceFormMMD(pyspiel.load_game("kuhn_poker"), alpha=0.0)


def test_rejects_bad_reset_settings(kuhn):
    form = build_sequence_form(kuhn)
    with pytest.raises(ValueError, match="reset_tolerance replaces magnet_reset"):
        SequenceFormMMD(form, alpha=0.1, magnet_reset=10, reset_tolerance=1e-3)
    with pytest.raises(ValueError, match="reset_tolerance must be > 0"):
        SequenceFormMMD(form, alpha=0.1, reset_tolerance=0.0)
    with pytest.raises(ValueError, match="reset_tolerance needs alpha > 0"):
        SequenceFormMMD(form, alpha=0.0, eta=1.0, reset_tolerance=1e-3)
    with pytest.raises(ValueError, match="magnet_mix"):
        SequenceFormMMD(form, alpha=0.1, magnet_reset=10, magnet_mix=1.5)


def _regularised_objective(values, plan, log_pi, log_rho, alpha):
    """``<q, x> - alpha B_psi(x; rho)`` with ``B_psi = sum_I x[parent(I)] KL(pi(.|I) || rho(.|I))``."""
    return float(values @ plan) - alpha * float(plan @ (log_pi - log_rho))


@pytest.mark.parametrize("name", ["kuhn_poker", "leduc_poker"])
def test_regularised_gap(name):
    """The gap from the bottom-up logsumexp equals the gap from the regularised best responses, is
    positive away from the regularised equilibrium and 0 at it."""
    form = build_sequence_form(pyspiel.load_game(name))
    alpha = 0.1
    magnet = _random_policies(form, seed=4)
    solver = SequenceFormMMD(form, alpha=alpha, magnet=magnet, initial=_random_policies(form, seed=5))
    expected = 0.0
    for tree, values, rho, pi, plan in zip(form.trees, solver.values, magnet, solver.policies, solver.plans,
                                           strict=True):
        log_rho = np.log(rho)
        response = tree.log_softmax_bottom_up(values / alpha + log_rho)      # the regularised best response
        best = _regularised_objective(values, tree.realisation_plan(np.exp(response)), response, log_rho, alpha)
        expected += best - _regularised_objective(values, plan, np.log(pi), log_rho, alpha)
    assert expected > 1e-3
    assert solver.regularised_gap() == pytest.approx(expected, rel=1e-10)
    for _ in range(300 if name == "kuhn_poker" else 500):                  # converge to the regularised equilibrium
        solver.step()
    assert 0.0 <= solver.regularised_gap() + 1e-15 and solver.regularised_gap() < 1e-10


def test_magnet_mix_is_fixed_share_scaled_by_nash_conv(kuhn):
    """Each reset magnet is ``(1 - eps) pi + eps rho_0`` per infoset, ``eps = m * NashConv / NashConv_1``."""
    form = build_sequence_form(kuhn)
    mix = 0.3
    solver = SequenceFormMMD(form, alpha=0.1, eta=4.0, magnet_reset=10, magnet_mix=mix)
    center = [tree.center() for tree in form.trees]
    first = None
    for reset in range(3):
        for _ in range(9):
            solver.step()
        # the 10th update: recompute what the reset must give from the updated iterate
        probe = SequenceFormMMD(form, alpha=0.1, eta=4.0, magnet=[np.exp(m) for m in solver.log_magnets],
                                initial=solver.policies)
        probe.step()
        nash_conv = probe.nash_conv()
        first = nash_conv if first is None else first
        eps = mix * min(1.0, nash_conv / first)
        solver.step()
        assert solver.reset_iterations[-1] == 10 * (reset + 1)
        for log_magnet, pi, rho0 in zip(solver.log_magnets, probe.policies, center, strict=True):
            np.testing.assert_allclose(np.exp(log_magnet), (1 - eps) * pi + eps * rho0, rtol=1e-12, atol=1e-15)
    assert eps < mix                                     # NashConv fell, so the mixing shrank


def test_adaptive_reset_converges_on_kuhn(kuhn):
    result = mmd(kuhn, 500, alpha=0.1, eta=4.0, reset_tolerance=1e-3, magnet_mix=0.3)
    assert result.nash_conv[-1] < 1e-6                       # achieved: about 6e-10
    assert result.value == pytest.approx(KUHN_VALUE, abs=1e-6)
    resets = result.reset_iterations
    assert len(resets) > 10 and np.all(resets % RESET_CHECK_EVERY == 0)


def test_adaptive_reset_keeps_falling_on_leduc(leduc):
    """Leduc (alpha 0.003, eta 1; about 1.3 s): the plain reset every 1000 updates has come back up to
    NashConv 0.108 at 6000 updates (0.065 at 4000); with the gap rule and fixed-share mixing NashConv
    falls at every 1000 updates (0.199, 0.095, 0.060, 0.035, 0.021)."""
    form = build_sequence_form(leduc)
    plain = mmd(form, 6000, alpha=0.003, eta=1.0, magnet_reset=1000, eval_every=1000)
    adaptive = mmd(form, 6000, alpha=0.003, eta=1.0, reset_tolerance=1e-3, magnet_mix=0.3, eval_every=1000)
    assert plain.nash_conv[-1] > 0.09 and plain.nash_conv[-1] > plain.nash_conv[3]
    assert np.all(np.diff(adaptive.nash_conv[1:]) < 0)
    assert adaptive.nash_conv[-1] < 0.03
    assert adaptive.value == pytest.approx(LEDUC_VALUE, abs=2e-3)


@pytest.mark.parametrize(("name", "eta", "iterations"), [("kuhn_poker", 4.0, 2000), ("leduc_poker", None, 500)])
def test_fixed_point_is_the_regularised_equilibrium_around_any_magnet(name, eta, iterations):
    """With magnet ``rho`` the limit solves ``x = argmax_x <A y, x> - alpha B_psi(x; rho)`` (and the same for
    ``y``): the dilated-entropy regularised best response, the bottom-up softmax of ``A y / alpha + log rho``."""
    form = build_sequence_form(pyspiel.load_game(name))
    magnet = _random_policies(form, seed=3)
    solver = SequenceFormMMD(form, alpha=0.1, eta=eta, magnet=magnet)
    for _ in range(iterations):
        solver.step()
    for tree, values, rho, pi in zip(form.trees, solver.values, magnet, solver.policies, strict=True):
        response = np.exp(tree.log_softmax_bottom_up(values / 0.1 + np.log(rho)))
        np.testing.assert_allclose(pi, response, atol=1e-8)


def test_runs_on_the_librarys_own_turn_based_game():
    """Tabular debate (weights 2, 1, 1, 1, budget 3) exported as an OpenSpiel tree: the adaptive reset reaches the
    exact minimax value honest_first - liar_first = 0.1875 of the library's sparse-debate solver (NashConv 5e-9
    after 1500 updates, 0.1 s), where fixed-magnet MMD at the same alpha is still at 0.16."""
    weights, budget = [2.0, 1.0, 1.0, 1.0], 3
    game = to_openspiel(aligngames.make("debate_v0", mode="tabular", weights=weights, budget=budget))
    exact = solve_sparse_debate(weights, budget)
    result = mmd(game, 1500, alpha=0.01, reset_tolerance=1e-3)
    assert result.nash_conv[-1] < 1e-7
    assert result.value == pytest.approx(exact.honest_first - exact.liar_first, abs=1e-6)
    assert mmd(game, 1500, alpha=0.01).nash_conv[-1] > 0.1
