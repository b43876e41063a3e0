"""Offline preference losses on the tabular preference game: hand-computed values, fixed points of the
categorical family, forward vs reverse KL on a bimodal ``pi*`` with the gaussian family, gradients, errors."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from aligngames.envs.preference_game import matrix_game
from aligngames.solvers.equilibrium import mpo
from aligngames.solvers.equilibrium.nash import exploitability
from aligngames.solvers.training import offline_preference as op

# --- a tiny example, by hand --------------------------------------------------------------------------

PI2 = (0.25, 0.75)
R2 = (1.0, -0.5)
BETA = 0.5
LOGITS2 = (0.3, -0.2)


def sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def log_ratios(logits, pi_ref):
    z = math.log(sum(math.exp(v) for v in logits))
    return [v - z - math.log(p) for v, p in zip(logits, pi_ref)]


def pairs(pi_ref, rewards, logits):
    """(weight, p = P(first wins), d = h_first - h_second) over every ordered pair."""
    h = log_ratios(logits, pi_ref)
    n = len(pi_ref)
    return [(pi_ref[i] * pi_ref[j], sig(rewards[i] - rewards[j]), h[i] - h[j]) for i in range(n) for j in range(n)]


def softmax(values):
    top = max(values)
    e = [math.exp(v - top) for v in values]
    return [v / sum(e) for v in e]


def kl_list(p, q):
    return sum(a * math.log(a / b) for a, b in zip(p, q))


def k_sample_by_hand(pi_ref, rewards, logits, beta, k, beta_pi, reverse):
    """Every ordered K-tuple (itertools.product), no multiset shortcut."""
    h = log_ratios(logits, pi_ref)
    total = 0.0
    for tup in itertools.product(range(len(pi_ref)), repeat=k):
        weight = math.prod(pi_ref[i] for i in tup)
        model = softmax([beta_pi * h[i] for i in tup])
        target = softmax([rewards[i] * beta_pi / beta for i in tup])
        total += weight * (kl_list(model, target) if reverse else kl_list(target, model))
    return total


def test_dpo_by_hand():
    expected = sum(w * (-p * math.log(sig(BETA * d)) - (1 - p) * math.log(sig(-BETA * d)))
                   for w, p, d in pairs(PI2, R2, LOGITS2))
    assert op.dpo_loss(LOGITS2, PI2, R2, BETA)[0] == pytest.approx(expected, abs=1e-12)
    # at the reference policy every model probability is 1/2: the loss is log 2
    assert op.dpo_loss(np.log(PI2), PI2, R2, BETA)[0] == pytest.approx(math.log(2), abs=1e-12)


def test_ipo_by_hand():
    c = 1 / (2 * BETA)
    expected = sum(w * (p * (d - c) ** 2 + (1 - p) * (d + c) ** 2) for w, p, d in pairs(PI2, R2, LOGITS2))
    assert op.ipo_loss(LOGITS2, PI2, R2, BETA)[0] == pytest.approx(expected, abs=1e-12)
    assert op.ipo_loss(np.log(PI2), PI2, R2, BETA)[0] == pytest.approx(c * c, abs=1e-12)   # d = 0


def test_exo_by_hand_soft_and_hard():
    soft = sum(w * kl_list([sig(BETA * d), sig(-BETA * d)], [p, 1 - p]) for w, p, d in pairs(PI2, R2, LOGITS2))
    assert op.exo_loss(LOGITS2, PI2, R2, BETA)[0] == pytest.approx(soft, abs=1e-12)
    eps = 0.1
    hard = sum(w * (p * kl_list([sig(BETA * d), sig(-BETA * d)], [1 - eps, eps])
                    + (1 - p) * kl_list([sig(BETA * d), sig(-BETA * d)], [eps, 1 - eps]))
               for w, p, d in pairs(PI2, R2, LOGITS2))
    assert op.exo_loss(LOGITS2, PI2, R2, BETA, labels="hard", epsilon=eps)[0] == pytest.approx(hard, abs=1e-12)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("beta_pi", [1.0, 0.4])
def test_k_sample_losses_by_hand(k, beta_pi):
    pi3, r3, logits3 = (0.2, 0.5, 0.3), (0.4, -1.0, 1.3), (0.1, 0.7, -0.4)
    for loss, reverse in ((op.exo_rw_loss, True), (op.dpo_rw_loss, False)):
        expected = k_sample_by_hand(pi3, r3, logits3, BETA, k, beta_pi, reverse)
        assert loss(logits3, pi3, r3, BETA, k=k, beta_pi=beta_pi)[0] == pytest.approx(expected, abs=1e-12)


def test_k_equal_2_forms_are_the_pairwise_losses():
    """DPO-RW / EXO-RW with K = 2 and beta_pi = beta (so beta_r = 1, target = sigma(r1 - r2)) are DPO (its
    cross-entropy minus the target entropy) and soft-label EXO."""
    pi3, r3, logits3 = np.array([0.2, 0.5, 0.3]), np.array([0.4, -1.0, 1.3]), np.array([0.1, 0.7, -0.4])
    p = 1 / (1 + np.exp(-(r3[:, None] - r3[None, :])))
    entropy = -(np.outer(pi3, pi3) * (p * np.log(p) + (1 - p) * np.log(1 - p))).sum()
    dpo, dpo_grad = op.dpo_loss(logits3, pi3, r3, BETA)
    dpo_rw, dpo_rw_grad = op.dpo_rw_loss(logits3, pi3, r3, BETA, k=2, beta_pi=BETA)
    assert dpo_rw == pytest.approx(dpo - entropy, abs=1e-12)
    np.testing.assert_allclose(dpo_rw_grad, dpo_grad, atol=1e-12)
    exo, exo_grad = op.exo_loss(logits3, pi3, r3, BETA)
    exo_rw, exo_rw_grad = op.exo_rw_loss(logits3, pi3, r3, BETA, k=2, beta_pi=BETA)
    assert exo_rw == pytest.approx(exo, abs=1e-12)
    np.testing.assert_allclose(exo_rw_grad, exo_grad, atol=1e-12)


def test_k_infinity_limit_is_the_forward_and_reverse_kl():
    pi3, r3, logits3 = (0.2, 0.5, 0.3), (0.4, -1.0, 1.3), (0.1, 0.7, -0.4)
    policy = np.exp(np.array(logits3) - np.log(np.exp(logits3).sum()))
    star = op.optimal_policy(pi3, r3, BETA)
    assert op.dpo_rw_loss(logits3, pi3, r3, BETA, k=None)[0] == pytest.approx(op.kl(star, policy), abs=1e-12)
    assert op.exo_rw_loss(logits3, pi3, r3, BETA, k=None)[0] == pytest.approx(op.kl(policy, star), abs=1e-12)


# --- fixed points of the categorical family ------------------------------------------------------------

RNG_PI = np.array([0.1, 0.3, 0.15, 0.25, 0.2])
RNG_R = np.array([0.5, -1.2, 2.0, 0.3, -0.4])


@pytest.mark.parametrize(("name", "settings"), [
    ("dpo", {}), ("exo", {}), ("dpo_rw", {"k": 2}), ("dpo_rw", {"k": 3}), ("exo_rw", {"k": 3}),
    ("exo_rw", {"k": 2, "beta_pi": 0.5}), ("dpo_rw", {"k": None}), ("exo_rw", {"k": None, "beta_pi": 2.0}),
])
def test_categorical_fits_reach_pi_star(name, settings):
    result = op.fit(name, "categorical", RNG_PI, RNG_R, BETA, **settings)
    star = op.optimal_policy(RNG_PI, RNG_R, BETA)
    np.testing.assert_allclose(result.policy, star, atol=1e-6)
    assert result.converged
    assert result.forward_kl < 1e-10 and result.reverse_kl < 1e-10
    assert not np.allclose(star, RNG_PI, atol=0.05)      # the fit moved away from the reference


def test_ipo_fixed_point_is_not_pi_star():
    result = op.fit("ipo", "categorical", RNG_PI, RNG_R, BETA)
    fixed = op.ipo_fixed_point(RNG_PI, RNG_R, BETA)
    np.testing.assert_allclose(result.policy, fixed, atol=1e-6)
    # pi_IPO ∝ pi_ref exp(P(y > pi_ref) / beta), computed here answer by answer
    win = [sum(RNG_PI[j] * sig(RNG_R[i] - RNG_R[j]) for j in range(5)) for i in range(5)]
    by_hand = RNG_PI * np.exp(np.array(win) / BETA)
    np.testing.assert_allclose(fixed, by_hand / by_hand.sum(), atol=1e-12)
    assert result.forward_kl > 0.1                          # win rates in [0, 1] bound IPO's shift; pi* is further


def test_exo_hard_labels_fixed_point_two_answers():
    """EXO-pref in expectation: beta (h1 - h2) = (2 sigma(r1 - r2) - 1) log((1 - eps) / eps)."""
    eps = 0.05
    result = op.fit("exo", "categorical", PI2, R2, BETA, labels="hard", epsilon=eps)
    target = (2 * sig(R2[0] - R2[1]) - 1) * math.log((1 - eps) / eps) / BETA
    h = np.log(result.policy) - np.log(PI2)
    assert h[0] - h[1] == pytest.approx(target, abs=1e-6)


def test_several_prompts_are_fitted_independently():
    pi_ref = np.stack([RNG_PI, RNG_PI[::-1]])
    rewards = np.stack([RNG_R, -RNG_R])
    result = op.fit("exo_rw", "categorical", pi_ref, rewards, BETA, k=2)
    np.testing.assert_allclose(result.policy, op.optimal_policy(pi_ref, rewards, BETA), atol=1e-6)
    assert result.policy.shape == (2, 5) and result.parameters.shape == (2, 5)
    value, grad = op.exo_rw_loss(np.zeros((2, 5)), pi_ref, rewards, BETA, k=2)
    singles = [op.exo_rw_loss(np.zeros(5), pi_ref[i], rewards[i], BETA, k=2) for i in range(2)]
    assert value == pytest.approx(np.mean([s[0] for s in singles]), abs=1e-12)
    np.testing.assert_allclose(grad, np.stack([s[1] for s in singles]) / 2, atol=1e-12)


# --- forward vs reverse KL on a bimodal pi* -------------------------------------------------------------

N = 21
X = np.arange(N)


def bimodal():
    """pi* = 0.65 N(5, 1.2^2) + 0.35 N(15, 1.2^2) (discretised), reached by rewards r = beta log(pi* / pi_ref)
    from a uniform pi_ref with beta = 1."""
    bumps = [np.exp(-((X - c) ** 2) / (2 * 1.2**2)) for c in (5, 15)]
    mixture = 0.65 * bumps[0] / bumps[0].sum() + 0.35 * bumps[1] / bumps[1].sum()
    pi_ref = np.full(N, 1 / N)
    return pi_ref, np.log(mixture / pi_ref), 1.0


@pytest.fixture(scope="module")
def bimodal_fits():
    pi_ref, rewards, beta = bimodal()
    return {(name, k): op.fit(name, "gaussian", pi_ref, rewards, beta, k=k)
            for name in ("exo_rw", "dpo_rw") for k in (None, 4)}


@pytest.mark.parametrize("k", [None, 4])
def test_reverse_kl_fit_is_mode_seeking_forward_kl_fit_mean_seeking(bimodal_fits, k):
    exo, dpo = bimodal_fits["exo_rw", k], bimodal_fits["dpo_rw", k]
    star = exo.optimum
    assert op.mass_near(star, 5, 3) > 0.6 and op.mass_near(star, 15, 3) > 0.3      # pi* has two modes
    assert exo.reverse_kl < dpo.reverse_kl - 1.0
    assert dpo.forward_kl < exo.forward_kl - 5.0
    # EXO sits on the larger mode: mean within 0.1 of 5, the mode's width, no mass on the other mode
    exo_mean, exo_std = exo.parameters[0], math.exp(exo.parameters[1])
    assert abs(exo_mean - 5) < 0.1 and 1.0 < exo_std < 1.4
    assert op.mass_near(exo.policy, 5, 3) > 0.99 and op.mass_near(exo.policy, 15, 3) < 1e-3
    # DPO-RW spreads between the modes: mean strictly between them, std over half their distance
    dpo_mean, dpo_std = dpo.parameters[0], math.exp(dpo.parameters[1])
    assert 7 < dpo_mean < 10 and dpo_std > 5
    assert op.mass_near(dpo.policy, 5, 3) > 0.35 and op.mass_near(dpo.policy, 15, 3) > 0.25
    assert op.mass_near(dpo.policy, 10, 2) > 0.15             # and puts mass on the valley pi* avoids
    assert op.mass_near(star, 10, 2) < 0.02


def test_limit_fits_minimise_the_kls_and_match_a_grid(bimodal_fits):
    pi_ref, rewards, beta = bimodal()
    means = np.linspace(-0.5, N - 0.5, 421)                   # step 0.05
    log_stds = np.linspace(math.log(0.1), math.log(40.0), 241)  # step 0.025
    for name, kl_name in (("exo_rw", "reverse_kl"), ("dpo_rw", "forward_kl")):
        result = bimodal_fits[name, None]
        assert result.loss == pytest.approx(getattr(result, kl_name), abs=1e-12)   # k=None: exactly that KL
        table, best = op.grid_search(name, pi_ref, rewards, beta, means, log_stds, k=None)
        assert result.loss <= table.min() + 1e-12
        assert abs(result.parameters[0] - best[0]) <= 0.05 + 1e-9
        assert abs(result.parameters[1] - best[1]) <= 0.025 + 1e-9


def test_small_k_is_not_mode_seeking():
    """With K = 2 from a uniform pi_ref, EXO-RW's fit spreads like DPO-RW's and has the larger reverse KL: the
    reverse-KL picture needs K large enough (here K = 4 flips it, see above)."""
    pi_ref, rewards, beta = bimodal()
    exo = op.fit("exo_rw", "gaussian", pi_ref, rewards, beta, k=2)
    dpo = op.fit("dpo_rw", "gaussian", pi_ref, rewards, beta, k=2)
    assert 8 < exo.parameters[0] < 11 and op.mass_near(exo.policy, 15, 3) > 0.25
    assert exo.reverse_kl > dpo.reverse_kl + 0.1


def test_fit_to_dict_is_json(bimodal_fits):
    result = bimodal_fits["exo_rw", None]
    data = json.loads(json.dumps(result.to_dict()))
    assert data["loss_name"] == "exo_rw" and data["family"] == "gaussian" and data["settings"] == {"k": None, "beta_pi": 1.0}
    assert data["reverse_kl"] == result.reverse_kl and len(data["policy"]) == N and len(data["parameters"]) == 2


# --- gradients ------------------------------------------------------------------------------------------

def numeric_gradient(f, x, step=1e-6):
    x = np.asarray(x, dtype=float)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[index] = step
        grad[index] = (f(x + e) - f(x - e)) / (2 * step)
    return grad


@pytest.mark.parametrize(("name", "settings"), [
    ("dpo", {}), ("ipo", {}), ("exo", {}), ("exo", {"labels": "hard", "epsilon": 0.1}),
    ("dpo_rw", {"k": 3, "beta_pi": 0.7}), ("exo_rw", {"k": 3, "beta_pi": 0.7}),
    ("dpo_rw", {"k": None, "beta_pi": 1.5}), ("exo_rw", {"k": None}),
])
def test_gradients_match_finite_differences(name, settings):
    rng = np.random.default_rng(7)
    pi_ref = rng.dirichlet(np.ones(4), size=2)
    rewards = rng.normal(size=(2, 4))
    logits = rng.normal(size=(2, 4))
    _, grad = op.loss(name, logits, pi_ref, rewards, 0.8, **settings)
    numeric = numeric_gradient(lambda z: op.loss(name, z, pi_ref, rewards, 0.8, **settings)[0], logits)
    np.testing.assert_allclose(grad, numeric, atol=1e-8)
    assert np.abs(grad).max() > 1e-3


@pytest.mark.parametrize("name", ["dpo", "exo_rw"])
def test_gaussian_parameter_gradients(name):
    pi_ref, rewards, beta = bimodal()
    params = np.array([8.3, 0.9])
    settings = {"k": 2} if name == "exo_rw" else {}
    _, grad = op.family_loss(name, "gaussian", params, pi_ref, rewards, beta, **settings)
    numeric = numeric_gradient(lambda z: op.family_loss(name, "gaussian", z, pi_ref, rewards, beta, **settings)[0],
                               params)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


# --- errors ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "match"), [
    ({"beta": 0.0}, "beta must be a finite number > 0"),
    ({"beta": -1.0}, "beta must be a finite number > 0"),
    ({"pi_ref": (0.5, 0.6)}, "pi_ref must be a distribution"),
    ({"pi_ref": (1.0, 0.0)}, "pi_ref must be positive on every answer"),
    ({"pi_ref": (1.0,), "rewards": (0.0,)}, "pi_ref must be a vector of n >= 2"),
    ({"rewards": (1.0, 2.0, 3.0)}, r"rewards must have pi_ref's shape \(2,\)"),
    ({"rewards": (1.0, math.nan)}, "rewards must be finite"),
    ({"logits": (0.0, 0.0, 0.0)}, "logits must have pi_ref's shape"),
])
def test_named_errors_on_inputs(kwargs, match):
    args = {"logits": (0.0, 0.0), "pi_ref": PI2, "rewards": R2, "beta": BETA, **kwargs}
    with pytest.raises(ValueError, match=match):
        op.dpo_loss(args["logits"], args["pi_ref"], args["rewards"], args["beta"])


def test_named_errors_on_names_and_settings():
    with pytest.raises(ValueError, match="unknown loss 'ppo'; valid losses: dpo, ipo, exo, dpo_rw, exo_rw"):
        op.fit("ppo", "categorical", PI2, R2, BETA)
    with pytest.raises(ValueError, match="unknown family 'mixture'; valid families: categorical, gaussian"):
        op.fit("dpo", "mixture", PI2, R2, BETA)
    with pytest.raises(ValueError, match=r"unknown settings \['k'\] for loss 'dpo'; its settings: none"):
        op.fit("dpo", "categorical", PI2, R2, BETA, k=2)
    with pytest.raises(ValueError, match="beta_pi must be a finite number > 0"):
        op.exo_rw_loss((0.0, 0.0), PI2, R2, BETA, beta_pi=0.0)
    with pytest.raises(ValueError, match="k must be an integer >= 2"):
        op.exo_rw_loss((0.0, 0.0), PI2, R2, BETA, k=1)
    with pytest.raises(ValueError, match="multisets"):
        op.dpo_rw_loss(np.zeros(50), np.full(50, 0.02), np.zeros(50), BETA, k=6)
    with pytest.raises(ValueError, match="labels must be one of soft, hard"):
        op.exo_loss((0.0, 0.0), PI2, R2, BETA, labels="smooth")
    with pytest.raises(ValueError, match=r"epsilon must be in \(0, 0.5\)"):
        op.exo_loss((0.0, 0.0), PI2, R2, BETA, labels="hard", epsilon=0.7)
    with pytest.raises(ValueError, match=r"parameters of the gaussian family must have shape \(2,\)"):
        op.family_loss("dpo", "gaussian", (1.0, 2.0, 3.0), PI2, R2, BETA)


# --- offline losses on a preference matrix no reward explains (a cyclic annotator population) -------------

def test_ipo_on_any_preference_matrix_has_its_closed_form():
    # IPO regresses h_i - h_j on (2 P_ij - 1) / (2 beta); its minimiser is pi ∝ pi_ref exp(P(y > pi_ref) / beta)
    preferences = np.array([[0.5, 0.65, 0.4], [0.35, 0.5, 0.75], [0.6, 0.25, 0.5]])  # food: cyclic majority
    reference = np.array([0.2, 0.5, 0.3])
    for beta in (1.0, 0.3):
        expected = reference * np.exp(preferences @ reference / beta)
        np.testing.assert_allclose(op.fit_to_preferences("ipo", preferences, reference, beta), expected / expected.sum(),
                                   atol=1e-9)


def test_dpo_on_bradley_terry_preferences_is_the_kl_optimum():
    rewards = np.array([1.0, 0.2, -0.5, 0.0])
    preferences = 1 / (1 + np.exp(-(rewards[:, None] - rewards[None, :])))
    reference = np.array([0.1, 0.4, 0.3, 0.2])
    expected = reference * np.exp(rewards / 0.5)
    np.testing.assert_allclose(op.fit_to_preferences("dpo", preferences, reference, 0.5), expected / expected.sum(),
                               atol=1e-7)


def test_offline_losses_pick_the_borda_winner_of_a_cyclic_population():
    # food: burger beats sushi (0.65), sushi beats pasta (0.75), pasta beats burger (0.6); the maximal lottery is
    # (0.5, 0.2, 0.3). As beta -> 0, DPO and EXO put their mass on sushi, the answer with the highest mean win
    # rate, which burger exploits: NashConv 2 (0.65 - 1/2) = 0.3; MPO reaches the maximal lottery
    game = matrix_game(scenario="food")
    payoffs = game.payoffs[0]
    reference = np.full(3, 1 / 3)
    for loss in ("dpo", "exo"):
        policy = op.fit_to_preferences(loss, payoffs + 0.5, reference, 0.01)
        assert policy[1] > 0.99
        assert exploitability(payoffs, policy, policy) == pytest.approx(0.3, abs=0.003)
    solved = mpo.solve(payoffs + 0.5, outer_steps=2000, track_average=False).policy
    np.testing.assert_allclose(solved, [0.5, 0.2, 0.3], atol=1e-9)
    with pytest.raises(ValueError, match=r"takes the pairwise losses \['dpo', 'ipo', 'exo'\]"):
        op.fit_to_preferences("dpo_rw", payoffs + 0.5, reference, 0.1)
    with pytest.raises(ValueError, match="P \\+ P\\^T = 1"):
        op.fit_to_preferences("dpo", np.ones((3, 3)), reference, 0.1)


# --- the low-rank family ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["dpo", "exo"])
def test_low_rank_family_of_full_rank_reaches_pi_star(name):
    """n - 1 cosines and the (softmax-invariant) constant span every logit vector: the categorical fixed point."""
    result = op.fit(name, "low_rank", RNG_PI, RNG_R, BETA, rank=len(RNG_PI) - 1)
    np.testing.assert_allclose(result.policy, op.optimal_policy(RNG_PI, RNG_R, BETA), atol=1e-6)
    assert result.parameters.shape == (len(RNG_PI) - 1,)


@pytest.mark.parametrize("name", ["dpo", "exo", "exo_rw"])
def test_rank_one_fit_is_the_minimum_of_a_fine_grid(name):
    """One parameter: the fit's loss is the smallest loss on a 20001-point grid (to the grid's resolution)."""
    pi_ref, rewards, beta = bimodal()
    settings = {"k": 2} if name == "exo_rw" else {}
    result = op.fit(name, "low_rank", pi_ref, rewards, beta, rank=1, **settings)
    grid = np.linspace(-10, 10, 20001)
    values = [op.family_loss(name, "low_rank", [w], pi_ref, rewards, beta, **settings)[0] for w in grid]
    best = grid[int(np.argmin(values))]
    assert abs(result.parameters[0] - best) <= 2e-3
    assert result.loss <= min(values) + 1e-12
    assert not np.allclose(result.policy, op.optimal_policy(pi_ref, rewards, beta), atol=0.05)  # a restricted fit


def test_low_rank_gradients_and_errors():
    pi_ref, rewards, beta = bimodal()
    params = np.array([0.7, -1.1, 0.4])
    _, grad = op.family_loss("dpo", "low_rank", params, pi_ref, rewards, beta)
    numeric = numeric_gradient(lambda z: op.family_loss("dpo", "low_rank", z, pi_ref, rewards, beta)[0], params)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match=r"rank must be an integer in 1\.\.4 .* for 5 answers, got 5"):
        op.fit("dpo", "low_rank", RNG_PI, RNG_R, BETA, rank=5)
    with pytest.raises(ValueError, match="low_rank family must be a vector of length"):
        op.family_loss("dpo", "low_rank", np.zeros(len(pi_ref)), pi_ref, rewards, beta)
