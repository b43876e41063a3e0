"""RunFolder: one writer of config.yaml and manifest.json, resume checks, the lock, named errors."""

import json
import multiprocessing

import pytest
import yaml

from aligngames.runs import RunFolder, RunFolderError, config_differences

CONFIG = {"env": "preference_game_v0", "seed": 0, "settings": {"episodes": 24, "workers": 1}}


def _open(path, config=CONFIG, command="tournament", **kwargs):
    return RunFolder.open(path, command=command, config=config, seed=0, **kwargs)


def test_a_new_run_records_config_manifest_and_digest(tmp_path):
    with _open(tmp_path / "run") as run:
        run.append("matches.jsonl", {"match": 0})
        assert not run.resumed
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text()) == CONFIG
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["run_command"] == "tournament" and manifest["seed"] == 0
    assert len(manifest["config_sha256"]) == 64 and "numpy" in manifest["packages"]


def test_resume_with_the_same_config_keeps_the_records(tmp_path):
    with _open(tmp_path / "run") as run:
        run.append("matches.jsonl", {"match": 0})
    with _open(tmp_path / "run") as run:
        assert run.resumed
        assert run.read("matches.jsonl") == [{"match": 0}]
    assert len(json.loads((tmp_path / "run" / "manifest.json").read_text())["resumed_from"]) == 1


def test_resume_removes_what_a_killed_atomic_write_left(tmp_path):
    """A kill -9 inside atomic_write_* leaves its hidden temporary file; the resumed run removes it."""
    with _open(tmp_path / "run") as run:
        run.append("matches.jsonl", {"match": 0})
    (tmp_path / "run" / "transcripts").mkdir()
    leftover = tmp_path / "run" / "transcripts" / ".match_0001.jsonl.x1y2z3.tmp"
    leftover.write_text('{"turn": 0')
    (tmp_path / "run" / "transcripts" / "match_0000.jsonl").write_text("{}\n")
    with _open(tmp_path / "run"):
        pass
    assert not leftover.exists()
    assert (tmp_path / "run" / "transcripts" / "match_0000.jsonl").read_text() == "{}\n"


def test_a_different_config_is_refused_naming_the_setting(tmp_path):
    _open(tmp_path / "run").close()
    changed = {**CONFIG, "settings": {"episodes": 10, "workers": 1}}
    with pytest.raises(RunFolderError, match=r"settings\.episodes: 24 there, 10 now"):
        _open(tmp_path / "run", changed)
    allowed = {**CONFIG, "settings": {"episodes": 24, "workers": 4}}
    _open(tmp_path / "run", allowed, may_differ=("settings.workers",)).close()


def test_an_edited_or_deleted_config_is_refused(tmp_path):
    _open(tmp_path / "run").close()
    config = tmp_path / "run" / "config.yaml"
    config.write_text(config.read_text().replace("24", "10"))
    changed = {**CONFIG, "settings": {"episodes": 10, "workers": 1}}
    with pytest.raises(RunFolderError, match="config.yaml was changed after the run started"):
        _open(tmp_path / "run", changed)
    config.unlink()
    with pytest.raises(RunFolderError, match="config.yaml is missing"):
        _open(tmp_path / "run")


def test_another_command_and_foreign_folders_are_refused(tmp_path):
    _open(tmp_path / "run").close()
    with pytest.raises(RunFolderError, match="holds a run of `aligngames tournament`"):
        _open(tmp_path / "run", command="solve nash")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(RunFolderError, match="not an aligngames run folder"):
        _open(tmp_path / "mine")
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunFolderError, match="is a file"):
        _open(tmp_path / "file")


def test_a_damaged_manifest_is_named(tmp_path):
    _open(tmp_path / "run").close()
    (tmp_path / "run" / "manifest.json").write_text('{"seed": 0, "cre')
    with pytest.raises(RunFolderError, match=r"manifest.json is damaged \(not valid JSON"):
        _open(tmp_path / "run")


def _hold(path, ready, release):
    with _open(path):
        ready.set()
        release.wait(30)


def test_a_second_process_is_refused_with_the_holders_pid(tmp_path):
    context = multiprocessing.get_context("spawn")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold, args=(tmp_path / "run", ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        with pytest.raises(RunFolderError, match=rf"in use by another process \(pid {holder.pid}\)"):
            _open(tmp_path / "run")
    finally:
        release.set()
        holder.join(30)
    _open(tmp_path / "run").close()  # free again once the holder is done


def test_config_differences_cover_nested_keys():
    assert config_differences({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}}) == ["a.c"]
    assert config_differences({"a": {"b": 1}}, {"a": {"b": 2}}, may_differ=("a",)) == []
    assert config_differences({"a": 1}, {"a": 1, "b": 2}) == ["b"]
