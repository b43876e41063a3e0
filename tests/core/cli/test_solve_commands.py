"""``aligngames solve ...`` end to end: every solver on the food scenario (whose maximal lottery is
(0.5, 0.2, 0.3)) and on a tournament's meta-game, with the run folder each writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aligngames.cli import main

ROOT = Path(__file__).resolve().parents[3]

FOOD = ["--env", "preference_game_v0", "-e", "mode=tabular", "-e", "scenario=food"]
LOTTERY = {"burger": 0.5, "sushi": 0.2, "pasta": 0.3}


def _solve(solver: str, out, *arguments: str) -> dict:
    assert main(["solve", solver, *arguments, "--out", str(out)]) == 0
    return json.loads((out / "solution.json").read_text())


def test_nash_and_mpo_find_the_maximal_lottery(tmp_path):
    solution = _solve("nash", tmp_path / "nash", *FOOD)
    assert solution["row"] == pytest.approx(LOTTERY, abs=1e-9) and solution["value"] == pytest.approx(0.0, abs=1e-12)
    solution = _solve("mpo", tmp_path / "mpo", *FOOD, "--outer-steps", "2000")
    assert solution["policy"] == pytest.approx(LOTTERY, abs=1e-6) and solution["exploitability"] < 1e-6
    config = yaml.safe_load((tmp_path / "mpo" / "config.yaml").read_text())
    assert config["settings"] == {"alpha": 0.25, "eta": 2.0, "inner_steps": 5, "outer_steps": 2000, "schedule": "paper",
                                  "reset_tolerance": 0.1, "magnet_mix": 0.5}
    assert config["game"] == {"env": "preference_game_v0", "env_kwargs": {"mode": "tabular", "scenario": "food"}}
    trace = json.loads((tmp_path / "mpo" / "trace.json").read_text())
    assert len(trace["exploitability"]) == len(trace["average_exploitability"]) == 10_000
    for name in ("manifest.json", "exploitability.png"):
        assert (tmp_path / "mpo" / name).exists()
    # the adaptive schedule: inner_steps * outer_steps mirror-prox steps, the last iterate far closer
    solution = _solve("mpo", tmp_path / "adaptive", *FOOD, "--schedule", "adaptive", "--outer-steps", "400")
    assert solution["policy"] == pytest.approx(LOTTERY, abs=1e-9) and solution["exploitability"] < 1e-12
    trace = json.loads((tmp_path / "adaptive" / "trace.json").read_text())
    assert len(trace["exploitability"]) == 2000


def test_nash_solves_a_budgeted_preference_game_and_other_solvers_refuse_it(tmp_path, capsys):
    budget = [*FOOD, "-e", "costs=[0,1,0.5]", "-e", "budget=0.2"]
    solution = _solve("nash", tmp_path / "budget", *budget)
    assert sum(solution["row"].values()) == pytest.approx(1.0) and solution["exploitability"] < 1e-9
    assert solution["budget"]["row_cost"] <= 0.2 + 1e-9 and solution["budget"]["shadow_price"] > 0
    assert solution["value"] < 0  # the unconstrained maximal lottery costs 0.35 > 0.2, so the budget binds
    both = _solve("nash", tmp_path / "both", *budget, "-e", "comparator=constrained")
    assert both["value"] == pytest.approx(0.0, abs=1e-12) and both["budget"]["col_cost"] <= 0.2 + 1e-9
    assert main(["solve", "mmd", *budget, "--out", str(tmp_path / "mmd")]) == 2
    assert "only `aligngames solve nash` solves budgeted games" in capsys.readouterr().err


def test_settings_from_yaml_and_flags(tmp_path):
    (tmp_path / "mmd.yaml").write_text("alpha: 0.0\neta: 0.5\niterations: 200\n")
    _solve("mmd", tmp_path / "mmd", *FOOD, "--config", str(tmp_path / "mmd.yaml"), "--iterations", "300")
    settings = yaml.safe_load((tmp_path / "mmd" / "config.yaml").read_text())["settings"]
    assert settings == {"alpha": 0.0, "eta": 0.5, "iterations": 300}
    assert len(json.loads((tmp_path / "mmd" / "trace.json").read_text())["exploitability"]) == 300


def test_every_solver_on_a_tournament_meta_game(tmp_path):
    (tmp_path / "tournament.yaml").write_text(yaml.safe_dump({
        "env": "preference_game_v0", "env_kwargs": {"mode": "tabular", "scenario": "food"}, "episodes": 2, "seed": 0,
        "agents": {"burger": {"type": "constant", "kwargs": {"action": 0}},
                   "sushi": {"type": "constant", "kwargs": {"action": 1}},
                   "pasta": {"type": "constant", "kwargs": {"action": 2}}},
    }))
    assert main(["tournament", str(tmp_path / "tournament.yaml"), "--out", str(tmp_path / "tour"), "--quiet"]) == 0
    payoffs = ["--payoffs", str(tmp_path / "tour")]
    assert _solve("nash", tmp_path / "nash", *payoffs)["row"] == pytest.approx(LOTTERY, abs=1e-9)
    assert _solve("psro", tmp_path / "psro", *payoffs)["strategies"][0] == pytest.approx(LOTTERY, abs=1e-9)
    assert _solve("mpo", tmp_path / "mpo", *payoffs)["policy"] == pytest.approx(LOTTERY, abs=1e-6)
    for solver in ("mmd", "nash_md", "spo"):
        solution = _solve(solver, tmp_path / solver, *payoffs, "--iterations", "100")
        assert solution["average_exploitability"] < 0.5  # NashConv of a 3-answer preference game is at most 0.5


def test_psro_over_the_env_and_clear_errors(tmp_path, capsys):
    solution = _solve("psro", tmp_path / "psro", *FOOD, "--episodes", "2", "--initial", "player_1=constant:action=1")
    assert solution["action_mixtures"]["player_0"] == pytest.approx(LOTTERY, abs=1e-9)
    assert solution["populations"]["player_1"][0] == "player_1.initial"
    assert solution["agents"]["player_1.initial"] == {"type": "constant", "kwargs": {"action": 1}}
    assert main(["solve", "nash", "--env", "preference_game_v0", "--out", str(tmp_path / "x")]) == 2
    assert "mode='tabular'" in capsys.readouterr().err
    assert main(["solve", "mpo", "--env", "preference_game_v0", "-e", "mode=tabular", "--alpha", "-1",
                 "--out", str(tmp_path / "x")]) == 2
    assert "alpha must be > 0, got -1.0" in capsys.readouterr().err


def _cli(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "aligngames.cli", *args], capture_output=True, text=True,
                            timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result


def _last_bar(stderr: str, name: str) -> str:
    """The last state tqdm drew of the bar ``name`` (lines and carriage returns both end a state)."""
    return [state for state in stderr.replace("\r", "\n").splitlines() if state.startswith(f"{name}:")][-1]


def test_psro_bar_counts_the_epochs_the_summary_reports(tmp_path, capsys):
    # food: epoch 0 {burger} x {burger}; best responses sushi then pasta enter; the third meta-solve is the
    # maximal lottery, NashConv 0: converged after 2 epochs that grew the populations
    result = _cli("solve", "psro", *FOOD, "--episodes", "2", "--out", str(tmp_path / "psro"))
    assert "2 epochs (converged: full-game NashConv <= tolerance 1e-09)" in result.stdout
    bar = _last_bar(result.stderr, "psro")
    assert " 2/2 " in bar and "converged" in bar
    solution = json.loads((tmp_path / "psro" / "solution.json").read_text())
    assert solution["epochs"] == 2 and solution["criterion"] == "full-game NashConv <= tolerance"
    # at the epoch limit: as many epochs as the limit, and said so
    assert main(["solve", "psro", *FOOD, "--episodes", "2", "--iterations", "1", "--out", str(tmp_path / "one")]) == 0
    captured = capsys.readouterr()
    assert "1 epoch (not converged: stopped at the limit, iterations=1)" in captured.out
    assert " 1/1 " in _last_bar(captured.err, "psro")


def test_psro_tolerance_off_converges_by_double_oracle(tmp_path):
    """Without the tolerance, double oracle's test stops the same run one (empty) round later."""
    from aligngames.solvers.population import psro

    settings = psro.PSROSettings(episodes=2, nash_conv_tolerance=None)
    result = psro.run(psro.PSROConfig("preference_game_v0", {"mode": "tabular", "scenario": "food"}, settings=settings),
                      tmp_path / "off")
    assert result.epochs == 2 and result.state.criterion == psro.NO_NEW_POLICY
    assert result.nash_conv[-1] == pytest.approx(0.0, abs=1e-12)
    assert result.meta_strategies["player_0"] == pytest.approx(
        {f"player_0.{name}" if name != "burger" else "player_0.initial": p for name, p in LOTTERY.items()}, abs=1e-9)

