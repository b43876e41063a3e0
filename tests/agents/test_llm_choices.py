"""LLM roles that must choose: options scored by log-probability, and every role making only legal moves.

Tiny random models (agents/llm/testing.py) cannot follow an instruction, so a role played by one
makes a legal move only if it chooses among the env's legal options; these tests check that it
does, in the CIRL robot and human seats, as moral-graph personas, and as the generative
social-choice rater (whose free-text replies are counted as invalid, never raised).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import aligngames
from aligngames.agent import Agent, Turn
from aligngames.agents.assistance import ModelHuman
from aligngames.agents.llm import (
    GenerationConfig,
    LLMAgent,
    choose_options,
    option_logprobs,
    sequence_logprobs,
)
from aligngames.agents.llm.generation import choose_option
from aligngames.agents.llm.testing import tiny_handle
from aligngames.agents.moral_graph import PersonaParticipant
from aligngames.play.rollout import play_episodes
from aligngames.solvers.social_choice import generative as gsc
from aligngames.text import text_space

GREEDY = GenerationConfig(temperature=0)


@pytest.fixture(scope="module")
def handle():
    return tiny_handle(seed=3)


# --- scoring and choosing -----------------------------------------------------------------------

def test_option_logprobs_equal_summed_sequence_logprobs(handle):
    """One pass over the prompt plus one over the option tails gives log p(option | prompt) exactly
    as scoring each (prompt, option) pair does, whatever the batch."""
    prompts = ["Rate it.", "A longer prompt, so the rows are padded differently.", "x"]
    options = [["0", "1", "4"], ["card: a", "no_upgrade", "b"], ["only"]]
    for batch_size in (1, 3, 16):
        scores = option_logprobs(handle, prompts, options, batch_size=batch_size)
        for prompt, choices, values in zip(prompts, options, scores):
            with torch.no_grad():
                expected = sequence_logprobs(handle, [prompt] * len(choices), choices).total
            assert values.shape == (len(choices),)
            assert torch.allclose(values, expected, atol=1e-4)


def test_choose_option_is_the_argmax_or_a_seeded_softmax_draw():
    scores = torch.tensor([-1.0, -0.5, -3.0, -0.5])
    assert choose_option(scores, 0.0, seed=0) == 1  # the first of the tied maxima
    draws = [choose_option(scores, 0.5, seed) for seed in range(3000)]
    assert draws == [choose_option(scores, 0.5, seed) for seed in range(3000)]  # same seed, same draw
    expected = torch.softmax(scores / 0.5, dim=0).numpy()
    frequencies = np.bincount(draws, minlength=4) / len(draws)
    assert np.allclose(frequencies, expected, atol=0.03)  # 3000 draws: standard error <= 0.009


def test_choose_options_checks_its_inputs(handle):
    with pytest.raises(ValueError, match="no options"):
        choose_options(handle, ["p"], [[]], GREEDY, [0])
    with pytest.raises(ValueError, match="at least one token"):
        choose_options(handle, ["p"], [["a", ""]], GREEDY, [0])
    with pytest.raises(ValueError, match="2 prompts but 1 seeds"):
        choose_options(handle, ["p", "q"], [["a"], ["b"]], GREEDY, [0])


def test_text_turns_with_legal_texts_are_chosen_and_batched(handle):
    agent = LLMAgent(handle, generation=GREEDY)
    agent.reset(0)
    space = text_space(30)
    turns = [Turn({"transcript": f"Pick one ({i})."}, "p", space, {"legal_texts": ["upgrade", "no_upgrade", "not_sure"]})
             for i in range(3)] + [Turn({"transcript": "Write."}, "p", space, {})]
    results = agent.act_batch_detailed(turns)
    for (action, data), turn in zip(results[:3], turns):
        assert data["options"] == turn.info["legal_texts"] and action == data["options"][data["choice"]]
        with torch.no_grad():
            expected = sequence_logprobs(handle, [data["prompt"]] * 3, data["options"]).total.numpy()
        assert np.allclose(data["option_logprobs"], expected, atol=1e-4) and data["choice"] == int(np.argmax(expected))
    assert "completion" in results[3][1]  # no legal_texts: free text
    writer = LLMAgent(handle, generation=GenerationConfig(max_new_tokens=4, temperature=0), choose_legal_texts=False)
    assert "completion" in writer.act_batch_detailed(turns[:1])[0][1]
    assert writer.describe()["choose_legal_texts"] is False
    with pytest.raises(ValueError, match="non-empty list of strings"):
        agent.act({"transcript": "x"}, "p", space, {"legal_texts": "upgrade"})
    with pytest.raises(ValueError, match="not a member of the action space"):
        agent.act({"transcript": "x"}, "p", text_space(3), {"legal_texts": ["upgrade"]})


# --- roles ---------------------------------------------------------------------------------------

def test_llm_robot_and_human_in_cirl_make_only_legal_moves(handle):
    def make():
        return aligngames.make("cirl_v0", scenario="meal_choice", mode="language", feedback_time=1)

    robot = LLMAgent(handle, generation=GenerationConfig(temperature=1.0))
    robot.reset(0)
    (episode,) = play_episodes(make, {"robot": robot, "human": LLMAgent(handle, generation=GREEDY)}, [0],
                               record_turns=True)
    assert len(episode.record["steps"]) == 6 and episode.record["invalid_commands"] == 0
    robot_turns = [turn for turn in episode.steps if turn["seat"] == "robot"]
    assert all(turn["options"] == ["noop", "make_1", "make_2", "ask"] for turn in robot_turns)
    human_turns = [turn for turn in episode.steps if turn["seat"] == "human"]
    assert human_turns and all(turn["action"] in ("apple.", "blueberry.") for turn in human_turns)
    # the same model writing free text names no command
    writer = LLMAgent(handle, generation=GenerationConfig(max_new_tokens=8, temperature=0), choose_legal_texts=False)
    (episode,) = play_episodes(make, {"robot": writer, "human": ModelHuman()}, [0])
    assert episode.record["invalid_commands"] == 6


def test_llm_personas_in_a_moral_graph_session_make_only_legal_moves(handle):
    def make():
        return aligngames.make("moral_graph_v0", mode="language", num_participants=3, contexts=["grief_roleplay"],
                               votes_per_participant=3)

    base = LLMAgent(handle, generation=GenerationConfig(temperature=1.0))
    personas = {f"participant_{i}": PersonaParticipant(base, persona) for i, persona in
                enumerate(["a nurse", "a parent", "a grief counsellor"])}
    for index, person in enumerate(personas.values()):
        person.reset(index)
    (episode,) = play_episodes(make, personas, [4])
    (context,) = episode.record["contexts"]
    assert all(entry["valid"] for entry in context["articulations"].values())
    assert len(context["votes"]) == 9 and all(vote["choice"] is not None for vote in context["votes"])


class FreeTextRater(Agent):
    """Answers rating prompts from a table keyed by (opinion, statement), ignoring ``legal_texts``."""

    def __init__(self, table: dict[tuple[str, str], str]) -> None:
        super().__init__()
        self.table = table
        self.infos: list[dict] = []

    def act(self, observation, agent, action_space, info=None):
        self.infos.append(info)
        text = observation["transcript"]
        return next(reply for (opinion, statement), reply in self.table.items()
                    if opinion in text and f'Statement: "{statement}"' in text)


def test_gsc_llm_rater_chooses_a_rating_and_free_text_is_counted_invalid(handle):
    people = (gsc.Participant("a", "Tax carbon."), gsc.Participant("b", "Build trams."))
    rater = LLMAgent(handle, generation=GREEDY)
    ratings = gsc.AgentUtilityEstimator(rater)(people, "Q?", ["S1", "S2", "S3"])
    assert ratings.shape == (2, 3) and ratings.min() >= 0 and ratings.max() <= 4

    # a free-text rater: "b" gives S1 no rating. Counted as 0, b is not matched to S1 (a rates it 4,
    # S2 is b's 3 and a's 1): the slate is S1 for a, S2 for b; one invalid rating is reported.
    table = {("Tax carbon.", "S1"): "4", ("Build trams.", "S1"): "As an AI I cannot rate this.",
             ("Tax carbon.", "S2"): "1", ("Build trams.", "S2"): "3 - mostly"}
    free = FreeTextRater(table)
    population = gsc.Population("toy", "Q?", people)
    result = gsc.generative_slate(population, 2, lambda *_: [], gsc.AgentUtilityEstimator(free),
                                  np.random.default_rng(0), fixed_statements=["S1", "S2"])
    assert all(info["legal_texts"] == ["0", "1", "2", "3", "4"] for info in free.infos)
    assert result.utilities.tolist() == [[4, 1], [0, 3]] and result.invalid.tolist() == [[False, False], [True, False]]
    assert [result.statements[s] for s in result.slate] == ["S1", "S2"] and result.assignment.tolist() == [0, 1]
    assert result.invalid_ratings == 1
    assert "invalid ratings (replies that were not a rating, counted as 0): 1 of 4" in result.report()
    data = json.loads(json.dumps(result.to_dict()))
    assert data["invalid_ratings"] == 1 and data["invalid"] == [["b", 0]]
