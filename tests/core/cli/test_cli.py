"""The command line, as a user runs it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from aligngames import datasets, registry
from aligngames.cli import main, solve_parser
from aligngames.config import parse_agent

ROOT = Path(__file__).resolve().parents[3]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aligngames.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


def test_list_shows_envs_agents_and_judges(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "preference_game_v0" in out and "template" in out and "features" in out
    lines = out.splitlines()
    after = {line.split()[0]: lines[number + 1].strip() for number, line in enumerate(lines[:-1])
             if line.startswith("  ") and not line.strip().startswith(("keywords:", "seats:"))}
    assert after["preference_game_v0"].startswith("keywords: mode, scenario, num_answers,")
    assert after["template"] == "keywords: style"
    assert "seats: player_0, player_1 (with mode=tabular, scenario=food)" in out
    assert "seats: red_0, blue (with mode=tabular)" in out and "seats: agent\n" in out  # svo_v0: no settings


def test_play_prints_the_transcript_and_returns(capsys):
    assert main(["play", "preference_game_v0", "--agents", "template:style=concise", "template:style=detailed",
                 "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "Prompt:" in out and "--- player_0:" in out and "Judge: P(player_0 > player_1)" in out
    assert "returns: player_0 (template:style=concise)" in out


def test_play_prints_the_returns_once_where_the_render_has_them():
    """red_team_v0's render ends with its own returns line; the CLI prints one, with the agents."""
    result = run_cli("play", "red_team_v0", "--agents", "red_teamer:theme=weapons,method=direct", "compliant_blue",
                     "-e", "judge=pattern_harm")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith("returns:")] == [
        "returns: red_0 (red_teamer:theme=weapons,method=direct) +2.0000, blue (compliant_blue) -2.0000"]
    assert lines[0] == "seats: red_0 = red_teamer:theme=weapons,method=direct, blue = compliant_blue"
    assert lines[-1].startswith("returns:") and lines[1].startswith("=== red_team_v0 (language; 1 red, 3 rounds")


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
        (["report", "/nonexistent/run"], "is not a tournament run folder"),
        (["solve", "mmd", "--env", "preference_game_v0", "-e", "mode=tabular", "--iterations", "-5", "--eta", "-1",
          "--out", "unused"], "eta must be > 0, got -1.0; iterations must be >= 1, got -5"),
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
    rows = [line for line in report.split("## Ratings")[1].split("\n## ")[0].splitlines() if line.startswith("| ") and "agent" not in line]
    assert sorted(row.split(" | ")[0][2:] for row in rows) == ["burger", "lottery", "pasta", "sushi", "uniform"]
    for column in (2, 4):  # Nash averaging and alpha-rank masses are distributions
        assert sum(float(row.split(" | ")[column].strip(" |")) for row in rows) == pytest.approx(1.0, abs=0.006)
    elo = [re.fullmatch(r"(\d+) \[(\d+), (\d+)\]", row.split(" | ")[5].strip(" |")) for row in rows]
    assert all(cell is not None and int(cell[2]) <= int(cell[1]) <= int(cell[3]) for cell in elo)
    assert np.mean([int(cell[1]) for cell in elo]) == pytest.approx(1000, abs=1)  # ratings centred on 1000
    assert (tmp_path / "run" / "ratings.png").stat().st_size > 0


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "aligngames"
    assert script.exists(), "pip install -e . should install the aligngames console script"
    result = subprocess.run([str(script), "list"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "preference_game_v0" in result.stdout


@pytest.mark.parametrize("args", [["solve", "--help"], ["solve", "-h"], ["solve"]])
def test_solve_without_a_solver_lists_every_solver_with_its_description(args):
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: aligngames solve SOLVER") and "error" not in result.stderr
    listed = {line.split()[0]: line.split(None, 1)[1] for line in result.stdout.split("solvers:\n", 1)[1].splitlines()}
    expected = {spec.name: spec.description for spec in registry.SOLVERS.specs()}
    assert listed == expected and {"nash", "mmd", "mpo", "psro", "social_choice"} <= set(listed)


@pytest.mark.parametrize("args", [["solve", "nash", "--help"], ["solve", "--help", "nash"]])
def test_solve_solver_help_shows_the_solvers_own_options(args):
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: aligngames solve nash")
    assert "--payoffs TOURNAMENT_RUN_DIR" in result.stdout and "--out OUT" in result.stdout
    assert registry.SOLVERS.spec("nash").description in result.stdout


def test_every_solve_module_follows_the_convention():
    """aligngames/cli/solve/NAME.py is registered as solver NAME; its docstring's first line is the registered
    description; it defines add_arguments(parser) and run(args)."""
    folder = ROOT / "aligngames" / "cli" / "solve"
    names = sorted(path.stem for path in folder.glob("*.py") if path.stem != "__init__")
    assert names == sorted(registry.SOLVERS.names())  # every solve command is one module here
    for name in names:
        spec = registry.SOLVERS.spec(name)
        assert spec.entry_point == f"aligngames.cli.solve.{name}"
        module, parser = solve_parser(name)
        assert module.__doc__.split("\n", 1)[0] == spec.description, name
        assert callable(module.run) and parser.format_help().startswith(f"usage: aligngames solve {name}")


def test_trust_remote_code_in_a_config_needs_the_command_line_flag(tmp_path):
    config = tmp_path / "remote.yaml"
    config.write_text(yaml.safe_dump({
        "env": "red_team_v0", "env_kwargs": {"judge": "hf_harm",
                                             "judge_kwargs": {"path": str(tmp_path / "nothing"), "trust_remote_code": True}},
        "agents": {"red": {"type": "red_teamer"}, "blue": {"type": "refusing_blue"}}, "episodes": 1}))
    refused = run_cli("tournament", str(config), "--out", str(tmp_path / "run"), "--quiet")
    assert refused.returncode == 2
    assert "trust_remote_code=True runs code shipped with the model" in refused.stderr
    assert "--trust-remote-code" in refused.stderr
    allowed = run_cli("--trust-remote-code", "tournament", str(config), "--out", str(tmp_path / "run"), "--quiet")
    assert "runs code shipped" not in allowed.stderr  # past the gate: now it fails on the missing model folder
    assert allowed.returncode != 0 and "does not exist" in allowed.stderr


def test_global_flags_work_before_or_after_the_command(tmp_path):
    assert run_cli("list", "-v").returncode == 0
    assert run_cli("-v", "list").returncode == 0
    solved = run_cli("solve", "nash", "--env", "preference_game_v0", "-e", "mode=tabular", "-e", "scenario=food",
                     "--out", str(tmp_path / "nash"), "-v")
    assert solved.returncode == 0, solved.stderr
    assert (tmp_path / "nash" / "solution.json").exists()


@pytest.mark.parametrize("arguments, message", [
    (["-e", "modee=tabular", "--agents", "random", "random"],
     "env 'preference_game_v0' has no keyword 'modee' (did you mean 'mode'?); its keywords: mode, scenario,"),
    (["--agents", "template:stlye=concise", "template"],
     "agent 'template' has no keyword 'stlye' (did you mean 'style'?); its keywords: style"),
    (["-e", "mode=tabular", "--agents", "mixed:probabilities=0.5,0.5", "random"],
     "expected KEY=VALUE, got '0.5'; a list value goes in brackets, e.g. probabilities=[0.5,0.5]"),
])
def test_a_mistyped_keyword_lists_the_valid_ones(arguments, message):
    result = run_cli("play", "preference_game_v0", *arguments)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_judge_keyword_is_checked_too():
    with pytest.raises(TypeError, match=r"judge 'pattern_harm' has no keyword 'saturaton' \(did you mean 'saturation'"):
        registry.make_judge("pattern_harm", {"saturaton": 2})


def test_prompts_from_a_list_or_a_file_and_a_bare_string_is_refused(tmp_path):
    text = tmp_path / "prompts.txt"
    text.write_text("Is tea better than coffee?\n\nName a good book.\n")
    lines = tmp_path / "prompts.jsonl"
    lines.write_text('"Is tea better than coffee?"\n{"prompt": "Name a good book."}\n')
    agents = ["--agents", "template:style=concise", "template:style=detailed"]
    for given in (str(text), str(lines), '["Is tea better than coffee?", "Name a good book."]'):
        result = run_cli("play", "preference_game_v0", *agents, "-e", f"prompts={given}", "--seed", "1")
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[0] == "seats: player_0 = template:style=concise, player_1 = template:style=detailed"
        assert result.stdout.splitlines()[2] in ("Prompt: Is tea better than coffee?", "Prompt: Name a good book."), \
            result.stdout
    result = run_cli("play", "preference_game_v0", *agents, "-e", "prompts=Is tea better than coffee?")
    assert result.returncode == 2
    assert "prompts: 'Is tea better than coffee?' is not a file; give a list of prompts" in result.stderr


def test_read_prompts_names_what_is_wrong(tmp_path):
    from aligngames.datasets import read_prompts

    assert read_prompts(("a", "b")) == ("a", "b")
    (tmp_path / "bad.json").write_text('{"prompt": "a"}')
    with pytest.raises(ValueError, match=r"bad.json must hold a JSON list of prompts"):
        read_prompts(tmp_path / "bad.json")
    (tmp_path / "p.csv").write_text("a")
    with pytest.raises(ValueError, match=r"has suffix '.csv'; use .txt, .jsonl or .json"):
        read_prompts(tmp_path / "p.csv")
    with pytest.raises(ValueError, match=r"every prompt must be a non-empty string; the list has 3"):
        read_prompts(["a", 3])


def test_prompts_from_a_saved_hugging_face_dataset_folder(tmp_path):
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "dataset_info.json").write_text("{}")
    both = tmp_path / "dict"
    (both / "train").mkdir(parents=True)
    (both / "dataset_dict.json").write_text('{"splits": ["train"]}')
    with pytest.raises(ValueError, match="holds a DatasetDict; give one split's folder"):
        datasets.read_prompts(str(both))
    if datasets.pyarrow is None:  # not a dependency: the error says how to get the prompts out
        with pytest.raises(ValueError, match=r"reading it needs pyarrow.*to_json\('prompts.jsonl'\)"):
            datasets.read_prompts(str(saved))
    else:
        with pytest.raises(ValueError, match="no .arrow data files found"):
            datasets.read_prompts(str(saved))


def test_train_judge_does_not_overwrite_the_shipped_weights_by_default():
    result = subprocess.run([sys.executable, "-m", "aligngames.envs.red_team.train_judge", "--help"], capture_output=True,
                            text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "default: ./harm_classifier.safetensors" in " ".join(result.stdout.split())
