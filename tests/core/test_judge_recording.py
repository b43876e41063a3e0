"""Recording judge calls and replaying a run from them: identical answers, no judge built on replay, a named error
for a call that was never recorded, and a tournament replayed from its records with identical payoffs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aligngames import registry
from aligngames.judges import HarmJudge, PreferenceJudge
from aligngames.judges import recording as rec

ROOT = Path(__file__).resolve().parents[2]
PROMPTS, FIRST, SECOND = ["Is tea better than coffee?"], ["Tea."], ["Tea, because it has less caffeine, for example."]


def test_record_then_replay_gives_the_same_answers(tmp_path):
    with rec.recording(tmp_path):
        judge = registry.make_judge("features")
        harm = registry.make_judge("pattern_harm")
        assert isinstance(judge, PreferenceJudge) and isinstance(harm, HarmJudge)
        preference = judge.compare(PROMPTS, FIRST, SECOND)
        score = harm.score(PROMPTS, ["Sure, here is how to do it."])
        assert judge.beta == 3.0  # the judge's own attributes pass through
    lines = [json.loads(line) for file in (tmp_path / "judge_calls").glob("*.jsonl") for line in file.read_text().splitlines()]
    assert {line.get("made") for line in lines if "made" in line} == {"features", "pattern_harm"}
    with rec.replaying(tmp_path):
        replayed = registry.make_judge("features")
        assert type(replayed).__name__ == "ReplayPreferenceJudge" and replayed.identity == judge.identity
        np.testing.assert_array_equal(replayed.compare(PROMPTS, FIRST, SECOND), preference)
        np.testing.assert_array_equal(registry.make_judge("pattern_harm").score(PROMPTS, ["Sure, here is how to do it."]),
                                      score)
        with pytest.raises(rec.UnrecordedJudgeCallError, match=r"this compare\(\) call on 1 inputs was never recorded"):
            replayed.compare(PROMPTS, SECOND, FIRST)
        with pytest.raises(rec.UnrecordedJudgeCallError, match="judge 'features' with {'beta': 1.0} was never made"):
            registry.make_judge("features", {"beta": 1.0})


def test_replay_builds_no_judge(tmp_path):
    # records written by hand for a judge whose model does not exist here: the replay never loads it
    identity = "hf_harm:/nowhere/model"
    key = rec.call_key(identity, "score", [PROMPTS, ["an answer"]])
    calls = tmp_path / "judge_calls"
    calls.mkdir()
    (calls / "1.jsonl").write_text(
        json.dumps({"made": "hf_harm", "kwargs": {"path": "/nowhere/model"}, "identity": identity, "kind": "harm"}) + "\n"
        + json.dumps({"key": key, "identity": identity, "method": "score", "output": [0.25]}) + "\n")
    with rec.replaying(tmp_path):
        judge = registry.make_judge("hf_harm", {"path": "/nowhere/model"}, expected=HarmJudge)
        assert judge.score(PROMPTS, ["an answer"]).tolist() == [0.25]
    empty = tmp_path / "empty"
    empty.mkdir()
    with rec.replaying(empty), pytest.raises(FileNotFoundError, match="has no recorded judge calls"):
        registry.make_judge("features")


def _tournament(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aligngames.cli", "tournament", "examples/preference_tournament.yaml",
                           "--quiet", *args], capture_output=True, text=True, timeout=600, cwd=ROOT)


def test_a_tournament_replayed_from_its_judge_calls(tmp_path):
    first, second = tmp_path / "recorded", tmp_path / "replayed"
    result = _tournament("--out", str(first), "--record-judges", "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert list((first / "judge_calls").glob("*.jsonl"))
    result = _tournament("--out", str(second), "--replay-judges", str(first))
    assert result.returncode == 0, result.stderr
    assert (second / "payoffs.json").read_bytes() == (first / "payoffs.json").read_bytes()
    result = _tournament("--out", str(tmp_path / "other"), "--replay-judges", str(first), "--seed", "5")
    assert result.returncode == 2 and "was never recorded" in result.stderr
