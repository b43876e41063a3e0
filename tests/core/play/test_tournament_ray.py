"""The Ray backend gives the same tournament as the local one (Ray runs locally here)."""

from __future__ import annotations

import pytest
import yaml

from aligngames.play.tournament import TournamentConfig, run_tournament

pytest.importorskip("ray", reason="the Ray backend needs the 'ray' extra (pip install -e '.[ray]')")

CONFIG = {
    "env": "preference_game_v0",
    "env_kwargs": {"mode": "language"},
    "agents": {
        "concise": {"type": "template", "kwargs": {"style": "concise"}},
        "evasive": {"type": "template", "kwargs": {"style": "evasive"}},
        "random": {"type": "random"},
    },
    "episodes": 20,
    "seed": 5,
}


@pytest.mark.slow
def test_ray_backend_matches_local_backend_and_resumes_a_local_run(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    local = run_tournament(TournamentConfig.from_yaml(path), tmp_path / "local", progress=False)
    ray_run = run_tournament(TournamentConfig.from_yaml(path, backend="ray"), tmp_path / "ray", workers=2,
                             progress=False)
    for name in ("matches.jsonl", "payoffs.json"):
        assert (local / name).read_bytes() == (ray_run / name).read_bytes()

    # a run started locally can be finished on Ray: the backend is not part of what is compared
    lines = (local / "matches.jsonl").read_text().splitlines(keepends=True)
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("config.yaml", "manifest.json"):
        (partial / name).write_bytes((local / name).read_bytes())
    (partial / "matches.jsonl").write_text("".join(lines[:4]))
    resumed = run_tournament(TournamentConfig.from_yaml(path, backend="ray"), partial, workers=2, progress=False)
    assert (resumed / "payoffs.json").read_bytes() == (local / "payoffs.json").read_bytes()


def test_unknown_backend_is_a_config_error(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, "backend": "slurm"}))
    with pytest.raises(ValueError, match=r"key 'backend': expected one of \['local', 'ray'\], got 'slurm'"):
        TournamentConfig.from_yaml(path)
