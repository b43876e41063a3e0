"""The command line, as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aligngames.cli import main
from aligngames.config import parse_agent

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aligngames.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


def test_list_shows_envs_agents_and_judges(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "preference_game_v0" in out and "template" in out and "features" in out


def test_play_prints_the_transcript_and_returns(capsys):
    assert main(["play", "preference_game_v0", "--agents", "template:style=concise", "template:style=detailed",
                 "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "Prompt:" in out and "--- player_0:" in out and "Judge: P(player_0 > player_1)" in out
    assert "returns: player_0 (template:style=concise)" in out


def test_play_tabular_with_env_args(capsys):
    assert main(["play", "preference_game_v0", "-e", "mode=tabular", "-e", "scenario=food",
                 "--agents", "constant:action=0", "constant:action=1"]) == 0
    out = capsys.readouterr().out
    assert "burger" in out and "sushi" in out and "+0.1500" in out


def test_parse_agent_reads_yaml_values_and_keeps_lists_whole():
    assert parse_agent("mixed:probabilities=[0.5,0.2,0.3]") == ("mixed", {"probabilities": [0.5, 0.2, 0.3]})
    assert parse_agent("random") == ("random", {})
    assert parse_agent("template:style=concise") == ("template", {"style": "concise"})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["play", "preference_game_v0", "--agents", "random"], "has 2 seats"),
        (["play", "nope_v0", "--agents", "random", "random"], "unknown env 'nope_v0'"),
        (["play", "preference_game_v0", "--agents", "random", "template:style=shouty"], "unknown style 'shouty'"),
        (["play", "preference_game_v0", "-e", "mode", "--agents", "random", "random"], "expected KEY=VALUE"),
        (["tournament", "missing.yaml", "--out", "x"], "missing.yaml: config file not found"),
        (["report", "/nonexistent/run"], "payoffs.json not found"),
    ],
)
def test_errors_exit_2_with_a_clear_message(capsys, args, message):
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_tournament_and_report_commands(tmp_path):
    result = run_cli("tournament", "examples/preference_tabular.yaml", "--out", str(tmp_path / "run"), "--quiet")
    assert result.returncode == 0, result.stderr
    assert f"report: {tmp_path / 'run' / 'report.md'}" in result.stdout
    (tmp_path / "run" / "report.md").unlink()
    result = run_cli("report", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    report = (tmp_path / "run" / "report.md").read_text()
    assert "Non-transitive: burger > sushi > pasta > burger" in report


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "aligngames"
    assert script.exists(), "pip install -e . should install the aligngames console script"
    result = subprocess.run([str(script), "list"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "preference_game_v0" in result.stdout
