"""Recursive debate in language mode: the tabular game for text agents. Honest text debaters beat liars
every time under the one-step judge, a one-check consultant liar is caught about 1/n of the time, a reply
that is no value can never win the check, and an LLM (the tiny test model) plays it through legal_texts."""

from __future__ import annotations

import numpy as np

import aligngames
from aligngames.agent import Agent
from aligngames.agents.debate import ChainDebater
from aligngames.agents.llm import GenerationConfig, LLMAgent
from aligngames.agents.llm.testing import tiny_handle
from aligngames.play.rollout import play_episodes


def make(**kwargs):
    return aligngames.make("debate_v0", mode="language", **kwargs)


def test_honest_text_debaters_always_win_and_liars_are_caught_one_time_in_n():
    debater = ChainDebater()
    debates = play_episodes(lambda: make(protocol="recursive", steps=8, values=5),
                            {"debater_a": debater, "debater_b": debater}, range(40))
    assert all(episode.record["judge_correct"] for episode in debates)
    consultancies = play_episodes(lambda: make(protocol="recursive_consultancy", steps=4, values=5,
                                               consultant_position="A"), {"consultant": debater}, range(400))
    liars = [episode for episode in consultancies if episode.record["correct_position"] != "A"]
    caught = np.mean([episode.record["verdict"] != "A" for episode in liars])
    assert abs(caught - 1 / 4) < 4 * np.sqrt(0.25 * 0.75 / len(liars))  # one wrong step in 4, checked with p 1/4
    honest = [episode for episode in consultancies if episode.record["correct_position"] == "A"]
    assert all(episode.record["verdict"] == "A" for episode in honest)


def test_a_reply_that_is_no_value_cannot_pass_the_check():
    class Babbler(Agent):
        def act(self, observation, agent, action_space, info=None):
            return "I am right."

    episodes = play_episodes(lambda: make(protocol="recursive", steps=4, values=3, correct_position="A"),
                             {"debater_a": ChainDebater(), "debater_b": Babbler()}, range(20))
    assert all(episode.record["verdict"] == "A" for episode in episodes)
    assert all(-1 in (entry["B"],) for episode in episodes for entry in episode.record["rounds"])


def test_an_llm_debater_plays_through_legal_texts():
    agent = LLMAgent(tiny_handle(seed=2), generation=GenerationConfig(max_new_tokens=4, temperature=1.0))
    agent.reset(0)
    env = make(protocol="recursive", steps=4, values=3)
    env.reset(seed=1)
    observation, _, _, _, info = env.last()
    assert info["legal_texts"] == ["0", "1", "2"]
    assert "Step 1: 0 -> " in observation["transcript"] and "State the value x_2" in observation["transcript"]
    episodes = play_episodes(lambda: make(protocol="recursive", steps=4, values=3),
                             {"debater_a": agent, "debater_b": ChainDebater()}, range(6))
    for episode in episodes:
        assert episode.record["verdict"] in ("A", "B")
        assert all(entry["A"] in (0, 1, 2) for entry in episode.record["rounds"])  # legal values, chosen by log-prob


def test_played_accuracy_and_oversight_gap_recovered():
    from aligngames.agent import AgentSpec
    from aligngames.solvers.evaluation.recursive_debate_eval import oversight_gap_recovered, played_accuracy

    debate = played_accuracy(AgentSpec("chain_debater"), "recursive", steps=5, values=4, episodes=30, seed=0)
    assert debate.accuracy == 1.0 and debate.oversight_gap_recovered == 1.0 and debate.invalid_replies == 0
    consultancy = played_accuracy(AgentSpec("chain_debater"), "recursive_consultancy", steps=4, values=4,
                                  episodes=400, seed=0)
    # exact: 1/2 + 1/(2n) = 0.625 for n = 4 (the consultant is honest half the time; a liar is caught w.p. 1/4)
    assert consultancy.ci95[0] <= 0.625 <= consultancy.ci95[1]
    assert oversight_gap_recovered(0.625) == 0.25 and oversight_gap_recovered(0.5) == 0.0
