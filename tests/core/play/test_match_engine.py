"""The batched match engine: many matches in lockstep give the same episodes as each match alone,
LLM agents of different matches share generation batches (one row per adapter), ``max_live`` bounds
the live episodes, the tournament runner plays fixed groups of matches (so resumes are exact), and
errors name the match."""

from __future__ import annotations

import json

import numpy as np
import pytest

import aligngames
from aligngames.agent import Agent, AgentSpec
from aligngames.agents.basic import ConstantAgent
from aligngames.agents.llm import GenerationConfig, LLMAgent
from aligngames.agents.llm import agent as agent_module
from aligngames.agents.llm import lora as lora_module
from aligngames.agents.llm.generation import option_logprobs
from aligngames.agents.llm.testing import save_tiny_model, tiny_handle
from aligngames.play.rollout import MatchJob, play_episodes, play_matches
from aligngames.play.tournament import TournamentConfig, matches, play_match, run_tournament


def language_env():
    return aligngames.make("preference_game_v0", mode="language", max_answer_length=30)


@pytest.fixture(scope="module")
def population():
    """One tiny base model with two random LoRA adapters (and the base itself as a third policy)."""
    handle = tiny_handle(seed=4)
    lora_module.add_adapter(handle, "red", seed=1, init="random")
    lora_module.add_adapter(handle, "blue", seed=2, init="random")
    handle.model.eval()
    return handle


def _agents(handle, seed: int):
    config = GenerationConfig(max_new_tokens=8, temperature=1.0)
    agents = {name: LLMAgent(handle, generation=config, adapter=name) for name in ("red", "blue")}
    agents["base"] = LLMAgent(handle, generation=config)
    for offset, agent in enumerate(agents.values()):
        agent.reset(seed + offset)
    return agents


def _jobs(handle, chunk_size=None):
    jobs = []
    for number, (first, second) in enumerate([("red", "blue"), ("blue", "base"), ("base", "red"), ("red", "red")]):
        agents = _agents(handle, 100 * number)
        seats = {"player_0": agents[first], "player_1": agents[second]} if first != second else \
            {"player_0": agents[first], "player_1": ConstantAgent("Yes.")}
        jobs.append(MatchJob(language_env, seats, [11, 12, 13], chunk_size=chunk_size, name=f"match {number}"))
    return jobs


def _answers(episodes):
    return [episode.record["answers"] for episode in episodes]


def test_matches_played_together_equal_each_match_alone(population, monkeypatch):
    calls = []
    real_generate = agent_module.generate

    def counting_generate(handle, prompts, *args, **kwargs):
        calls.append(len(prompts))
        return real_generate(handle, prompts, *args, **kwargs)

    monkeypatch.setattr(agent_module, "generate", counting_generate)
    alone = [play_episodes(job.make_env, job.seat_agents, job.seeds) for job in _jobs(population)]
    alone_calls, calls[:] = list(calls), []
    together = dict(play_matches(_jobs(population)))
    assert [_answers(together[index]) for index in range(4)] == [_answers(episodes) for episodes in alone]
    assert [[e.returns for e in together[index]] for index in range(4)] == [[e.returns for e in episodes] for episodes in alone]
    # the seats move in turn: alone, one call per LLM seat per match (7 LLM seats); together, one call for
    # every first move of all matches (4 x 3 episodes) and one for every LLM second move (3 x 3)
    assert len(alone_calls) == 7 and sum(alone_calls) == 21
    assert calls == [12, 9]
    answers = {answer for episodes in alone for record in _answers(episodes) for answer in record.values()}
    assert len(answers) > 4  # the adapters and seeds really produce different text


def test_continuous_batching_bounds_live_episodes_and_keeps_results(population):
    reference = dict(play_matches(_jobs(population)))
    sizes = []

    class CountingAgent(Agent):
        def act_batch(self, turns):
            sizes.append(len(turns))
            return ["Sure." for _ in turns]

    for max_live, chunk_size in [(1, None), (3, 1), (4, 2), (5, 3)]:
        jobs = _jobs(population, chunk_size=chunk_size)
        counter = CountingAgent()  # one object for every job's constant seat: counts the live episodes per step
        jobs = [MatchJob(job.make_env, {"player_0": job.seat_agents["player_0"], "player_1": counter}, job.seeds,
                         chunk_size, job.name) for job in jobs]
        got = dict(play_matches(jobs, max_live=max_live))
        assert max(sizes) <= max(max_live, chunk_size or 3)
        sizes.clear()
        assert [_answers(got[i]) == [{**record, "player_1": "Sure."} for record in _answers(reference[i])]
                for i in range(3)] == [True] * 3


def test_per_row_adapters_score_options_like_one_adapter_at_a_time(population):
    prompts = ["<|im_start|>user\nPick one<|im_end|>\n", "<|im_start|>user\nAnother<|im_end|>\n", "<|im_start|>user\nx"]
    options = [["A", "Bee"], ["yes", "no", "maybe"], ["0", "1"]]
    adapters = ["red", None, "blue"]
    mixed = option_logprobs(population, prompts, options, adapter=adapters, batch_size=2)
    for prompt, choices, adapter, values in zip(prompts, options, adapters, mixed):
        (alone,) = option_logprobs(population, [prompt], [choices], adapter=adapter)
        np.testing.assert_allclose(values.numpy(), alone.numpy(), rtol=1e-5, atol=1e-5)
    red, blue = option_logprobs(population, prompts[:1] * 2, options[:1] * 2, adapter=["red", "blue"])
    assert not np.allclose(red.numpy(), blue.numpy())  # the rows really ran different adapters


def test_an_illegal_move_names_the_match_the_seat_and_the_agent():
    env = aligngames.make("preference_game_v0", mode="tabular")
    job = MatchJob(lambda: aligngames.make("preference_game_v0", mode="tabular"),
                   dict.fromkeys(env.possible_agents, ConstantAgent(99)), [0], name="match 7 (player_0=bad)")
    with pytest.raises(ValueError, match=r"match 7 \(player_0=bad\), episode seed 0, seat 'player_0' \(ConstantAgent\)"):
        list(play_matches([job]))


def test_tournament_groups_of_matches_equal_each_match_alone_and_resume_exactly(tmp_path, population):
    """An LLM population (a saved tiny base model, two adapter folders) through the tournament runner:
    groups of 4 matches in one engine write the same lines and transcripts as each match alone, and a
    run that lost matches of a half-finished group replays the group and writes the same files."""
    model = save_tiny_model(tmp_path / "model", seed=4)
    folders = {name: lora_module.save_adapter(population, name, tmp_path / name) for name in ("red", "blue")}
    kwargs = {"model": str(model), "max_new_tokens": 6, "temperature": 1.0}
    agents = {"red": AgentSpec("llm", {**kwargs, "adapter": str(folders["red"])}),
              "blue": AgentSpec("llm", {**kwargs, "adapter": str(folders["blue"])}),
              "base": AgentSpec("llm", kwargs)}
    config = TournamentConfig("preference_game_v0", agents, {"mode": "language", "max_answer_length": 30},
                              episodes=3, seed=3, batch_size=2, matches_together=4).resolve()
    calls = []
    real_generate = agent_module.generate

    def counting_generate(handle, prompts, *args, **kwargs):
        calls.append(len(prompts))
        return real_generate(handle, prompts, *args, **kwargs)

    agent_module.generate = counting_generate
    try:
        run = run_tournament(config, tmp_path / "run", progress=False)
    finally:
        agent_module.generate = real_generate
    # 9 matches in groups of 4, 4 and 1; a match's 3 episodes in chunks of 2 and 1; two seats
    assert max(calls) == 4 * 2 and len(calls) == 2 * 2 * 3
    lines = [json.loads(line) for line in (run / "matches.jsonl").read_text().splitlines()]
    assert len(lines) == 9
    files = {path.name: path.read_text() for path in sorted((run / "transcripts").iterdir())}
    for match, line in zip(matches(config), lines):
        expected_line, expected_transcript = play_match(config, match)
        assert {key: line[key] for key in expected_line} == expected_line
        assert files[f"match_{match.index:04d}.jsonl"] == "".join(json.dumps(t, sort_keys=True) + "\n" for t in expected_transcript)
    # lose matches 5 and 6 of the second group (4-7): the rerun replays that group and records the two
    kept = [line for line in (run / "matches.jsonl").read_text().splitlines() if json.loads(line)["match"] not in (5, 6)]
    (run / "matches.jsonl").write_text("\n".join(kept) + "\n")
    for index in (5, 6):
        (run / f"transcripts/match_{index:04d}.jsonl").unlink()
    (run / "payoffs.json").unlink()
    resumed = run_tournament(config, run, progress=False)
    assert {path.name: path.read_text() for path in sorted((resumed / "transcripts").iterdir())} == files
    assert [json.loads(line) for line in (resumed / "matches.jsonl").read_text().splitlines()] == lines


def test_groups_are_cut_from_the_canonical_order():
    from aligngames.play.tournament import Match, match_groups

    canonical = [Match(index, {}) for index in range(7)]
    groups = match_groups([canonical[1], canonical[5]], canonical, 3)
    assert [[match.index for match in group] for group in groups] == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match=r"matches \[9\] are not in the list"):
        match_groups([Match(9, {})], canonical, 3)
