"""Damaged run folders: each kind of damage is either one named error line (the file, what is wrong, what
to do) or a recovery that gives exactly the bytes of an undamaged run.

Run folders of ``solve nash`` (the config and manifest checks, ``--force-new``, a second process), a tiny
language-model MPO run (checkpoint digests, ``metrics.jsonl`` marks), tabular PSRO (``checkpoint.json``,
``matches.jsonl``, an oracle's records and saved files) and a tournament (transcripts, ``matches.jsonl``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import _training
import pytest
import torch
import yaml

from aligngames.play.tournament import TournamentConfig, run_tournament
from aligngames.runs import DamagedFileError, RunFolder, RunFolderError, force_new_runs
from aligngames.solvers.population import psro
from aligngames.solvers.training.checkpoints import CheckpointError
from aligngames.solvers.training.preference_training.config import LanguagePreferenceConfig
from aligngames.solvers.training.preference_training.run_folder import run as run_mpo
from aligngames.solvers.training.settings import (
    GenerationSettings,
    LoRASettings,
    ModelSettings,
    TrainerSettings,
)

one_thread = _training.one_thread
tiny_model = _training.tiny_model

TIMING_KEYS = {"seconds", "sampling_seconds", "training_tokens_per_second"}
NASH = ["solve", "nash", "--env", "preference_game_v0", "-e", "mode=tabular", "-e", "scenario=food"]


def cli(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aligngames.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The CLI failed with exactly one line on stderr (no traceback); return it."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- config.yaml and manifest.json, --force-new, a second process (solve nash) --------------------------------

@pytest.fixture(scope="module")
def nash_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("nash") / "run"
    assert cli(*NASH, "--out", str(out)).returncode == 0
    return out


def _copy(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / folder.name
    shutil.copytree(folder, target, ignore=shutil.ignore_patterns(".lock"))
    return target


@pytest.mark.parametrize(("damage", "expected"), [
    (lambda run: (run / "config.yaml").unlink(), r"config.yaml is missing, so the run cannot be checked"),
    (lambda run: (run / "config.yaml").write_text((run / "config.yaml").read_text() + "# edited\n"),
     r"config.yaml was changed after the run started"),
    (lambda run: (run / "manifest.json").unlink(), r"manifest.json is missing, so the run cannot be checked"),
    (lambda run: (run / "manifest.json").write_text((run / "manifest.json").read_text()[:50]),
     r"manifest.json is damaged \(not valid JSON: .*, probably cut short\)"),
    (lambda run: (run / "manifest.json").write_text(""), r"manifest.json is damaged \(empty\)"),
])
def test_a_damaged_config_or_manifest_is_one_named_line_and_force_new_starts_afresh(nash_run, tmp_path, damage,
                                                                                    expected):
    run = _copy(nash_run, tmp_path)
    damage(run)
    line = one_error_line(cli(*NASH, "--out", str(run)))
    assert line.startswith(f"aligngames solve: error: {run}/")
    assert re.search(expected, line) and "--force-new" in line
    kept = {path.name: path.read_bytes() for path in run.iterdir() if path.is_file() and path.name != ".lock"}

    assert cli(*NASH, "--out", str(run), "--force-new").returncode == 0
    aside = run.with_name(f"{run.name}.replaced-1")
    moved = {path.name: path.read_bytes() for path in aside.iterdir() if path.is_file() and path.name != ".lock"}
    assert moved == kept  # nothing lost
    assert (run / "solution.json").read_bytes() == (nash_run / "solution.json").read_bytes()


def test_force_new_refuses_a_folder_that_is_not_a_run_and_one_in_use(nash_run, tmp_path):
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("mine")
    line = one_error_line(cli(*NASH, "--out", str(foreign), "--force-new"))
    assert "is not an aligngames run folder" in line and (foreign / "thesis.tex").exists()

    run = _copy(nash_run, tmp_path)
    config = yaml.safe_load((run / "config.yaml").read_text())
    with RunFolder.open(run, command="solve nash", config=config, seed=None):
        for extra in ((), ("--force-new",)):
            line = one_error_line(cli(*NASH, "--out", str(run), *extra))
            assert f"{run} is in use by another process (pid {os.getpid()})" in line
    assert not run.with_name(f"{run.name}.replaced-1").exists()


def test_force_new_through_the_library_moves_the_old_run_aside(nash_run, tmp_path):
    run = _copy(nash_run, tmp_path)
    config = yaml.safe_load((run / "config.yaml").read_text())
    with RunFolder.open(run, command="solve nash", config={**config, "settings": {}}, seed=None, force_new=True) as new:
        assert not new.resumed and sorted(p.name for p in run.iterdir()) == [".lock", "config.yaml", "manifest.json"]
    assert (run.with_name(f"{run.name}.replaced-1") / "solution.json").is_file()


def test_force_new_runs_moves_each_folder_aside_once(nash_run, tmp_path):
    """What --force-new does: the first open of a folder in the block starts afresh, a later one resumes it."""
    run = _copy(nash_run, tmp_path)
    config = yaml.safe_load((run / "config.yaml").read_text())
    with force_new_runs():
        with RunFolder.open(run, command="solve nash", config=config, seed=None) as first:
            first.write_json("solution.json", {"new": True})
        with RunFolder.open(run, command="solve nash", config=config, seed=None) as second:
            assert second.resumed
    assert json.loads((run / "solution.json").read_text()) == {"new": True}
    assert not run.with_name(f"{run.name}.replaced-2").exists()
    with RunFolder.open(run, command="solve nash", config=config, seed=None) as outside:  # no block: resumed
        assert outside.resumed


# --- language-model MPO: checkpoints and metrics.jsonl --------------------------------------------------------

ENV_KWARGS = {"mode": "language", "max_answer_length": 40}


def tiny_mpo_config(model: str) -> LanguagePreferenceConfig:
    return LanguagePreferenceConfig(
        inner_steps=3, outer_steps=1, prompts_per_step=2, samples_per_prompt=2, eval_episodes=2,
        model=ModelSettings(model), lora=LoRASettings(rank=4),
        trainer=TrainerSettings(learning_rate=0.01, epochs=1, micro_batch_size=4),
        generation=GenerationSettings(max_new_tokens=4))


@pytest.fixture(scope="module")
def mpo_runs(tiny_model, tmp_path_factory) -> tuple[Path, Path, LanguagePreferenceConfig]:
    """``whole``: 3 uninterrupted steps; ``base``: stopped after 2 (checkpoints step_000001 and step_000002)."""
    root = tmp_path_factory.mktemp("mpo")
    config = tiny_mpo_config(tiny_model)
    run_mpo(config, "preference_game_v0", ENV_KWARGS, root / "whole")
    run_mpo(config, "preference_game_v0", ENV_KWARGS, root / "base", stop_after=2)
    return root / "whole", root / "base", config


def _metrics(folder: Path) -> list[dict]:
    lines = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return [{key: value for key, value in line.items() if key not in TIMING_KEYS} for line in lines]


def _assert_finished_like(run: Path, whole: Path, base: Path, kept_lines: int = 2) -> None:
    """The resumed run's records start with the base run's exact bytes (the ``kept_lines`` lines of the checkpoint
    it resumed from) and end like the uninterrupted run (the same numbers but timings, the same adapter)."""
    from safetensors.torch import load_file

    base_lines = (base / "metrics.jsonl").read_bytes().splitlines(keepends=True)
    assert (run / "metrics.jsonl").read_bytes().splitlines(keepends=True)[:kept_lines] == base_lines[:kept_lines]
    assert _metrics(run) == _metrics(whole)
    name = "adapters/policy/adapter_model.safetensors"
    first, second = load_file(run / name), load_file(whole / name)
    assert first.keys() == second.keys() and all(torch.equal(first[key], second[key]) for key in first)


def _zero(path: Path) -> None:
    path.write_bytes(bytes(path.stat().st_size))


def _cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize(("relative", "damage", "expected"), [
    ("weights/policy/adapter_model.safetensors", _zero, "is damaged (its sha256 differs"),
    ("tensors.safetensors", _cut, "is damaged (its sha256 differs"),
    ("state.json", lambda path: path.write_text(""), "is damaged (its sha256 differs"),
    ("checkpoint.json", _cut, "is damaged (not valid JSON"),
    ("weights/policy/adapter_model.safetensors", lambda path: path.unlink(), "is missing (it is listed"),
])
def test_a_damaged_checkpoint_names_the_file_and_deleting_it_resumes_from_the_previous(mpo_runs, tmp_path, relative,
                                                                                       damage, expected):
    whole, base, config = mpo_runs
    run = _copy(base, tmp_path)
    damage(run / "checkpoints" / "step_000002" / relative)
    with pytest.raises(CheckpointError) as caught:
        run_mpo(config, "preference_game_v0", ENV_KWARGS, run)
    message = str(caught.value)
    assert "\n" not in message and f"checkpoints/step_000002/{relative} {expected}" in message
    assert f"delete {run}/checkpoints/step_000002 to resume from the previous checkpoint (step_000001)" in message
    if relative == "weights/policy/adapter_model.safetensors" and damage is _zero:  # follow the advice once
        shutil.rmtree(run / "checkpoints" / "step_000002")
        run_mpo(config, "preference_game_v0", ENV_KWARGS, run)
        _assert_finished_like(run, whole, base, kept_lines=1)  # step 2 was redone


@pytest.mark.slow
def test_a_damaged_checkpoint_is_one_line_through_the_cli(mpo_runs, tmp_path):
    _, base, config = mpo_runs
    run = _copy(base, tmp_path)
    _zero(run / "checkpoints" / "step_000002" / "tensors.safetensors")
    arguments = ["solve", "mpo", "--env", "preference_game_v0", "-e", "mode=language", "-e", "max_answer_length=40",
                 "--out", str(run), "--model.name", config.model.name, "--inner-steps", "3", "--outer-steps", "1",
                 "--prompts-per-step", "2", "--samples-per-prompt", "2", "--eval-episodes", "2", "--lora.rank", "4",
                 "--trainer.learning-rate", "0.01", "--trainer.epochs", "1", "--trainer.micro-batch-size", "4",
                 "--generation.max-new-tokens", "4"]
    line = one_error_line(cli(*arguments, timeout=300))
    assert line == (f"aligngames solve: error: {run}/checkpoints/step_000002/tensors.safetensors is damaged (its "
                    f"sha256 differs from the one recorded when it was written); delete {run}/checkpoints/step_000002 "
                    f"to resume from the previous checkpoint (step_000001), or start afresh with --force-new (the old "
                    f"folder is moved aside)")


def test_an_old_style_checkpoint_with_a_missing_key_or_bad_tensors_is_named(mpo_runs, tmp_path):
    """Checkpoints from before digests (no checkpoint.json) are still checked as they load."""
    _, base, config = mpo_runs
    run = _copy(base, tmp_path)
    folder = run / "checkpoints" / "step_000002"
    (folder / "checkpoint.json").unlink()
    state = json.loads((folder / "state.json").read_text())
    del state["steps"]
    (folder / "state.json").write_text(json.dumps(state))
    with pytest.raises(DamagedFileError, match=r"step_000002/state.json is damaged \(key 'steps' is missing\); delete"):
        run_mpo(config, "preference_game_v0", ENV_KWARGS, run)
    (folder / "state.json").write_text(json.dumps({**state, "steps": 2}))
    _zero(folder / "tensors.safetensors")
    with pytest.raises(CheckpointError, match=r"step_000002/tensors.safetensors is damaged \(not a readable safetensors"):
        run_mpo(config, "preference_game_v0", ENV_KWARGS, run)


@pytest.mark.parametrize("damage", ["half_written_last_line", "lost_last_line", "later_torn_line",
                                    "latest_json_cut", "latest_json_stale"])
def test_metrics_and_latest_json_are_put_back_exactly(mpo_runs, tmp_path, damage):
    """The line of a checkpointed step that was cut off or lost is written again from the checkpoint (the same
    bytes); a torn line after it is dropped and its step redone; latest.json only points, and is rewritten."""
    whole, base, config = mpo_runs
    run = _copy(base, tmp_path)
    metrics = run / "metrics.jsonl"
    data = metrics.read_bytes()
    last = data[:-1].rfind(b"\n") + 1  # the start of step 2's line
    if damage == "half_written_last_line":
        metrics.write_bytes(data[:last + 20])
    elif damage == "lost_last_line":
        metrics.write_bytes(data[:last])
    elif damage == "later_torn_line":
        metrics.write_bytes(data + b'{"step": 3, "rew')
    elif damage == "latest_json_cut":
        (run / "checkpoints" / "latest.json").write_text('{"step": 2, "fol')
    else:
        (run / "checkpoints" / "latest.json").write_text('{"step": 1, "folder": "step_000001"}')
    run_mpo(config, "preference_game_v0", ENV_KWARGS, run)
    _assert_finished_like(run, whole, base)
    assert json.loads((run / "checkpoints" / "latest.json").read_text()) == {"folder": "step_000003", "step": 3}


def test_damage_before_the_last_checkpointed_line_is_named(mpo_runs, tmp_path):
    _, base, config = mpo_runs
    run = _copy(base, tmp_path)
    metrics = run / "metrics.jsonl"
    metrics.write_text(metrics.read_text().replace('"step": 1', '"step": 7', 1))
    with pytest.raises(DamagedFileError) as caught:
        run_mpo(config, "preference_game_v0", ENV_KWARGS, run)
    assert f"{metrics} is damaged (its first " in str(caught.value)
    assert "delete" in str(caught.value) and "step_000002 to resume from the previous checkpoint" in str(caught.value)


# --- PSRO: checkpoint.json, matches.jsonl, an oracle's records and saved files ----------------------------------

def psro_config(iterations: int) -> psro.PSROConfig:
    return psro.PSROConfig("preference_game_v0", {"mode": "tabular", "scenario": "food"},
                           settings=psro.PSROSettings(iterations=iterations, meta_solver="uniform", episodes=4))


class LoggingOracle(psro.ExactBestResponse):
    """The exact oracle, with a record line per call and a saved file per seat (as a trained oracle has)."""

    def __init__(self, out: Path) -> None:
        exact = psro.ExactBestResponse.from_env("preference_game_v0", {"mode": "tabular", "scenario": "food"})
        super().__init__(exact.game, exact.seats)
        self.out = out

    def best_response(self, seat, mixtures):
        name, spec = super().best_response(seat, mixtures)
        (self.out / "saved").mkdir(parents=True, exist_ok=True)
        (self.out / "saved" / f"{seat}.{len(mixtures[seat])}.txt").write_text(name)
        with open(self.out / "calls.jsonl", "a") as file:
            file.write(json.dumps({"seat": seat, "size": len(mixtures[seat]), "choice": name}) + "\n")
        return name, spec

    def records(self):
        return {"calls.jsonl": self.out / "calls.jsonl"}

    def saved_folders(self):
        return [self.out / "saved"]


PSRO_FILES = ("checkpoint.json", "matches.jsonl", "solution.json", "trace.json", "calls.jsonl")


@pytest.fixture(scope="module")
def psro_runs(tmp_path_factory) -> tuple[Path, Path]:
    """``whole``: 4 epochs uninterrupted; ``base``: 2 epochs (a later run may extend ``iterations``)."""
    root = tmp_path_factory.mktemp("psro")
    for name, iterations in (("whole", 4), ("base", 2)):
        psro.run(psro_config(iterations), root / name, oracle=LoggingOracle(root / name))
    return root / "whole", root / "base"


def _psro_files(run: Path) -> dict[str, bytes]:
    return {name: (run / name).read_bytes() for name in PSRO_FILES}


@pytest.mark.parametrize("damage", ["half_written_matches_line", "matches_cut_into_the_epoch", "oracle_call_after_it",
                                    "no_checkpoint"])
def test_psro_records_are_put_back_and_the_run_ends_byte_identical(psro_runs, tmp_path, damage):
    whole, base = psro_runs
    run = _copy(base, tmp_path)
    matches, calls = run / "matches.jsonl", run / "calls.jsonl"
    checkpoint = json.loads((run / "checkpoint.json").read_text())
    marked = checkpoint["lines"]["matches.jsonl"]["bytes"]
    if damage == "half_written_matches_line":  # the last line of the checkpointed epoch, cut off
        matches.write_bytes(matches.read_bytes()[:marked - 30])
    elif damage == "matches_cut_into_the_epoch":
        matches.write_bytes(matches.read_bytes()[:checkpoint["lines"]["matches.jsonl"]["tail_from"] + 5])
    elif damage == "oracle_call_after_it":  # a call of the next epoch, made before a kill
        with open(calls, "a") as file:
            file.write('{"seat": "player_0", "size": 9, "choice": "cut off"}\n{"seat": "pla')
    else:  # checkpoint.json deleted, as its error message suggests: PSRO starts again and reuses the matches
        (run / "checkpoint.json").unlink()
    psro.run(psro_config(4), run, oracle=LoggingOracle(run))
    assert _psro_files(run) == _psro_files(whole)


@pytest.mark.parametrize(("damage", "expected"), [
    (lambda run: _cut(run / "checkpoint.json"), r"checkpoint.json is damaged \(not valid JSON"),
    (lambda run: (run / "checkpoint.json").write_text(json.dumps(
        {k: v for k, v in json.loads((run / "checkpoint.json").read_text()).items() if k not in ("epoch", "sha256")})),
     r"checkpoint.json is damaged \(key 'epoch' is missing\)"),
    (lambda run: (run / "checkpoint.json").write_text(
        (run / "checkpoint.json").read_text().replace('"converged": false', '"converged": true')),
     r"checkpoint.json is damaged \(its content does not match the digest written with it\)"),
    (lambda run: (run / "saved" / "player_0.2.txt").write_text("edited"),
     r"saved/player_0.2.txt is damaged \(its sha256 differs"),
    (lambda run: (run / "matches.jsonl").write_text("\n" + (run / "matches.jsonl").read_text()[1:]),
     r"matches.jsonl is damaged \(its first \d+ bytes are different from what the checkpoint recorded\)"),
])
def test_a_damaged_psro_checkpoint_or_record_is_named(psro_runs, tmp_path, damage, expected):
    _, base = psro_runs
    run = _copy(base, tmp_path)
    damage(run)
    with pytest.raises(DamagedFileError, match=expected) as caught:
        psro.run(psro_config(4), run, oracle=LoggingOracle(run))
    assert "\n" not in str(caught.value) and "--force-new" in str(caught.value)


# --- tournaments: transcripts and matches.jsonl -------------------------------------------------------------------

TOURNAMENT = {"env": "preference_game_v0", "env_kwargs": {"mode": "tabular", "scenario": "food"},
              "agents": {"burger": {"type": "constant", "kwargs": {"action": 0}}, "uniform": {"type": "random"}},
              "episodes": 6, "seed": 1}


@pytest.fixture(scope="module")
def tournament_run(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tournament")
    (root / "config.yaml").write_text(yaml.safe_dump(TOURNAMENT))
    run_tournament(TournamentConfig.from_yaml(root / "config.yaml"), root / "run", progress=False)
    return root / "config.yaml", root / "run"


def _tournament_files(run: Path) -> dict[str, bytes]:
    return {path.relative_to(run).as_posix(): path.read_bytes() for path in sorted(run.rglob("*"))
            if path.is_file() and path.name not in ("manifest.json", ".lock", "payoffs.png")}


@pytest.mark.parametrize("damage", ["deleted_transcript", "truncated_transcript", "half_written_matches_line"])
def test_a_damaged_transcript_or_match_line_is_played_again_byte_identical(tournament_run, tmp_path, damage):
    config_path, reference = tournament_run
    run = _copy(reference, tmp_path)
    transcript = run / "transcripts" / "match_0002.jsonl"
    if damage == "deleted_transcript":
        transcript.unlink()
    elif damage == "truncated_transcript":
        _cut(transcript)
    else:
        matches = run / "matches.jsonl"
        matches.write_bytes(matches.read_bytes()[:-25])
    result = cli("tournament", str(config_path), "--out", str(run), "--quiet")
    assert result.returncode == 0, result.stderr
    assert _tournament_files(run) == _tournament_files(reference)


def test_run_folder_errors_are_the_named_classes():
    assert issubclass(CheckpointError, DamagedFileError) and issubclass(DamagedFileError, RunFolderError)
