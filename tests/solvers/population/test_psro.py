"""PSRO: double oracle reaches the LP equilibrium; fictitious play and PRD approach RPS's; the env
driver finds the food scenario's maximal lottery and resumes a killed run with identical results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aligngames.agent import AgentSpec
from aligngames.config import ConfigError
from aligngames.game import Dynamics, GameInfo, MatrixGame, Utility
from aligngames.solvers.equilibrium import nash
from aligngames.solvers.population import psro

RPS = np.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])
FOOD_ENV = {"mode": "tabular", "scenario": "food"}


def test_nash_meta_solver_reaches_the_full_game_equilibrium():
    payoffs = np.random.default_rng(1).uniform(-1, 1, (30, 25))
    result = psro.solve_matrix(payoffs, meta_solver="nash", iterations=100)
    assert len(result.nash_conv) < 60  # double oracle stopped by itself, with every best response inside
    assert result.nash_conv[-1] < 1e-9
    assert result.row @ payoffs @ result.col == pytest.approx(nash.solve_zero_sum(payoffs).value, abs=1e-9)
    assert result.populations[0][0] == 0 and result.populations[1][0] == 0


def test_alpharank_meta_solver_on_rps_and_a_general_sum_game():
    # RPS: once all three are in, alpha-rank's marginals are uniform, the equilibrium (NashConv 0)
    result = psro.solve_matrix(RPS, meta_solver="alpharank", iterations=10)
    assert sorted(result.populations[0]) == [0, 1, 2] and result.nash_conv[-1] == pytest.approx(0.0, abs=1e-12)
    # the prisoner's dilemma from (cooperate, cooperate): defection enters and takes nearly all the mass
    row = np.array([[3.0, 0.0], [5.0, 1.0]])
    dilemma = MatrixGame(np.stack([row, row.T]), GameInfo(2, Utility.GENERAL_SUM, Dynamics.SIMULTANEOUS))
    result = psro.solve_matrix(dilemma, meta_solver="alpharank", iterations=5)
    assert result.row[1] > 0.99 and result.col[1] > 0.99 and result.nash_conv[-1] < 0.05


def test_uniform_and_prd_meta_solvers_approach_rps_equilibrium():
    fictitious = psro.solve_matrix(RPS, meta_solver="uniform", iterations=60)
    assert len(fictitious.nash_conv) == 61  # repeats add weight, so every epoch runs
    assert fictitious.nash_conv[-1] < 0.2 < fictitious.nash_conv[0] == 2.0  # pure rock vs rock: 1 + 1
    replicator = psro.solve_matrix(RPS, meta_solver="prd", iterations=30, prd=psro.PRDSettings(iterations=300))
    assert replicator.nash_conv[-1] < 0.02
    np.testing.assert_allclose(replicator.row, [1 / 3] * 3, atol=0.02)


def test_general_sum_games():
    # a 2x2 coordination game: the nash meta-solver refuses it, uniform and prd run
    coordination = np.array([[2.0, 0.0], [0.0, 1.0]])
    game = MatrixGame(np.stack([coordination, coordination]), GameInfo(2, Utility.GENERAL_SUM, Dynamics.SIMULTANEOUS))
    with pytest.raises(ValueError, match="zero-sum or constant-sum"):
        psro.solve_matrix(game, meta_solver="nash")
    result = psro.solve_matrix(game, meta_solver="prd", iterations=3, initial=(1, 1), prd=psro.PRDSettings(iterations=200))
    assert result.nash_conv[0] == 0.0  # (1, 1) is a pure equilibrium: neither player gains by deviating
    with pytest.raises(ValueError, match="unknown meta-solver"):
        psro.solve_matrix(RPS, meta_solver="alpha_rank")


def _food_config(meta_solver="nash", iterations=10, initial=None):
    return psro.PSROConfig("preference_game_v0", FOOD_ENV, initial or {},
                           psro.PSROSettings(iterations=iterations, meta_solver=meta_solver, episodes=3))


def test_run_finds_the_food_maximal_lottery(tmp_path):
    result = psro.run(_food_config(), tmp_path / "run")
    solution = json.loads((tmp_path / "run" / "solution.json").read_text())
    assert solution["action_mixtures"]["player_0"] == pytest.approx({"burger": 0.5, "sushi": 0.2, "pasta": 0.3}, abs=1e-9)
    assert result.nash_conv[-1] < 1e-9 and result.empirical_nash_conv[-1] < 1e-9
    assert result.populations["player_0"] == ("player_0.initial", "player_0.pasta", "player_0.sushi")
    for name in ("config.yaml", "manifest.json", "matches.jsonl", "checkpoint.json", "trace.json", "exploitability.png"):
        assert (tmp_path / "run" / name).exists()


class _KilledOracle(psro.ExactBestResponse):
    """The exact oracle that dies on its ``limit``-th call, as a killed process would."""

    def __init__(self, base: psro.ExactBestResponse, limit: int) -> None:
        super().__init__(base.game, base.seats)
        self.calls, self.limit = 0, limit

    def best_response(self, seat, mixtures):
        self.calls += 1
        if self.calls == self.limit:
            raise KeyboardInterrupt("killed")
        return super().best_response(seat, mixtures)


def test_a_killed_run_resumes_with_identical_results(tmp_path):
    # six answers from five annotator groups; the first policy is a sampled mixed strategy, so the
    # meta-game entries are noisy estimates and depend on every match's seed
    env_kwargs = {"mode": "tabular", "scenario": "random", "num_answers": 6, "num_groups": 5, "scenario_seed": 1}
    initial = {"player_0": AgentSpec("mixed", {"probabilities": [0.3, 0.3, 0.1, 0.1, 0.1, 0.1]})}
    config = psro.PSROConfig("preference_game_v0", env_kwargs, initial,
                             psro.PSROSettings(iterations=4, meta_solver="uniform", episodes=6))
    psro.run(config, tmp_path / "whole")
    oracle = _KilledOracle(psro.ExactBestResponse.from_env("preference_game_v0", env_kwargs), limit=6)
    with pytest.raises(KeyboardInterrupt):
        psro.run(config, tmp_path / "resumed", oracle=oracle)  # dies in the third epoch
    assert json.loads((tmp_path / "resumed" / "checkpoint.json").read_text())["epoch"] == 2
    psro.run(config, tmp_path / "resumed")
    for name in ("checkpoint.json", "solution.json", "trace.json", "matches.jsonl"):
        assert (tmp_path / "resumed" / name).read_text() == (tmp_path / "whole" / name).read_text(), name
    # extending the run continues from the checkpoint; any other change of config is refused
    longer = psro.PSROConfig("preference_game_v0", env_kwargs, initial,
                             psro.PSROSettings(iterations=5, meta_solver="uniform", episodes=6))
    assert psro.run(longer, tmp_path / "resumed").epochs == 5
    other = psro.PSROConfig("preference_game_v0", env_kwargs, initial,
                            psro.PSROSettings(iterations=5, meta_solver="uniform", episodes=7))
    with pytest.raises(ConfigError, match="different config"):
        psro.run(other, tmp_path / "resumed")


def test_exact_oracle_refuses_unknown_agents():
    oracle = psro.ExactBestResponse.from_env("preference_game_v0", FOOD_ENV)
    with pytest.raises(ValueError, match="constant, mixed and random"):
        oracle.action_distribution("player_0", AgentSpec("template", {"style": "concise"}))
    np.testing.assert_allclose(oracle.action_distribution("player_1", AgentSpec("random")), [1 / 3] * 3)
