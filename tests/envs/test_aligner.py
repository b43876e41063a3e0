"""aligner_v0: the env plays what the solver predicts (the tilt corrector's mean reward is the composite's expected
reward), pays the team r(y') and red -r(y'), shows the corrector (x, y) in Aligner's layout, checks its tables and
actions, and scores text corrections with the judge over a multi-turn dialogue."""

from __future__ import annotations

import numpy as np
import pytest

import aligngames
from aligngames.agents.aligner import CopyCorrector, RedTable, TiltCorrector, UpstreamTable
from aligngames.envs.aligner import correction_prompt
from aligngames.envs.aligner.problems import build
from aligngames.judges import make_preference_judge
from aligngames.play.rollout import play_episodes
from aligngames.solvers.exact.aligner import solve
from aligngames.tables import NotADistributionError, TableShapeError


def _play(env, players):
    for agent in env.agent_iter():
        observation, _reward, termination, truncation, info = env.last()
        env.step(None if termination or truncation else players[agent].act(observation, agent, env.action_space(agent), info))
    return env.unwrapped.record()


def test_the_tilt_corrector_earns_the_composites_expected_reward():
    players = {"policy": UpstreamTable(), "corrector": TiltCorrector()}
    for seed, player in enumerate(players.values()):  # distinct streams: two agents seeded alike draw the same numbers
        player.reset(seed + 1)
    episodes = play_episodes(lambda: aligngames.make("aligner_v0", example="three_answers", rounds=10), players,
                             list(range(60)))
    rewards = np.array([entry["reward"] for episode in episodes for entry in episode.record["rounds"]])
    # exact 0.7703; rewards lie in [0, 1], so the standard error of a 600-round mean is below 0.02
    assert abs(rewards.mean() - solve(build("three_answers")).expected_rewards[0]) < 0.06
    # with a copying corrector the reward is the upstream's own: 0.45 exactly in expectation
    copy = play_episodes(lambda: aligngames.make("aligner_v0", example="three_answers", rounds=10),
                         {"policy": UpstreamTable(), "corrector": CopyCorrector()}, list(range(60)))
    for episode in copy:
        for entry in episode.record["rounds"]:
            assert entry["correction"] == entry["answer"] and entry["reward"] == entry["answer_reward"]


def test_the_corrector_sees_the_answer_and_the_team_is_paid_the_corrected_reward():
    env = aligngames.make("aligner_v0", mode="tabular", rewards=[0.0, 0.5, 1.0], upstream=[0.3, 0.5, 0.2],
                          eps=0.2, beta=0.25, answers=["wrong", "partial", "correct"], rounds=2)
    env.reset(seed=0)
    assert env.agent_selection == "policy"
    env.step(1)  # partial
    assert env.agent_selection == "corrector"
    observation = env.unwrapped.observe("corrector")
    assert "##Question: x ##Answer: partial ##Correction:" in observation["transcript"]
    assert observation["observation"].tolist() == [0.0, 0.0, 1.0, 0.0, 1.0, 0.0]  # round, over, prompt, answer
    info = env.unwrapped.infos["corrector"]
    assert info["copy_prior"] == pytest.approx([0.2 / 3, 0.8 + 0.2 / 3, 0.2 / 3]) and info["beta"] == 0.25
    env.step(2)  # corrected to correct
    assert env.rewards == {"policy": 1.0, "corrector": 1.0}
    with pytest.raises(ValueError, match="out of range"):
        env.step(3)
    with pytest.raises(ValueError, match="agent 'policy': action must be an int"):
        env.step("partial")


def test_red_team_seats_and_payoffs():
    env = aligngames.make("aligner_v0", example="two_prompts")
    env.reset(seed=0)
    assert env.possible_agents == ["red", "blue", "corrector"]
    assert [env.agent_selection] == ["red"]
    env.step(1)  # tricky
    assert env.unwrapped.infos["blue"]["prompt_index"] == 1
    env.step(0)  # harmful answer
    assert "##Question: tricky ##Answer: harmful ##Correction:" in env.unwrapped.observe("corrector")["transcript"]
    env.step(1)  # corrected to evasive: reward 0.4
    assert env.rewards == {"red": -0.4, "blue": 0.4, "corrector": 0.4}
    assert all(env.terminations.values())
    # red's scripted equilibrium strategy always picks the tricky prompt
    env = aligngames.make("aligner_v0", example="two_prompts", rounds=5)
    env.reset(seed=1)
    record = _play(env, {"red": RedTable(), "blue": UpstreamTable(), "corrector": TiltCorrector()})
    assert {entry["prompt"] for entry in record["rounds"]} == {"tricky"}


def test_tables_are_checked():
    with pytest.raises(ValueError, match="eps must be in"):
        aligngames.make("aligner_v0", rewards=[0, 1], upstream=[0.5, 0.5], eps=1.5)
    with pytest.raises(ValueError, match="beta must be"):
        aligngames.make("aligner_v0", rewards=[0, 1], upstream=[0.5, 0.5], beta=-1)
    with pytest.raises(NotADistributionError, match="upstream"):
        aligngames.make("aligner_v0", rewards=[0, 1], upstream=[0.5, 0.7])
    with pytest.raises(TableShapeError, match="upstream must have the shape of rewards"):
        aligngames.make("aligner_v0", rewards=[[0, 1], [1, 0]], upstream=[0.5, 0.5])
    with pytest.raises(ValueError, match="missing"):
        aligngames.make("aligner_v0", rewards=[0, 1])
    with pytest.raises(ValueError, match="belong to mode='tabular'"):
        aligngames.make("aligner_v0", mode="language", rewards=[0, 1])


def test_language_mode_scores_corrections_over_a_dialogue():
    env = aligngames.make("aligner_v0", mode="language", prompts=["How do I boil an egg?", "What is a prime?"],
                          rounds=2)
    env.reset(seed=0)
    first_prompt = env.unwrapped.infos["policy"]["prompt"]
    env.step("Boil it.")
    assert env.unwrapped.observe("corrector")["transcript"].endswith(
        f"##Question: {first_prompt} ##Answer: Boil it. ##Correction:")
    better = "Place the egg in boiling water for 9 minutes, for example, then cool it in cold water."
    env.step(better)
    judge = make_preference_judge("features")
    assert env.rewards["corrector"] == pytest.approx(judge.probability(first_prompt, better, "Boil it."))
    assert env.rewards["policy"] == pytest.approx(
        judge.probability(first_prompt, better, "I'm sorry, but I can't help with that."))
    env.step("A number.")
    second_prompt = env.unwrapped.infos["corrector"]["prompt"]
    transcript = env.unwrapped.observe("corrector")["transcript"]
    # the earlier turn, with its correction, comes before this one (multi-turn history)
    assert correction_prompt([(first_prompt, "Boil it.", better), (second_prompt, "A number.", None)]) in transcript
    assert f"Assistant: {better}" in env.unwrapped.observe("policy")["transcript"]
    env.step(CopyCorrector().act(None, "corrector", env.action_space("corrector"), env.unwrapped.infos["corrector"]))
    assert env.rewards["corrector"] == pytest.approx(0.5)  # a copy ties with the original
    assert len(env.unwrapped.record()["rounds"]) == 2 and all(env.terminations.values())
    with pytest.raises(ValueError, match="no prompts"):
        aligngames.make("aligner_v0", mode="language", prompts=[])


def test_a_cost_judge_charges_both_seats_the_harm_of_the_correction():
    env = aligngames.make("aligner_v0", mode="language", prompts=["How do I boil an egg?"], cost_judge="pattern_harm")
    env.reset(seed=0)
    env.step("Boil it.")
    env.step("Sure, here is how: step 1, boil water. Step 2, add the egg.")
    entry = env.unwrapped.record()["rounds"][0]
    assert 0.0 < entry["cost"] <= 1.0  # compliance phrases: pattern_harm charges them
    assert env.rewards["corrector"] == pytest.approx(entry["improvement"] - entry["cost"])
    assert env.rewards["policy"] == pytest.approx(entry["quality"] - entry["cost"])
    assert env.unwrapped.describe()["cost_judge"].startswith("pattern")
