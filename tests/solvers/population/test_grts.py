"""GRTS on red_team_v0 (PSRO with a diversity bonus) and PSRO on the tabular mode."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

import aligngames
from aligngames.agent import AgentSpec
from aligngames.solvers.equilibrium.nash import solve_zero_sum
from aligngames.solvers.population import grts, psro

SMALL = {
    "env_kwargs": {"rounds": 2, "benign_rate": 0.25, "helpfulness_weight": 1.0, "helpfulness_zero_sum": True,
                   "judge": "embedding_harm"},
    "themes": ["weapons", "fraud"],
    "methods": ["direct", "role_play", "obfuscation"],
    "guard_sets": [["keywords"], ["jailbreak"], ["decoder"], ["keywords", "jailbreak", "decoder"]],
    "diversity_weight": 0.1,
    "settings": {"iterations": 3, "meta_solver": "nash", "episodes": 2, "seed": 0},
}


def small_config(**changes) -> grts.GRTSConfig:
    from aligngames.config import from_mapping

    return from_mapping(grts.GRTSConfig, {**SMALL, **changes}, "test")


@pytest.fixture(scope="module")
def grts_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("grts")
    summary = grts.run(small_config(), out)
    return out, summary


def test_grts_run_folder_has_every_output(grts_run):
    out, summary = grts_run
    for name in ("config.yaml", "manifest.json", "checkpoint.json", "matches.jsonl", "solution.json", "trace.json",
                 "best_responses.jsonl", "diversity.json", "attack_success.json", "attack_success.png",
                 "meta_game.json", "grts.json", "grts.png", "tournament/payoffs.json", "tournament/report.md"):
        assert (out / name).is_file(), name
    assert list((out / "tournament" / "transcripts").glob("match_*.jsonl"))
    diversity = json.loads((out / "diversity.json").read_text())
    assert len(diversity["red_population_diversity"]) == summary["epochs"] + 1
    assert diversity["red_population_diversity"][0] == 0.0  # one member
    success = json.loads((out / "attack_success.json").read_text())
    assert set(success["success_by_theme"]) == {"weapons", "fraud"}
    assert set(success["success_by_method"]) == {"direct", "role_play", "obfuscation"}
    assert success["blue_over_refusal"]  # measured for every blue member
    refusers = [name for name in success["blue_over_refusal"] if "refuse_all" in name]
    assert all(success["blue_over_refusal"][name] == 1.0 for name in refusers)


def test_grts_nash_mixtures_solve_the_recorded_meta_game(grts_run):
    out, summary = grts_run
    meta = json.loads((out / "meta_game.json").read_text())
    red = np.array(meta["mean"]["red_0"])
    np.testing.assert_allclose(red, -np.array(meta["mean"]["blue"]), atol=1e-9)  # zero-sum
    solution = solve_zero_sum(red)  # the LP, independently of PSRO's bookkeeping
    assert summary["nash_value_red"] == pytest.approx(solution.value, abs=1e-6)
    for seat, names in (("red_0", meta["rows"]), ("blue", meta["columns"])):
        mixture = np.array([meta["nash"][seat][name] for name in names])
        assert mixture.sum() == pytest.approx(1.0) and np.all(mixture >= -1e-12)
    # the replayed tournament agrees with the meta-game table (same seeds, same matches)
    payoffs = json.loads((out / "tournament" / "payoffs.json").read_text())
    np.testing.assert_allclose(np.array(payoffs["mean"]["red_0"]), red, atol=1e-9)


def test_candidate_game_nash_conv_is_the_best_response_gain(grts_run):
    """The recorded NashConv on the candidate game, recomputed from match payoffs by brute force."""
    out, summary = grts_run
    oracle = grts.GRTSOracle(small_config())
    state = json.loads((out / "checkpoint.json").read_text())
    agents = {name: AgentSpec(**data) for name, data in state["agents"].items()}
    sigma = summary["nash"]
    members = {seat: [agents[name] for name in sigma[seat]] for seat in sigma}
    reds = list({grts.spec_key(s): s for s in [*oracle.red_candidates.values(), *members["red_0"]]}.values())
    blues = list({grts.spec_key(s): s for s in [*oracle.blue_candidates.values(), *members["blue"]]}.values())
    table = np.array([[oracle.match(r, b).mean["red_0"] for b in blues] for r in reds])  # zero-sum: blue = -red
    red_mix = np.zeros(len(reds))
    blue_mix = np.zeros(len(blues))
    for name, p in sigma["red_0"].items():
        red_mix[[grts.spec_key(r) for r in reds].index(grts.spec_key(agents[name]))] += p
    for name, p in sigma["blue"].items():
        blue_mix[[grts.spec_key(b) for b in blues].index(grts.spec_key(agents[name]))] += p
    value = red_mix @ table @ blue_mix
    expected = max((table @ blue_mix).max() - value, 0) + max((-(red_mix @ table)).max() + value, 0)
    assert summary["candidate_game_nash_conv"][-1] == pytest.approx(expected, abs=1e-9)
    assert all(gap >= 0 for gap in summary["candidate_game_nash_conv"])


def test_diversity_is_the_mean_pairwise_cosine_distance(grts_run):
    out, _ = grts_run
    oracle = grts.GRTSOracle(small_config())
    state = json.loads((out / "checkpoint.json").read_text())
    names = json.loads((out / "meta_game.json").read_text())["rows"]
    vectors = [oracle.embedding(AgentSpec(**state["agents"][name])) for name in names]
    pairs = [1.0 - float(a @ b) for a, b in itertools.combinations(vectors, 2)]
    recorded = json.loads((out / "diversity.json").read_text())["red_population_diversity"][-1]
    assert recorded == pytest.approx(float(np.mean(pairs)), abs=1e-6)
    assert all(np.linalg.norm(v) == pytest.approx(1.0, abs=1e-6) for v in vectors)


def test_grts_resumes_to_the_same_result(grts_run, tmp_path):
    out, summary = grts_run
    again = grts.run(small_config(), out)  # the checkpoint says it is done: nothing new is played
    assert again == json.loads(json.dumps(summary))


def test_progress_bars_do_not_change_the_result(grts_run, tmp_path, capsys):
    """The CLI's path (progress bars over candidates) plays the same matches as the quiet one."""
    _, summary = grts_run
    assert grts.run(small_config(), tmp_path, progress=True) == json.loads(json.dumps(summary))
    assert "best response" in capsys.readouterr().err


def test_grts_converges_where_the_candidate_game_nash_conv_reaches_the_tolerance(tmp_path):
    """SMALL reaches NashConv 0 on the candidate game at the fourth meta-solve (epoch 3); the diversity bonus
    would still add red policies (with ``nash_conv_tolerance: null`` the run goes on to epoch 5, all at
    NashConv 0). The CLI stops there and says why."""
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    config = {**SMALL, "settings": {**SMALL["settings"], "iterations": 8}}
    (tmp_path / "grts.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run([sys.executable, "-m", "aligngames.cli", "solve", "grts", "--config",
                             str(tmp_path / "grts.yaml"), "--out", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parents[3])
    assert result.returncode == 0, result.stderr
    assert "GRTS: 3 epochs (converged: full-game NashConv <= tolerance 1e-09); NashConv on the candidate game 0;" \
        in result.stdout
    summary = json.loads((tmp_path / "run" / "grts.json").read_text())
    nash_conv = summary["candidate_game_nash_conv"]
    assert summary["converged"] and summary["criterion"] == psro.NASH_CONV_WITHIN_TOLERANCE
    assert nash_conv[-1] <= 1e-9 < min(nash_conv[:-1])  # stopped at the first meta-solve within the tolerance
    assert summary["epochs"] == len(nash_conv) - 1 == 3


def test_diversity_bonus_by_hand():
    east, north = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert grts.diversity_bonus(east, np.stack([north])) == pytest.approx(1.0)
    assert grts.diversity_bonus(east, np.stack([east, north])) == pytest.approx(0.5)
    assert grts.diversity_bonus(east, np.zeros((0, 2))) == 0.0


def test_the_bonus_breaks_ties_toward_the_most_different_attack():
    """Against refuse-everything every red candidate is worth the same (the lexical judge gives a
    refusal exactly 0); without the bonus the first candidate wins, with it the one farthest from the
    population."""
    initial = AgentSpec("red_teamer", {"theme": "weapons", "method": "direct"})
    mixtures = {"red_0": [(initial, 1.0)], "blue": [(AgentSpec("refusing_blue"), 1.0)]}
    env_kwargs = {**SMALL["env_kwargs"], "judge": "pattern_harm"}
    plain = grts.GRTSOracle(small_config(diversity_weight=0.0, env_kwargs=env_kwargs))
    values = {plain.value("red_0", spec, mixtures["blue"]) for spec in plain.red_candidates.values()}
    assert len(values) == 1
    name, _ = plain.best_response("red_0", mixtures)
    assert name == "red:weapons/direct"
    diverse = grts.GRTSOracle(small_config(diversity_weight=1.0, env_kwargs=env_kwargs))
    name, _ = diverse.best_response("red_0", mixtures)
    distances = {n: grts.diversity_bonus(diverse.embedding(s), diverse.embedding(initial)[None])
                 for n, s in diverse.red_candidates.items()}
    assert name == max(distances, key=distances.get) and name != "red:weapons/direct"


def test_grts_refuses_settings_it_cannot_solve():
    from aligngames.config import ConfigError

    with pytest.raises(ConfigError, match="one red agent"):
        small_config(env_kwargs={"num_red": 2, "judge": "pattern_harm"})
    with pytest.raises(ConfigError, match="tabular"):
        small_config(env_kwargs={"mode": "tabular"})
    with pytest.raises(ValueError, match="zero-sum"):  # helpfulness paid to blue only: general-sum
        grts.run(small_config(env_kwargs={"rounds": 1, "benign_rate": 0.5, "helpfulness_weight": 1.0,
                                          "judge": "pattern_harm"}), "/tmp/never-written-grts")


def test_psro_on_the_tabular_mode_reaches_the_lp_value(tmp_path):
    kwargs = {"mode": "tabular", "themes": ["weapons", "theft"], "rounds": 1}
    game = aligngames.make("red_team_v0", **kwargs).unwrapped.matrix_game()
    exact = solve_zero_sum(game.payoffs[0])
    result = psro.solve_matrix(game, meta_solver="nash", iterations=40)
    assert result.nash_conv[-1] == pytest.approx(0.0, abs=1e-9)
    assert float(result.row @ game.payoffs[0] @ result.col) == pytest.approx(exact.value, abs=1e-9)
    # and over the env itself, meta-games estimated by play (deterministic without benign rounds)
    run = psro.run(psro.PSROConfig("red_team_v0", kwargs, settings=psro.PSROSettings(iterations=20, episodes=1)),
                   tmp_path / "psro")
    assert run.nash_conv[-1] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("path", ["examples/red_team_tournament.yaml", "examples/red_team_llm.yaml"])
def test_example_tournament_configs_resolve(path):
    from pathlib import Path

    from aligngames.play.tournament import TournamentConfig

    config = TournamentConfig.from_yaml(Path(__file__).resolve().parents[3] / path).resolve()
    assert set(config.seats) == {"red_0", "blue"}


def test_example_grts_config_loads():
    from pathlib import Path

    config = grts.load_config(Path(__file__).resolve().parents[3] / "examples/red_team_grts.yaml", iterations=2)
    assert config.settings.iterations == 2 and config.settings.meta_solver == "nash"
    assert len(config.red_candidates()) == 128 and len(config.blue_candidates()) == 17
