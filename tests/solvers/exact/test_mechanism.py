"""Mechanisms against known answers: the median is strategy-proof, the mean is manipulable and its equilibrium
outcome is the median of the peaks and the phantoms k/n (Renault & Trannoy 2005), the KL-regularised policy is
the closed-form maximiser, and VCG payments make truthful reward reports dominant while unpaid ones invite
inflation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aligngames.envs.mechanism.problems import FineTuningProblem, build, custom_threshold, from_mapping, run
from aligngames.solvers.exact.mechanism import analyse, equilibrium, manipulations, mean_equilibrium_outcome

GRID = np.linspace(0.0, 1.0, 101)
peaks_lists = st.lists(st.floats(0.0, 1.0), min_size=2, max_size=6)


@settings(max_examples=30, deadline=None)
@given(peaks=peaks_lists, others=st.lists(st.floats(0.0, 1.0), min_size=6, max_size=6))
def test_the_median_is_strategy_proof_on_a_grid(peaks, others):
    problem = custom_threshold(peaks)
    n = problem.num_stakeholders
    for i in range(n):
        reports = np.array(others[:n])[:, None]  # any reports of the others, not only truthful ones
        reports[i] = problem.peaks[i]
        truthful = run(problem, "median", reports).utilities[i]
        for misreport in GRID:
            reports[i] = misreport
            assert run(problem, "median", reports).utilities[i] <= truthful + 1e-12


def test_the_mean_is_manipulable_by_exaggerating():
    # truthful mean 0.4; the two low stakeholders gain by reporting 0, the high one by reporting 1
    result = analyse(build("refusal_threshold"), "mean")
    assert result["outcome"] == pytest.approx(0.4) and result["manipulable"]
    assert result["best_report"] == pytest.approx({"safety_team": 0.0, "moderator": 0.0, "power_user": 1.0})
    gains = [check["gain"] for check in result["manipulation"]]
    np.testing.assert_allclose(gains, [1 / 30, 1 / 15, 1 / 30], atol=1e-12)
    assert not analyse(build("refusal_threshold"), "median")["manipulable"]


def test_close_peaks_under_the_mean():
    # found by hypothesis: two peaks 0.002 apart, where best-response dynamics need over 100 passes
    problem = custom_threshold([0.5, 0.498046875])
    found = equilibrium(problem, "mean")
    assert found.converged and found.outcome.outcome == pytest.approx(0.5)
    np.testing.assert_allclose(found.reports[:, 0], [1.0, 0.0])
    slow = equilibrium(problem, "mean", method="dynamics")  # 1000 passes are enough here
    assert slow.converged and slow.passes > 100 and slow.outcome.outcome == pytest.approx(0.5)


@settings(max_examples=40, deadline=None)
@given(peaks=peaks_lists)
def test_mean_equilibrium_outcome_is_the_phantom_median(peaks):
    problem = custom_threshold(peaks)
    found = equilibrium(problem, "mean")
    assert found.converged
    assert found.outcome.outcome == pytest.approx(mean_equilibrium_outcome(peaks), abs=1e-9)
    dynamics = equilibrium(problem, "mean", method="dynamics")  # independent of the closed form
    if dynamics.converged:  # within 1000 passes unless two peaks are very close
        assert dynamics.outcome.outcome == pytest.approx(mean_equilibrium_outcome(peaks), abs=1e-9)
    for i in range(problem.num_stakeholders):  # and it is an equilibrium: no report on a grid does better
        reports = found.reports.copy()
        current = run(problem, "mean", reports).utilities[i]
        for misreport in GRID:
            reports[i] = misreport
            assert run(problem, "mean", reports).utilities[i] <= current + 1e-9


def test_even_numbers_of_stakeholders_use_the_lower_median():
    # averaging the two middle reports would let the stakeholder at 0.4 pull the outcome 0.5 down by reporting 0.2
    problem = custom_threshold([0.2, 0.4, 0.6, 0.8])
    assert run(problem, "median", problem.true_reports()).outcome == 0.4
    assert all(check.gain == 0.0 for check in manipulations(problem, "median"))


def _tuning(rewards, reference, beta=0.7, weights=None) -> FineTuningProblem:
    return FineTuningProblem(tuple(f"s{i}" for i in range(len(rewards))), tuple(f"y{k}" for k in range(len(reference))),
                             reference, rewards, beta, weights)


def test_the_trained_policy_maximises_the_regularised_objective():
    rng = np.random.default_rng(0)
    problem = _tuning(rng.normal(size=(3, 4)), [0.1, 0.2, 0.3, 0.4], beta=0.5)
    total = problem.rewards.sum(axis=0)
    policy = problem.policy(total)
    np.testing.assert_allclose(policy, problem.reference * np.exp(total / 0.5) / (problem.reference * np.exp(total / 0.5)).sum())
    assert problem.objective(policy, total) == pytest.approx(problem.best_objective(total), abs=1e-12)
    for candidate in rng.dirichlet(np.ones(4), size=500):
        assert problem.objective(candidate, total) <= problem.best_objective(total) + 1e-12


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_vcg_makes_truthful_reward_reports_dominant(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(2, 4)), int(rng.integers(2, 5))
    problem = _tuning(rng.normal(size=(n, k)), rng.dirichlet(np.ones(k)), beta=float(rng.uniform(0.2, 2.0)),
                      weights=rng.uniform(0.5, 2.0, size=n))
    reports = rng.normal(size=(n, k)) * 2  # the others' reports are arbitrary
    for i in range(n):
        reports[i] = problem.rewards[i]
        honest = run(problem, "vcg", reports)
        assert honest.payments[i] >= -1e-12  # Clarke pivot: nobody is paid to take part
        for _ in range(30):
            lie = reports.copy()
            lie[i] = problem.rewards[i] * rng.uniform(0, 4) + rng.normal(size=k)
            assert run(problem, "vcg", lie).utilities[i] <= honest.utilities[i] + 1e-10


def test_vcg_best_scale_is_one_and_unpaid_inflates():
    problem = build("fine_tuning")
    vcg, unpaid = analyse(problem, "vcg"), analyse(problem, "unpaid")
    assert not vcg["manipulable"] and set(vcg["best_report_scale"].values()) == {1.0}
    assert unpaid["manipulable"] and set(unpaid["best_report_scale"].values()) == {4.0}
    assert vcg["welfare"] == pytest.approx(unpaid["welfare"])  # same policy under truthful reports
    assert vcg["equilibrium"]["converged"] and vcg["equilibrium"]["welfare"] == pytest.approx(vcg["welfare"])


def test_two_stakeholder_vcg_payment_by_hand():
    # one response each is loved by one stakeholder: r_0 = (1, 0), r_1 = (0, 1), uniform reference, beta 1.
    # pi* = (1/2, 1/2); without stakeholder 0 the others would train pi = (1, e) / (1 + e); its payment is
    # log((1 + e) / 2) - (1/2 - KL((1/2, 1/2) || (1/2, 1/2))) = log((1 + e) / 2) - 1/2
    problem = _tuning([[1.0, 0.0], [0.0, 1.0]], [0.5, 0.5], beta=1.0)
    result = run(problem, "vcg", problem.true_reports())
    np.testing.assert_allclose(result.outcome, [0.5, 0.5])
    np.testing.assert_allclose(result.payments, [np.log((1 + np.e) / 2) - 0.5] * 2, atol=1e-12)


def test_bad_problems_name_what_is_wrong():
    with pytest.raises(ValueError, match=r"peaks must lie in \[0, 1\]; 'stakeholder_1' has 1.5"):
        custom_threshold([0.2, 1.5])
    with pytest.raises(ValueError, match=r"mechanism 'vcg' does not apply to a threshold problem; its mechanisms: \['median', 'mean'\]"):
        run(build("refusal_threshold"), "vcg", [[0.1], [0.2], [0.3]])
    with pytest.raises(ValueError, match="reference must give every response positive probability; 'y1' has 0"):
        _tuning([[1.0, 0.0]], [1.0, 0.0])
    with pytest.raises(ValueError, match="got keys of both"):
        from_mapping({"peaks": [0.1], "rewards": [[1.0]]})
