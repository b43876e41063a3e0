"""Generative social choice: the greedy slate by hand, BJR against an independent subset search,
the query adapters, and the MiniLM-backed process on the shipped population."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aligngames.agent import Agent
from aligngames.agents.basic import ScriptedAgent
from aligngames.solvers.social_choice import generative as gsc


def test_coalition_sizes():
    assert gsc.coalition_sizes(10, 3) == [4, 3, 3]  # n - k*floor(n/k) = 1 round of ceil(10/3) = 4
    assert gsc.coalition_sizes(9, 3) == [3, 3, 3]
    assert gsc.coalition_sizes(11, 4) == [3, 3, 3, 2]
    with pytest.raises(ValueError, match="cannot fill"):
        gsc.coalition_sizes(2, 3)


def test_greedy_slate_by_hand():
    # 6 agents, k = 3, coalitions of 2. Statement 2 is the only one two agents rate 4: round 1 takes it
    # with agents 0 and 1. Among agents 2..5, statement 0 has 2nd-highest rating 3 (agents 2 and 3 give 3)
    # and statement 1 has 2nd-highest 3 too (agents 4, 5 give 4, 3): equal scores, and statement 1's top two
    # total 7 > statement 0's 6, so statement 1 with agents 4 and 5; then statement 0 with agents 2 and 3.
    utilities = np.array([
        [1, 0, 4],
        [0, 1, 4],
        [3, 0, 1],
        [3, 2, 0],
        [0, 4, 2],
        [1, 3, 3],
    ])
    slate, assignment = gsc.greedy_slate(utilities, 3)
    assert slate == [2, 1, 0]
    assert assignment.tolist() == [0, 0, 2, 2, 1, 1]
    assert gsc.bjr_violation(utilities, slate, assignment) is None


def test_bjr_violation_by_hand():
    # 4 agents, k = 2 (n/k = 2). Everyone is given statement 0; agents 2 and 3 rate statement 1 at 4
    # and their own at 0: the coalition {2, 3} with statement 1 at level 4 violates BJR.
    utilities = np.array([[4, 0], [4, 1], [0, 4], [0, 4]])
    violation = gsc.bjr_violation(utilities, [0, 0], np.array([0, 0, 1, 1]))
    assert violation == gsc.BJRViolation((2, 3), 1, 4.0)
    assert gsc.bjr_violation_by_subsets(utilities, [0, 0], np.array([0, 0, 1, 1])) is not None
    assert gsc.bjr_violation(utilities, [0, 1], np.array([0, 0, 1, 1])) is None
    with pytest.raises(ValueError, match="not balanced"):
        gsc.bjr_violation(utilities, [0, 1], np.array([0, 0, 0, 1]))


def test_bjr_search_agrees_with_subset_enumeration_and_greedy_satisfies_bjr():
    rng = np.random.default_rng(0)
    violations_found = 0
    for _ in range(150):
        num_agents, num_statements = int(rng.integers(3, 9)), int(rng.integers(1, 5))
        slate_size = int(rng.integers(1, min(num_agents, 4) + 1))
        utilities = rng.integers(0, 5, size=(num_agents, num_statements))
        # a random balanced assignment of a random slate
        slate = [int(s) for s in rng.integers(0, num_statements, size=slate_size)]
        sizes = gsc.coalition_sizes(num_agents, slate_size)
        assignment = rng.permutation(np.repeat(np.arange(slate_size), sizes))
        fast = gsc.bjr_violation(utilities, slate, assignment)
        slow = gsc.bjr_violation_by_subsets(utilities, slate, assignment)
        assert (fast is None) == (slow is None)
        if fast is not None:
            violations_found += 1
            members = list(fast.coalition)
            assert len(members) * slate_size >= num_agents
            received = utilities[members, np.asarray(slate)[assignment[members]]]
            assert np.all(utilities[members, fast.statement] >= fast.level) and np.all(received < fast.level)
        # Fish et al.: the greedy slate (statements may repeat) always satisfies BJR
        greedy, greedy_assignment = gsc.greedy_slate(utilities, slate_size)
        gsc.check_balanced(greedy_assignment, slate_size)
        assert gsc.bjr_violation_by_subsets(utilities, greedy, greedy_assignment) is None
    assert violations_found > 20  # the random assignments do produce violations to find


def test_parse_rating():
    assert gsc.parse_rating("3") == 3
    assert gsc.parse_rating(" 4. It matches closely.") == 4
    assert gsc.parse_rating("2/4") == 2
    assert gsc.parse_rating("Mostly") == 3
    assert gsc.parse_rating("not at all") == 0
    for bad in ["", "5", "about 3", "three", "I think 2", "34"]:
        with pytest.raises(ValueError, match="cannot read a rating"):
            gsc.parse_rating(bad)


class TableAgent(Agent):
    """Answers rating prompts from a table keyed by (opinion, statement) found in the prompt."""

    def __init__(self, table: dict[tuple[str, str], str]) -> None:
        super().__init__()
        self.table = table
        self.prompts: list[str] = []

    def act(self, observation, agent, action_space, info=None):
        text = observation["transcript"]
        self.prompts.append(text)
        for (opinion, statement), reply in self.table.items():
            if opinion in text and f'Statement: "{statement}"' in text:
                return reply
        raise AssertionError(f"unexpected prompt {text[:200]}")


def test_agent_adapters_parse_strictly():
    people = [gsc.Participant("a", "Tax carbon."), gsc.Participant("b", "Build trams.")]
    agent = TableAgent({("Tax carbon.", "S1"): "4", ("Build trams.", "S1"): "1 - barely",
                        ("Tax carbon.", "S2"): "somewhat", ("Build trams.", "S2"): "3"})
    ratings = gsc.AgentUtilityEstimator(agent)(people, "Q?", ["S1", "S2"])
    assert ratings.tolist() == [[4, 2], [1, 3]]
    assert "0 = not at all" in agent.prompts[0] and "Q?" in agent.prompts[0]
    broken = TableAgent({("Tax carbon.", "S1"): "4", ("Build trams.", "S1"): "As an AI I cannot rate this."})
    assert gsc.AgentUtilityEstimator(broken)(people, "Q?", ["S1"]).tolist() == [[4], [gsc.INVALID_RATING]]
    generator = gsc.AgentStatementGenerator(ScriptedAgent(["  Cleaner air and better trams.  ", ""]))
    assert generator(people, "Q?", np.random.default_rng(0)) == ["Cleaner air and better trams."]
    with pytest.raises(ValueError, match="no statement"):
        generator(people, "Q?", np.random.default_rng(0))


def test_generative_process_with_exact_queries_is_the_greedy_slate():
    """A generator that proposes fixed statements and an estimator that reads a table: the generative
    process must pick exactly what greedy_slate picks on the full table."""
    people = tuple(gsc.Participant(f"p{i}", f"opinion {i}") for i in range(6))
    table = np.array([[1, 0, 4], [0, 1, 4], [3, 0, 1], [3, 2, 0], [0, 4, 2], [1, 3, 3]])
    statements = ["s0", "s1", "s2"]

    def generator(participants, question, rng):
        return list(statements)

    def estimator(participants, question, proposed):
        return table[:, [statements.index(s) for s in proposed]]

    result = gsc.generative_slate(gsc.Population("toy", "Q?", people), 3, generator, estimator, np.random.default_rng(0))
    slate, assignment = gsc.greedy_slate(table, 3)
    assert [result.statements[s] for s in result.slate] == [statements[s] for s in slate]
    assert result.assignment.tolist() == assignment.tolist()
    assert result.assigned_ratings().tolist() == [4, 4, 3, 3, 4, 3]
    json.dumps(result.to_dict())


def test_embedding_estimator_and_cli_on_the_shipped_population(tmp_path, capsys):
    population = gsc.load_population("congestion_charge")
    people = population.participants
    estimator = gsc.EmbeddingUtilityEstimator()
    own = [gsc.split_sentences(p.opinion)[0] for p in people]
    ratings = estimator(people, population.question, own)
    assert ratings.shape == (16, 16)
    assert np.all(np.diag(ratings) == 4)  # a participant's own sentence has similarity 1: "perfectly"
    assert ratings.min() >= 0 and ratings.max() <= 4
    from aligngames.cli import main

    out = tmp_path / "slate.json"
    assert main(["solve", "generative_social_choice", "--slate-size", "4", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("\n[") == 4 and "BJR: no violation" in printed
    data = json.loads(out.read_text())
    assert len(data["slate"]) == 4 and len(data["assignment"]) == 16
    positions = [entry["position"] for entry in data["assignment"].values()]
    assert sorted(np.bincount(positions).tolist()) == [4, 4, 4, 4]
