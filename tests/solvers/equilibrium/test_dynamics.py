"""MMD, mirror descent, MPO, Nash-MD and SPO against hand-derived updates, independently solved
fixed points (scipy root finding, the LP) and OpenSpiel's MMD."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import root
from scipy.special import softmax

import aligngames
from aligngames.envs.preference_game import scenarios
from aligngames.solvers.equilibrium import mmd, mpo, nash, nash_md, spo
from aligngames.solvers.equilibrium.simplex import mirror_step, project_onto_simplex

FOOD = aligngames.make("preference_game_v0", mode="tabular", scenario="food").unwrapped.matrix_game()
FOOD_LOTTERY = np.array([0.5, 0.2, 0.3])
FOOD_PREFERENCES = FOOD.row_payoffs + 0.5


def logit_qre(payoffs: np.ndarray, alpha: float, row_magnet: np.ndarray, col_magnet: np.ndarray):
    """The QRE ``x = softmax(log rho + A y / alpha)``, ``y = softmax(log rho - A^T x / alpha)`` by root finding."""
    num_rows = payoffs.shape[0]

    def residual(z):
        x, y = z[:num_rows], z[num_rows:]
        return np.concatenate([x - softmax(np.log(row_magnet) + payoffs @ y / alpha),
                               y - softmax(np.log(col_magnet) - payoffs.T @ x / alpha)])

    start = np.concatenate([row_magnet, col_magnet])
    solution = root(residual, start, tol=1e-14)
    # the finder's success flag depends on the CPU / BLAS build; the residual is what must be small
    assert np.abs(residual(solution.x)).max() <= 1e-10
    return solution.x[:num_rows], solution.x[num_rows:]


def test_one_mmd_update_by_hand():
    # matching pennies, x0 = (0.8, 0.2), y0 = (0.75, 0.25), eta = alpha = 1, uniform magnet:
    # q_row = A y0 = (0.5, -0.5); x1 ∝ [x0 * (1/2) * exp(q_row)]^(1/2), so x1[0] / x1[1] = sqrt(4 e) = 2 sqrt(e).
    # q_col = -(x0^T A) = (-0.6, 0.6); y1[0] / y1[1] = sqrt(3 exp(-1.2)) = sqrt(3) exp(-0.6).
    payoffs = np.array([[1.0, -1.0], [-1.0, 1.0]])
    row, col = mmd.mmd_step(np.array([0.8, 0.2]), np.array([0.75, 0.25]), payoffs, eta=1.0, alpha=1.0)
    ratio_row, ratio_col = 2 * np.sqrt(np.e), np.sqrt(3) * np.exp(-0.6)
    np.testing.assert_allclose(row, [ratio_row / (1 + ratio_row), 1 / (1 + ratio_row)], rtol=1e-12)
    np.testing.assert_allclose(col, [ratio_col / (1 + ratio_col), 1 / (1 + ratio_col)], rtol=1e-12)
    # a non-uniform magnet enters as rho^(eta*alpha): rho = (0.9, 0.1) multiplies the ratio by sqrt(9)
    magnet_row = mirror_step(np.array([0.8, 0.2]), np.array([0.5, -0.5]), eta=1.0, alpha=1.0, magnet=np.array([0.9, 0.1]))
    assert magnet_row[0] / magnet_row[1] == pytest.approx(3 * ratio_row)


def test_mmd_fixed_point_is_the_logit_qre():
    payoffs = np.array([[3.0, -1.0, 0.5], [-2.0, 1.0, 0.2]])
    row_magnet, col_magnet = np.array([0.7, 0.3]), np.array([0.2, 0.5, 0.3])
    alpha = 0.5
    expected_row, expected_col = logit_qre(payoffs, alpha, row_magnet, col_magnet)
    result = mmd.solve(payoffs, alpha=alpha, eta=0.05, iterations=3000, magnet=(row_magnet, col_magnet))
    np.testing.assert_allclose(result.row, expected_row, atol=1e-9)
    np.testing.assert_allclose(result.col, expected_col, atol=1e-9)
    # the QRE is not the Nash equilibrium: the last iterate stalls at a regularisation gap
    assert result.exploitability[-1] == pytest.approx(nash.exploitability(payoffs, expected_row, expected_col), abs=1e-8)
    assert result.exploitability[-1] > 0.1


def test_mmd_matches_openspiel_sequence_form_mmd():
    import pyspiel
    from open_spiel.python.algorithms import mmd_dilated

    payoffs = np.array([[3.0, -1.0, 0.5], [-2.0, 1.0, 0.2]])
    game = pyspiel.convert_to_turn_based(pyspiel.create_matrix_game(payoffs.tolist(), (-payoffs).tolist()))
    reference = mmd_dilated.MMDDilatedEnt(game, alpha=0.5, stepsize=0.3)
    for _ in range(40):
        reference.update_sequences()
    probabilities = reference.get_policies().action_probability_array  # row 0: player 0, row 1: player 1
    ours = mmd.solve(payoffs, alpha=0.5, eta=0.3, iterations=40)
    np.testing.assert_allclose(ours.row, probabilities[0, :2], atol=1e-12)
    np.testing.assert_allclose(ours.col, probabilities[1, :3], atol=1e-12)


def test_batched_mmd_equals_one_game_at_a_time():
    games = np.random.default_rng(0).uniform(-1, 1, (4, 5, 3))
    batch = mmd.solve(games, alpha=0.2, eta=0.5, iterations=50)
    for index, game in enumerate(games):
        single = mmd.solve(game, alpha=0.2, eta=0.5, iterations=50)
        np.testing.assert_allclose(batch.row[index], single.row, atol=1e-12)
        np.testing.assert_allclose(batch.exploitability[:, index], single.exploitability, atol=1e-12)
        np.testing.assert_allclose(batch.average_exploitability[:, index], single.average_exploitability, atol=1e-12)


def test_mirror_descent_last_iterate_cycles_while_its_average_converges():
    result = mmd.solve(FOOD, alpha=0.0, eta=1.0, iterations=10_000)
    assert result.exploitability[5000:].min() > 0.05  # the last iterate never settles
    assert result.average_exploitability[-1] < 0.01
    assert result.average_exploitability[-1] < result.average_exploitability[999]


def test_mpo_last_iterate_reaches_the_maximal_lottery():
    result = mpo.solve(FOOD, alpha=0.25, eta=2.0, inner_steps=5, outer_steps=2000)
    np.testing.assert_allclose(result.policy, FOOD_LOTTERY, atol=1e-6)
    assert result.exploitability[-1] < 1e-6
    # fixed-magnet MMD with the same alpha and budget stays at the QRE's regularisation gap
    fixed = mmd.solve(FOOD, alpha=0.25, eta=2.0, iterations=10_000)
    assert fixed.exploitability[-1] > 0.01
    # the raw preference matrix gives the same run as the MatrixGame
    np.testing.assert_allclose(mpo.solve(FOOD_PREFERENCES, outer_steps=50).policy, mpo.solve(FOOD, outer_steps=50).policy)


def test_mpo_on_a_larger_cyclic_population():
    preferences = scenarios.random_scenario(64, 5, 0).preferences  # five annotator groups, no Condorcet winner
    lottery = nash.maximal_lottery(2 * preferences - 1)
    assert np.count_nonzero(lottery > 1e-9) == 3
    scale = np.abs(preferences - 0.5).max()
    result = mpo.solve(preferences, alpha=0.5 * scale, eta=1.0 / scale, inner_steps=5, outer_steps=2000,
                       track_average=False)
    assert result.exploitability[-1] < 1e-6
    np.testing.assert_allclose(result.policy, lottery, atol=1e-6)


def test_regularised_gap_is_the_closed_form_best_response_gap():
    # max_p <q, p> - alpha KL(p || rho) is attained at p* = rho exp(q / alpha) / Z with value alpha log Z;
    # the gap subtracts the policy's own regularised value <q, pi> - alpha KL(pi || rho)
    payoffs = FOOD.row_payoffs
    policy, magnet, alpha = np.array([0.2, 0.5, 0.3]), np.array([0.6, 0.3, 0.1]), 0.3
    values = payoffs @ policy
    best = magnet * np.exp(values / alpha)
    best /= best.sum()

    def regularised_value(p):
        return p @ values - alpha * np.sum(p * np.log(p / magnet))

    expected = regularised_value(best) - regularised_value(policy)
    assert mpo.regularised_gap(policy, values, magnet, alpha) == pytest.approx(expected, rel=1e-12)
    # and it is zero at the regularised equilibrium pi = rho exp(G pi / alpha) / Z (long MMD with that magnet)
    equilibrium = mmd.solve(payoffs, alpha=alpha, eta=0.5, iterations=4000, magnet=(magnet, magnet)).row
    assert mpo.regularised_gap(equilibrium, payoffs @ equilibrium, magnet, alpha) < 1e-12


def test_adaptive_mpo_converges_where_the_fixed_schedule_is_slow():
    # a slow case kept as a regression fixture: a random skew-symmetric game of 8 answers (seed 24) on which
    # the paper's schedule (alpha L/2, eta 1/L, K 5) is still at NashConv 3.8e-3 after 5000 steps
    upper = np.random.default_rng(24).uniform(0.0, 1.0, (8, 8))
    preferences = 0.5 + (upper - upper.T) / 2
    lottery = nash.maximal_lottery(2 * preferences - 1)
    scale = np.abs(preferences - 0.5).max()
    fixed = mpo.solve(preferences, alpha=scale / 2, eta=1 / scale, inner_steps=5, outer_steps=1000, track_average=False)
    assert fixed.exploitability[-1] > 1e-3
    adaptive = mpo.solve_adaptive(preferences, steps=5000, tolerance=1e-10, track_average=False)
    assert adaptive.exploitability[-1] <= 1e-10 and len(adaptive.exploitability) < 5000  # stopped at the tolerance
    np.testing.assert_allclose(adaptive.policy, lottery, atol=1e-8)
    assert adaptive.magnet_resets > 10
    food = mpo.solve_adaptive(FOOD, steps=2000)
    np.testing.assert_allclose(food.policy, FOOD_LOTTERY, atol=1e-9)
    assert len(food.exploitability) == len(food.average_exploitability) == 2000


def test_fixed_share_magnets_bring_back_answers_the_plain_reset_starves():
    # a random skew-symmetric game of 64 answers (seed 15, equilibrium support 33): with the magnet reset to the
    # policy itself the adaptive schedule is at NashConv 3e-5 after 20k steps (and 8.6e-4 after 30k: not
    # monotone); mixing the uniform policy into each new magnet reaches 1e-6 in about 16k
    upper = np.random.default_rng(15).uniform(0.0, 1.0, (64, 64))
    preferences = 0.5 + (upper - upper.T) / 2
    plain = mpo.solve_adaptive(preferences, steps=20_000, tolerance=1e-6, track_average=False, magnet_mix=0.0)
    assert len(plain.exploitability) == 20_000 and plain.exploitability[-1] > 1e-5
    shared = mpo.solve_adaptive(preferences, steps=20_000, tolerance=1e-6, track_average=False)
    assert shared.exploitability[-1] <= 1e-6 and len(shared.exploitability) < 18_000
    np.testing.assert_allclose(shared.policy, nash.maximal_lottery(2 * preferences - 1), atol=1e-4)


def test_adaptive_mpo_refuses_bad_settings():
    for setting, value in (("reset_tolerance", 1.0), ("steps", 0), ("alpha_min", 1.0), ("tolerance", -1.0),
                           ("magnet_mix", 1.0), ("magnet_mix", -0.1)):
        with pytest.raises(ValueError, match=setting):
            mpo.solve_adaptive(FOOD, **{setting: value})


def test_mpo_driver_resets_the_magnet_to_the_policy():
    class RecordingPolicy:
        def __init__(self):
            self.version = 0
            self.magnets = []

        def snapshot(self):
            return self.version

        def mmd_step(self, magnet, *, alpha, eta):
            self.magnets.append(magnet)
            self.version += 1
            return {}

    policy = RecordingPolicy()
    steps = list(mpo.iterate(policy, alpha=0.1, eta=1.0, inner_steps=3, outer_steps=3))
    assert [(s.outer, s.inner) for s in steps] == [(k, i) for k in range(3) for i in range(3)]
    assert policy.magnets == [0, 0, 0, 3, 3, 3, 6, 6, 6]  # the magnet is the policy at each reset


def test_nash_md_stops_at_the_regularised_equilibrium():
    tau = 0.1
    uniform = np.full(3, 1 / 3)
    regularised, _ = logit_qre(FOOD.row_payoffs, tau, uniform, uniform)  # pi_tau ∝ mu exp(G pi_tau / tau)
    result = nash_md.solve(FOOD, tau=tau, iterations=2000, step_schedule=nash_md.decreasing_step(tau, 1.0),
                           track_average=False)
    np.testing.assert_allclose(result.policy, regularised, atol=5e-4)
    gap = 2 * np.max(FOOD.row_payoffs @ regularised)
    assert gap > 0.02  # the regularised equilibrium is not the maximal lottery ...
    assert result.exploitability[-1] == pytest.approx(gap, abs=5e-4)  # ... and Nash-MD stays at its gap
    constant = nash_md.solve(FOOD, tau=tau, iterations=2000, step_schedule=1.0, track_average=False)
    assert np.abs(constant.policy - regularised).max() > np.abs(result.policy - regularised).max()


def test_spo_win_rates_by_hand_and_average_convergence():
    samples = np.array([0, 1, 1, 2])  # burger, sushi, sushi, pasta
    rewards = spo.win_rate_rewards(FOOD_PREFERENCES, samples)
    # P(burger > sushi) = 0.65, P(burger > pasta) = 0.4, P(sushi > pasta) = 0.75
    expected = [(0.65 + 0.65 + 0.4) / 3, (0.35 + 0.5 + 0.75) / 3, (0.35 + 0.5 + 0.75) / 3, (0.6 + 0.25 + 0.25) / 3]
    np.testing.assert_allclose(rewards, expected)
    result = spo.solve(FOOD, eta=1.0, iterations=4000, num_samples=16, seed=0, learner="policy_gradient")
    assert result.average_exploitability[-1] < 0.02
    assert result.exploitability[2000:].max() > 0.05  # the last iterate keeps moving
    again = spo.solve(FOOD, eta=1.0, iterations=50, num_samples=16, seed=0)
    np.testing.assert_array_equal(again.policy, spo.solve(FOOD, eta=1.0, iterations=50, num_samples=16, seed=0).policy)


@pytest.mark.slow
def test_spo_hedge_average_keeps_converging_over_a_long_horizon():
    # the no-regret learner's average falls roughly as 1 / sqrt(T); the constant-step policy gradient's average
    # drifts away from the maximal lottery on the same scenario (0.0063 at 2k iterations, 0.035 at 20k)
    hedge = spo.solve(FOOD, iterations=60_000, seed=0)
    early, late = hedge.average_exploitability[1999], hedge.average_exploitability[-1]
    assert late < 0.006 and late < early
    assert np.all(hedge.average_exploitability[20_000:] < 0.01)  # it does not drift back
    gradient = spo.solve(FOOD, eta=1.0, iterations=20_000, seed=0, learner="policy_gradient")
    assert gradient.average_exploitability[-1] > 2 * late


def test_simplex_projection_by_hand():
    np.testing.assert_allclose(project_onto_simplex(np.array([2.0, 0.0, 0.0])), [1, 0, 0])
    np.testing.assert_allclose(project_onto_simplex(np.array([0.5, 0.5, 0.5])), [1 / 3] * 3)
    np.testing.assert_allclose(project_onto_simplex(np.array([1.0, 0.0, 0.0]), floor=0.1), [0.8, 0.1, 0.1])
    # (0.6, 0.5, -1): drop the last, split the excess 0.1 equally: (0.55, 0.45, 0)
    np.testing.assert_allclose(project_onto_simplex(np.array([[0.6, 0.5, -1.0]])), [[0.55, 0.45, 0.0]])


def test_symmetric_solvers_refuse_asymmetric_games():
    with pytest.raises(ValueError, match="P\\[i, j\\] \\+ P\\[j, i\\] = 1"):
        mpo.solve(np.array([[0.5, 0.9], [0.9, 0.5]]))
    asymmetric = aligngames.MatrixGame.zero_sum(np.array([[1.0, -1.0], [-1.0, 1.0]]))
    with pytest.raises(ValueError, match="symmetric"):
        nash_md.solve(asymmetric)
