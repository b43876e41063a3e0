"""PSRO estimates its meta-games through the tournament runner's backends: the same results on each."""

from __future__ import annotations

import json

import pytest

from aligngames.solvers.population import psro

pytest.importorskip("ray", reason="the Ray backend needs the 'ray' extra (pip install -e '.[ray]')")

ENV = {"mode": "tabular", "scenario": "random", "num_answers": 5, "num_groups": 3, "scenario_seed": 2}


def _config(**execution) -> psro.PSROConfig:
    settings = psro.PSROSettings(iterations=3, meta_solver="uniform", episodes=4, seed=3, **execution)
    return psro.PSROConfig("preference_game_v0", ENV, {}, settings)


def _meta_games(folder):
    lines = [json.loads(line) for line in (folder / "matches.jsonl").read_text().splitlines()]
    return {json.dumps(line["seating"], sort_keys=True): line["returns"] for line in lines}


@pytest.mark.slow
def test_psro_meta_games_are_the_same_on_ray(tmp_path):
    local = psro.run(_config(), tmp_path / "local")
    ray_run = psro.run(_config(backend="ray", workers=2), tmp_path / "ray")
    assert local == ray_run
    for name in ("checkpoint.json", "solution.json", "trace.json"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    # every match played with the same returns (lines are recorded in the order they finish)
    assert _meta_games(tmp_path / "ray") == _meta_games(tmp_path / "local")
    # a local run resumed on Ray: the backend is not part of the config that must match
    partial = psro.run(psro.PSROConfig("preference_game_v0", ENV, {}, psro.PSROSettings(
        iterations=1, meta_solver="uniform", episodes=4, seed=3)), tmp_path / "resumed")
    assert partial.epochs == 1
    assert psro.run(_config(backend="ray", workers=2), tmp_path / "resumed") == local
