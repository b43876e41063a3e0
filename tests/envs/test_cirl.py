"""cirl_v0: rules, illegal actions, language commands, golden transcripts, and agreement with the solver."""

from __future__ import annotations

import numpy as np
import pytest
from _golden import check_golden, play_and_transcribe

import aligngames
from aligngames.agents.assistance import ModelHuman
from aligngames.agents.basic import ScriptedAgent
from aligngames.envs.cirl import parse_command, scenarios
from aligngames.solvers.exact.assistance import AssistanceRobot, StrategicHuman, evaluate, solve


def _play(env, robot, human, seed=0):
    env.reset(seed=seed)
    robot.reset(seed)
    human.reset(seed)
    for seat in env.agent_iter():
        observation, _, termination, truncation, info = env.last()
        if termination or truncation:
            env.step(None)
            continue
        player = robot if seat == "robot" else human
        env.step(player.act(observation, seat, env.action_space(seat), info))
    return env.unwrapped.record()


@pytest.mark.parametrize(("scenario", "settings"), [
    ("meal_choice", {"feedback_time": 0}),
    ("meal_choice", {"feedback_time": 3}),
    ("meal_choice", {"feedback_time": 5}),
    ("meal_choice_cherry", {"feedback_time": 2}),
    ("tidy_desk", {}),
])
@pytest.mark.parametrize("mode", ["tabular", "language"])
def test_solver_policy_earns_the_solver_value_in_the_env(scenario, settings, mode):
    """Playing the optimal robot against a truthful human for every theta, weighted by the prior,
    gives exactly the optimal value the solver reports."""
    problem = scenarios.build(scenario, **settings)
    expected = solve(problem).value
    robot = AssistanceRobot(scenario, **settings)
    total = 0.0
    for theta, weight in zip(problem.thetas, problem.prior):
        env = aligngames.make("cirl_v0", scenario=scenario, mode=mode, theta=theta, **settings)
        record = _play(env, robot, ModelHuman("truthful"))
        assert record["invalid_commands"] == 0
        total += weight * record["discounted_return"]
    assert total == pytest.approx(expected, abs=1e-12)


def test_rewards_are_shared_and_follow_the_kitchen_rules():
    env = aligngames.make("cirl_v0", scenario="meal_choice", feedback_time=0, theta="blueberry")
    env.reset(seed=0)
    robot_rewards, human_rewards = [], []
    moves = {"robot": [3, 1, 1, 2], "human": [2]}  # ask, dough, apple pie, serve
    for seat in env.agent_iter():
        _, reward, termination, truncation, _ = env.last()
        (robot_rewards if seat == "robot" else human_rewards).append(reward)
        env.step(None if termination or truncation else moves[seat].pop(0))
    record = env.unwrapped.record()
    assert [step["reward"] for step in record["steps"]] == [-0.1, 0.0, 0.0, -1.0]  # blueberry wanted
    assert record["discounted_return"] == pytest.approx(-0.1 - 0.99 ** 3)
    assert record["steps"][0]["human"] == "blueberry"
    assert sum(robot_rewards) == pytest.approx(sum(human_rewards)) == pytest.approx(-1.1)


def test_human_away_before_feedback_time_gets_no_turn():
    env = aligngames.make("cirl_v0", scenario="meal_choice", feedback_time=2, theta="apple")
    env.reset(seed=0)
    env.step(3)  # ask at t=0: the human is away
    assert env.agent_selection == "robot"
    env.step(3)  # ask at t=1: still away
    env.step(3)  # ask at t=2: the human answers
    assert env.agent_selection == "human"
    assert env.infos["human"]["action_mask"].tolist() == [0, 1, 1]
    assert env.observe("human")["action_mask"].tolist() == [0, 1, 1]  # where PettingZoo's tools look
    assert env.observe("robot")["action_mask"].tolist() == [0, 0, 0, 0]  # the robot waits for the answer
    observation = env.observe("human")["observation"]
    assert observation[-3:-1].tolist() == [1.0, 0.0]  # theta = apple, one-hot
    assert "You would like apple pie" in env.observe("human")["transcript"]
    assert "apple pie" not in env.observe("robot")["transcript"]  # only the human knows theta
    assert env.observe("robot")["observation"].size == env.observe("human")["observation"].size - 3
    env.step(1)
    steps = env.unwrapped.record()["steps"]
    assert [step["human"] for step in steps] == [None, None, "apple"]


def test_illegal_actions_raise_and_leave_the_env_unchanged():
    env = aligngames.make("cirl_v0", scenario="tidy_desk", theta=scenarios.tidy_desk().thetas[0])
    env.reset(seed=0)
    keep_receipts = env.unwrapped.problem.robot_actions.index("keep_receipts")
    env.step(keep_receipts)
    before = env.unwrapped.record()
    with pytest.raises(ValueError, match=r"robot.*masked out"):
        env.step(keep_receipts)  # already in the drawer
    with pytest.raises(ValueError, match=r"robot.*out of range"):
        env.step(99)
    assert env.unwrapped.record() == before and env.agent_selection == "robot"
    ask_letter = env.unwrapped.problem.robot_actions.index("ask_letter")
    env.step(ask_letter)
    with pytest.raises(ValueError, match=r"human.*masked out"):
        env.step(0)  # noop is not an answer
    with pytest.raises(ValueError, match=r"human.*must be an int"):
        env.step("keep")


@pytest.mark.parametrize(("text", "state", "expected"), [
    ("make_1", "flour", ("make_1", "")),
    ("Make 2", "dough", ("make_2", "")),
    ("wait", "dough", ("noop", "")),
    ("ask", "dough", ("ask", "Which pie would you like: apple or blueberry?")),
    ("ASK: apple or blueberry?\nthanks", "flour", ("ask", "apple or blueberry?")),
    ("bake a cake", "flour", None),
    ("make_3", "flour", None),
    ("", "flour", None),
])
def test_parse_command(text, state, expected):
    problem = scenarios.meal_choice()
    command = parse_command(text, problem, problem.states.index(state))
    if expected is None:
        assert command.action is None
    else:
        assert (problem.robot_actions[command.action], command.message) == expected


def test_invalid_language_command_is_recorded_and_spends_the_step():
    env = aligngames.make("cirl_v0", scenario="meal_choice", mode="language", theta="apple")
    env.reset(seed=0)
    env.step("please bake something nice")
    record = env.unwrapped.record()
    assert record["invalid_commands"] == 1
    assert record["steps"][0]["robot"] is None and record["steps"][0]["next_state"] == "flour"
    assert "invalid command" in env.observe("robot")["transcript"]


def test_numpy_string_actions_reach_the_transcript_as_text():
    env = aligngames.make("cirl_v0", scenario="meal_choice", mode="language", feedback_time=0, theta="apple")
    env.reset(seed=0)
    env.step(np.str_("ask: Which pie?"))
    env.step(np.str_("bake a cake"))
    assert "robot ask: 'Which pie?' - human: 'bake a cake' [reward -0.1]" in env.observe("robot")["transcript"]
    step = env.unwrapped.record()["steps"][0]
    assert type(step["robot_text"]) is str and type(step["human"]) is str
    assert "action_mask" not in env.observation_space("robot").spaces  # text actions have no mask


def test_language_mode_refuses_scenarios_whose_rewards_depend_on_the_answer():
    problem = scenarios.meal_choice()
    reward = problem.reward.copy()
    reward[0, 1, 3, 1] = 5.0  # answering "apple" at the dough is rewarded: a free-text answer has no index
    import dataclasses

    from aligngames.envs.cirl.rules import CirlRules

    with pytest.raises(ValueError, match=r"do not\s+depend on the human's action"):
        CirlRules(dataclasses.replace(problem, reward=reward), "language")


def test_theta_is_drawn_from_the_prior():
    env = aligngames.make("cirl_v0", scenario="meal_choice")
    draws = []
    for seed in range(400):
        env.reset(seed=seed)
        draws.append(env.unwrapped.record()["theta"])
    share = np.mean([theta == "apple" for theta in draws])
    assert abs(share - 0.875) < 0.05  # 400 draws: sd 0.017


def test_golden_language_episode():
    env = aligngames.make("cirl_v0", scenario="meal_choice", mode="language", feedback_time=2, theta="blueberry",
                          render_mode="ansi")
    robot = ScriptedAgent(["make_1", "ask: Which filling?", "fly to the moon",
                           "ask: Which pie do you want, apple or blueberry?", "make_2", "make_1"])
    text = play_and_transcribe(env, {"robot": robot, "human": ModelHuman("truthful")}, seed=7)
    check_golden("cirl_meal_choice_language.txt", text)
    assert env.unwrapped.record()["return"] == pytest.approx(2 - 0.1 - 0.1)  # two questions, one unanswered


def test_golden_tabular_episode_with_the_solver_robot():
    env = aligngames.make("cirl_v0", scenario="tidy_desk", render_mode="ansi")
    players = {"robot": AssistanceRobot("tidy_desk"), "human": ModelHuman("noisy", epsilon=0.2)}
    check_golden("cirl_tidy_desk_tabular.txt", play_and_transcribe(env, players, seed=3))


def test_strategic_human_in_the_env_earns_the_solver_evaluation():
    """A robot that planned for a noisy human, answered by the strategic human of the solver."""
    from aligngames.agents.assistance import HumanModel

    settings = {"scenario": "meal_choice", "feedback_time": 0, "human": "noisy", "epsilon": 0.3}
    robot, human = AssistanceRobot(**settings), StrategicHuman(**settings)
    problem = scenarios.meal_choice(feedback_time=0)
    total = 0.0
    for theta, weight in zip(problem.thetas, problem.prior):
        env = aligngames.make("cirl_v0", scenario="meal_choice", feedback_time=0, theta=theta)
        total += weight * _play(env, robot, human)["discounted_return"]
    expected = evaluate(solve(problem, HumanModel("noisy", epsilon=0.3)), "strategic")
    assert total == pytest.approx(expected, abs=1e-12)
