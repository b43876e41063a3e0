"""Tournaments: determinism, resume after a kill, workers, run-folder contents, config errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from aligngames.config import ConfigError
from aligngames.play.tournament import TournamentConfig, load_meta_game, run_tournament

TABULAR = {
    "env": "preference_game_v0",
    "env_kwargs": {"mode": "tabular", "scenario": "food"},
    "agents": {
        "burger": {"type": "constant", "kwargs": {"action": 0}},
        "sushi": {"type": "constant", "kwargs": {"action": 1}},
        "lottery": {"type": "mixed", "kwargs": {"probabilities": [0.5, 0.2, 0.3]}},
        "uniform": {"type": "random"},
    },
    "episodes": 40,
    "seed": 3,
}

LANGUAGE = {
    "env": "preference_game_v0",
    "env_kwargs": {"mode": "language"},
    "agents": {
        "concise": {"type": "template", "kwargs": {"style": "concise"}},
        "detailed": {"type": "template", "kwargs": {"style": "detailed"}},
        "cautious": {"type": "template", "kwargs": {"style": "cautious"}},
    },
    "episodes": 300,
    "seed": 11,
    "batch_size": 50,
}


def write_config(tmp_path: Path, data: dict, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def files(run: Path) -> dict[str, bytes]:
    return {name: (run / name).read_bytes() for name in ("matches.jsonl", "payoffs.json")}


def test_tabular_tournament_payoffs_match_the_preference_matrix(tmp_path):
    config = TournamentConfig.from_yaml(write_config(tmp_path, TABULAR))
    run = run_tournament(config, tmp_path / "run", progress=False)
    game = load_meta_game(run)
    names = game.pools["player_0"]
    mean = game.mean["player_0"]
    # every agent is a known distribution over (burger, sushi, pasta); the expected payoff of a seating
    # is x^T A y and one episode's standard deviation follows from the same distributions
    strategies = {"burger": [1, 0, 0], "sushi": [0, 1, 0], "lottery": [0.5, 0.2, 0.3], "uniform": [1 / 3] * 3}
    payoff = np.array([[0.0, 0.15, -0.10], [-0.15, 0.0, 0.25], [0.10, -0.25, 0.0]])  # P - 1/2 (food)
    for i, row in enumerate(names):
        for j, col in enumerate(names):
            x, y = np.array(strategies[row]), np.array(strategies[col])
            expected = x @ payoff @ y
            spread = np.sqrt(max(x @ payoff**2 @ y - expected**2, 0.0))
            assert abs(mean[i, j] - expected) <= 4 * spread / np.sqrt(40) + 1e-12, (row, col)
    burger, sushi = names.index("burger"), names.index("sushi")
    assert mean[burger, sushi] == pytest.approx(0.15)  # deterministic seatings are exact
    # zero-sum: the two seats' tables cancel
    np.testing.assert_allclose(game.mean["player_0"], -game.mean["player_1"], atol=1e-12)
    # run folder contents
    for name in ("config.yaml", "manifest.json", "matches.jsonl", "payoffs.json", "report.md", "payoffs.png"):
        assert (run / name).exists(), name
    assert len(list((run / "transcripts").glob("match_*.jsonl"))) == 16
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["seed"] == 3
    assert manifest["packages"]["numpy"] == np.__version__
    assert manifest["env"]["judge"] == "matrix:food"
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["seats"] == {"player_0": list(names), "player_1": list(names)}
    assert "burger" in (run / "report.md").read_text()


def test_same_config_and_seed_give_byte_identical_files(tmp_path):
    config = TournamentConfig.from_yaml(write_config(tmp_path, TABULAR))
    first = files(run_tournament(config, tmp_path / "a", progress=False))
    second = files(run_tournament(config, tmp_path / "b", progress=False))
    assert first == second
    other_seed = TournamentConfig.from_yaml(write_config(tmp_path, TABULAR), seed=4)
    assert files(run_tournament(other_seed, tmp_path / "c", progress=False)) != first


def test_results_do_not_depend_on_workers_or_batch_size(tmp_path):
    config = TournamentConfig.from_yaml(write_config(tmp_path, LANGUAGE))
    one = files(run_tournament(config, tmp_path / "one", workers=1, progress=False))
    two = files(run_tournament(config, tmp_path / "two", workers=2, progress=False))
    assert one == two
    rebatched = TournamentConfig.from_yaml(write_config(tmp_path, {**LANGUAGE, "batch_size": 7}, "rebatched.yaml"))
    run = run_tournament(rebatched, tmp_path / "rebatched", progress=False)
    assert files(run)["payoffs.json"] == one["payoffs.json"]


def test_resume_after_kill_gives_the_uninterrupted_result(tmp_path):
    config_path = write_config(tmp_path, LANGUAGE)
    reference = files(run_tournament(TournamentConfig.from_yaml(config_path), tmp_path / "reference", progress=False))

    run = tmp_path / "killed"
    command = [sys.executable, "-m", "aligngames.cli", "tournament", str(config_path), "--out", str(run), "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    matches_file = run / "matches.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if matches_file.exists() and matches_file.read_text().count("\n") >= 2:
            break
        if process.poll() is not None:
            pytest.fail("the tournament finished before it could be killed: " + process.stderr.read().decode())
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    recorded = matches_file.read_text().count("\n")
    assert 2 <= recorded < 9, "the kill should land mid-run"
    assert not (run / "payoffs.json").exists()
    # simulate a kill in the middle of writing a line: a torn last line must be dropped on resume
    with open(matches_file, "a") as handle:
        handle.write('{"match": 8, "retu')

    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert files(run) == reference
    manifest = json.loads((run / "manifest.json").read_text())
    assert len(manifest["resumed_from"]) == 1


RED_TEAM = {
    "env": "red_team_v0",
    "env_kwargs": {"rounds": 2, "benign_rate": 0.25, "judge": "embedding_harm"},
    "agents": {"weapons": {"type": "red_teamer", "kwargs": {"theme": "weapons", "method": "direct"}},
               "fraud": {"type": "red_teamer", "kwargs": {"theme": "fraud", "method": "role_play"}},
               "comply": {"type": "compliant_blue"},
               "guarded": {"type": "guarded_blue", "kwargs": {"guards": ["keywords"]}}},
    "seats": {"red_0": ["weapons", "fraud"], "blue": ["comply", "guarded"]},
    "episodes": 2,
    "seed": 0,
}


def test_red_team_runs_are_identical_across_workers_and_resumes(tmp_path):
    """The embedding judge's scores do not depend on which texts a process embedded before."""
    config = TournamentConfig.from_yaml(write_config(tmp_path, RED_TEAM))
    one = run_tournament(config, tmp_path / "one", workers=1, progress=False)
    two = run_tournament(config, tmp_path / "two", workers=2, progress=False)
    assert files(one) == files(two)
    lines = (one / "matches.jsonl").read_text().splitlines(keepends=True)
    (one / "matches.jsonl").write_text("".join(lines[:2]))  # as if killed after two matches
    (one / "payoffs.json").unlink()
    resumed = run_tournament(config, one, workers=1, progress=False)
    assert files(resumed) == files(two)


def test_a_deleted_or_damaged_transcript_is_played_again(tmp_path):
    config = TournamentConfig.from_yaml(write_config(tmp_path, TABULAR))
    reference = files(run_tournament(config, tmp_path / "reference", progress=False))
    run = run_tournament(config, tmp_path / "run", progress=False)
    (run / "transcripts" / "match_0003.jsonl").unlink()
    damaged = run / "transcripts" / "match_0005.jsonl"
    damaged.write_text(damaged.read_text()[:-40])
    (run / "payoffs.json").unlink()
    run_tournament(config, run, progress=False)
    assert files(run) == reference
    for name in ("match_0003.jsonl", "match_0005.jsonl"):
        assert (run / "transcripts" / name).read_bytes() == (tmp_path / "reference" / "transcripts" / name).read_bytes()


def test_resuming_with_another_config_is_refused(tmp_path):
    run = run_tournament(TournamentConfig.from_yaml(write_config(tmp_path, TABULAR)), tmp_path / "run", progress=False)
    changed = TournamentConfig.from_yaml(write_config(tmp_path, {**TABULAR, "episodes": 5}, "changed.yaml"))
    with pytest.raises(ConfigError, match=r"different config \(episodes: 40 there, 5 now\)"):
        run_tournament(changed, run, progress=False)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"episodes": "ten"}, r"config.yaml: key 'episodes': expected an integer, got 'ten'"),
        ({"episodes": 0}, r"key 'episodes': expected a positive integer, got 0"),
        ({"agents": {"a": {"type": "nope"}}}, r"key 'agents.a.type': unknown agent type 'nope'; valid types:.*random"),
        ({"agents": {"a": {"typ": "random"}}}, r"config.yaml: key 'agents'.a: unknown key 'typ'; valid keys: \['kwargs', 'type'\]"),
        ({"env": "chess_v0"}, r"unknown env 'chess_v0'.*Valid envs: .*preference_game_v0"),
        ({"seats": {"player_0": ["ghost"]}}, r"key 'seats.player_0': unknown agent 'ghost'"),
        ({"episode": 3}, r"config.yaml: unknown key 'episode'; valid keys:"),
        ({"seed": -1}, r"key 'seed' must be an integer in \[0, 2\*\*63\)"),
    ],
)
def test_config_errors_name_file_key_and_expectation(tmp_path, change, message):
    path = write_config(tmp_path, {**TABULAR, **change})
    with pytest.raises((ConfigError, KeyError, ValueError), match=message):
        TournamentConfig.from_yaml(path)


def test_missing_required_key_and_bad_yaml(tmp_path):
    path = write_config(tmp_path, {"agents": TABULAR["agents"]})
    with pytest.raises(ConfigError, match=r"config.yaml: key 'env' is required \(a string\)"):
        TournamentConfig.from_yaml(path)
    broken = tmp_path / "broken.yaml"
    broken.write_text("env: [unclosed")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        TournamentConfig.from_yaml(broken)
    with pytest.raises(ConfigError, match="nothing.yaml: config file not found"):
        TournamentConfig.from_yaml(tmp_path / "nothing.yaml")


def test_seats_restrict_the_pairings(tmp_path):
    data = {**TABULAR, "seats": {"player_0": ["lottery"], "player_1": ["burger", "sushi"]}}
    run = run_tournament(TournamentConfig.from_yaml(write_config(tmp_path, data)), tmp_path / "run", progress=False)
    lines = [json.loads(line) for line in (run / "matches.jsonl").read_text().splitlines()]
    assert [line["seating"] for line in lines] == [
        {"player_0": "lottery", "player_1": "burger"},
        {"player_0": "lottery", "player_1": "sushi"},
    ]
    assert "symmetric" not in json.loads((run / "payoffs.json").read_text())


def test_report_tables_survive_agent_names_with_pipes_and_newlines(tmp_path):
    odd = {"a|b": {"type": "constant", "kwargs": {"action": 0}}, "two\nlines": {"type": "constant", "kwargs": {"action": 1}},
           "**bold**": {"type": "random"}}
    run = run_tournament(TournamentConfig.from_yaml(write_config(tmp_path, {**TABULAR, "agents": odd, "episodes": 2})),
                         tmp_path / "run", progress=False)
    tables, current = [], []
    for line in [*(run / "report.md").read_text().splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables, current = [*tables, current], []
    assert len(tables) >= 2
    for table in tables:  # every row has as many unescaped cells as the header, and no row is broken
        widths = {len(row.replace("\\|", "").split("|")) for row in table}
        assert len(widths) == 1 and all(row.endswith("|") for row in table), table
    assert "a\\|b" in (run / "report.md").read_text() and "two\\\\nlines" in (run / "report.md").read_text()


def test_report_on_a_folder_that_is_not_a_run_names_it(tmp_path):
    from aligngames.play.report import write_report

    with pytest.raises(FileNotFoundError, match="is not a tournament run folder"):
        write_report(tmp_path)


SCRIPT_WITH_OWN_AGENT = '''
import sys

from aligngames.agent import Agent, AgentSpec
from aligngames.play.tournament import TournamentConfig, run_tournament


class AlwaysFirst(Agent):
    def act(self, observation, agent, action_space, info=None):
        return 0


if __name__ == "__main__":
    from aligngames import registry
    registry.register_agent("always_first", "__main__:AlwaysFirst", "an agent defined in this script")
    config = TournamentConfig("preference_game_v0", {"mine": AgentSpec("always_first"), "rand": AgentSpec("random")},
                              {"mode": "tabular", "scenario": "food"}, episodes=3, seed=0)
    run_tournament(config, sys.argv[1], workers=2, progress=False)
'''


def test_agents_registered_in_a_script_reach_worker_processes(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(SCRIPT_WITH_OWN_AGENT)
    result = subprocess.run([sys.executable, str(script), str(tmp_path / "run")], capture_output=True, text=True,
                            timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in (tmp_path / "run" / "matches.jsonl").read_text().splitlines()]
    assert len(lines) == 4  # every seating of the two agents, played by the workers
    first = next(line for line in lines if line["seating"] == {"player_0": "mine", "player_1": "mine"})
    assert first["mean"]["player_0"] == pytest.approx(0.0)  # answer 0 against itself: a tie
