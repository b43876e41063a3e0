"""off_switch_v0: the rules, and episode averages that match the exact values."""

from __future__ import annotations

import numpy as np
import pytest

import aligngames
from aligngames.agents.basic import ConstantAgent
from aligngames.agents.off_switch import OffSwitchHuman, OffSwitchHumanModel
from aligngames.envs.off_switch.priors import DiscretePrior
from aligngames.play.rollout import play_episodes
from aligngames.solvers.exact.off_switch import values

KWARGS = {"prior": "discrete", "values": [-1.0, 2.0], "probabilities": [0.5, 0.5]}


@pytest.mark.parametrize(("robot", "human", "expected"), [
    (0, OffSwitchHuman(), [-1.0, 2.0]),          # act: U either way
    (1, OffSwitchHuman(), [0.0, 0.0]),           # switch off
    (2, OffSwitchHuman(), [0.0, 2.0]),           # defer to a rational human: off when U < 0
])
def test_payoffs(robot, human, expected):
    env = aligngames.make("off_switch_v0", **KWARGS)
    for seed in range(20):
        (episode,) = play_episodes(lambda: aligngames.make("off_switch_v0", **KWARGS),
                                   {"robot": ConstantAgent(robot), "human": human}, [seed])
        utility = episode.record["utility"]
        assert episode.returns["robot"] == episode.returns["human"] == expected[0 if utility < 0 else 1]
    env.close()


def test_deferring_to_a_boltzmann_human_averages_to_the_exact_value():
    human = OffSwitchHuman("boltzmann", beta=1.0)
    human.reset(0)
    episodes = play_episodes(lambda: aligngames.make("off_switch_v0", **KWARGS),
                             {"robot": ConstantAgent(2), "human": human}, list(range(800)))
    mean = np.mean([episode.returns["robot"] for episode in episodes])
    exact = values(DiscretePrior((-1.0, 2.0), (0.5, 0.5)), OffSwitchHumanModel("boltzmann", beta=1.0)).defer
    assert abs(mean - exact) < 0.12  # about 3 standard errors (payoff sd about 1.1 over 800 episodes)


def test_the_human_sees_u_and_the_robot_does_not():
    env = aligngames.make("off_switch_v0", prior="gaussian", mean=0.5, std=1.0)
    env.reset(seed=0)
    assert env.observe("robot")["observation"][5] == 0.0
    env.step(2)
    observation, _, _, _, info = env.last()
    assert env.agent_selection == "human" and observation["observation"][5] == pytest.approx(info["utility"])
    assert "You know that U =" in observation["transcript"] and info["action_labels"] == ["switch_off", "allow"]
    with pytest.raises(ValueError, match=r"action 2 is out of range; legal actions are 0..1"):
        env.step(2)
