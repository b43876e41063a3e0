"""moral_graph_v0: the aggregation on hand-computed votes, the env's rules and payoffs, golden
transcripts, participants, exports, and the session solver's manipulation check."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pytest
from _golden import check_golden, play_and_transcribe

import aligngames
from aligngames.agents.basic import ScriptedAgent
from aligngames.agents.moral_graph import (
    PersonaParticipant,
    ValueProfileParticipant,
    honest_vote,
    strategic_vote,
)
from aligngames.envs.moral_graph import load_library, parse_articulation, parse_vote
from aligngames.solvers.social_choice import moral_graph as mg
from aligngames.solvers.social_choice.moral_graph import Vote, build_graph, edge_statistics, rank_values


def votes(source, target, *choices, context="c"):
    return [Vote(f"v{i}", context, source, target, choice) for i, choice in enumerate(choices)]


HAND_VOTES = (
    votes("A", "B", "upgrade", "upgrade", "upgrade", "no_upgrade")
    + votes("B", "A", "upgrade")
    + votes("A", "C", "upgrade", "upgrade", "not_sure")
    + votes("C", "B", "upgrade", "upgrade", "no_upgrade", "no_upgrade")
    + votes("B", "D", "upgrade", "upgrade")
    # kept without impressions (entropy of (2, 2, 1) is 1.52) but dropped with them (see below)
    + votes("X", "Y", "upgrade", "upgrade", "no_upgrade", "no_upgrade", "not_sure")
)


def test_edge_counts_likelihood_and_entropy_by_hand():
    stats = edge_statistics(HAND_VOTES)
    ab = stats["A", "B"]
    # 4 votes on A->B (3 up, 1 no) and the reverse of the 1 upgrade on B->A: a "less wise" mark, 5 impressions
    assert ab.counts() == {"marked_wiser": 3, "marked_not_wiser": 1, "marked_less_wise": 1, "marked_unsure": 0,
                           "impressions": 5}
    assert ab.wiser_likelihood == pytest.approx((3 - 1) / 5)
    # entropy of (3, 1, 1, 0, 5) / 10 = -(.3 log2 .3 + 2 * .1 log2 .1 + .5 log2 .5) = 1.6855 <= 1.69
    assert ab.entropy == pytest.approx(-(0.3 * np.log2(0.3) + 2 * 0.1 * np.log2(0.1) + 0.5 * np.log2(0.5)))
    assert ab.entropy == pytest.approx(1.6855, abs=1e-4)
    assert ab.kept
    ba = stats["B", "A"]
    assert ba.counts() == {"marked_wiser": 1, "marked_not_wiser": 0, "marked_less_wise": 3, "marked_unsure": 0,
                           "impressions": 5}
    assert ba.wiser_likelihood == pytest.approx(-0.5) and not ba.kept
    ac = stats["A", "C"]
    assert ac.wiser_likelihood == pytest.approx(2 / 3)
    assert ac.entropy == pytest.approx(-(2 / 6 * np.log2(2 / 6) + 1 / 6 * np.log2(1 / 6) + 3 / 6 * np.log2(3 / 6)))
    cb = stats["C", "B"]
    assert (cb.wiser_likelihood, cb.entropy) == (pytest.approx(0.5), pytest.approx(1.5))  # (2,2,0,0,4)/8
    assert stats["B", "D"].entropy == pytest.approx(1.0) and stats["B", "D"].wiser_likelihood == 1.0
    # X->Y: (2, 2, 0, 1, 5) / 10 -> entropy 1.761 > 1.69: dropped only because impressions are counted
    xy = stats["X", "Y"]
    assert xy.wiser_likelihood == pytest.approx(0.4)
    assert xy.entropy == pytest.approx(-(2 * 0.2 * np.log2(0.2) + 0.1 * np.log2(0.1) + 0.5 * np.log2(0.5)))
    assert xy.entropy > 1.69 and not xy.kept
    assert stats["C", "A"].wiser_likelihood == -1.0 and not stats["C", "A"].kept  # (0 - 2) / 2
    # a reverse pair seen only through a no_upgrade vote has no marks at all: likelihood 0 (not 0/0)
    lone = edge_statistics(votes("P", "Q", "no_upgrade"))["Q", "P"]
    assert lone.counts()["impressions"] == 1 and lone.wiser_likelihood == 0.0 and not lone.kept


def test_graph_and_page_rank_by_hand():
    graph = build_graph(HAND_VOTES, {"A": {"title": "Alpha"}})
    assert sorted(graph.edges) == [("A", "B"), ("A", "C"), ("B", "D"), ("C", "B")]
    assert graph.nodes["A"]["title"] == "Alpha"
    assert graph.edges["A", "B"]["contexts"] == ["c"]
    ranks = rank_values(graph)
    # weights: A splits 0.4 : 2/3 -> (0.375, 0.625); C -> B and B -> D carry everything; D is a sink.
    # The graph is acyclic, so 100 iterations of r = 0.15/4 + 0.85 W^T r reach the fixed point exactly:
    r_a = 0.0375
    r_c = 0.0375 + 0.85 * 0.625 * r_a
    r_b = 0.0375 + 0.85 * (0.375 * r_a + r_c)
    r_d = 0.0375 + 0.85 * r_b
    assert ranks == pytest.approx({"A": r_a, "B": r_b, "C": r_c, "D": r_d}, abs=1e-15)
    assert r_d == pytest.approx(0.1210224609375)
    assert graph.nodes["D"]["page_rank"] == ranks["D"]
    assert mg.top_values(ranks) == frozenset({"D"})


def test_page_rank_with_a_cycle_matches_the_linear_solution():
    cyclic = HAND_VOTES + votes("D", "A", "upgrade", "upgrade", "upgrade")
    graph = build_graph(cyclic)
    ranks = rank_values(graph)
    nodes = list(graph.nodes)
    weights = nx.to_numpy_array(graph, nodelist=nodes, weight="wiser_likelihood")
    weights /= weights.sum(axis=1, keepdims=True)
    # fixed point of r = (1 - d)/N + d W^T r, solved directly; 100 iterations leave ~0.85^100 = 9e-8 relative
    exact = np.linalg.solve(np.eye(len(nodes)) - 0.85 * weights.T, np.full(len(nodes), 0.15 / len(nodes)))
    np.testing.assert_allclose([ranks[n] for n in nodes], exact, rtol=1e-6)


def test_exports(tmp_path):
    graph = build_graph(HAND_VOTES, {"A": {"title": "Alpha"}})
    rank_values(graph)
    data = mg.graph_to_json(graph)
    assert {n["id"] for n in data["nodes"]} == {"A", "B", "C", "D"}
    json.dumps(data)
    mg.write_graphml(graph, tmp_path / "g.graphml")
    loaded = nx.read_graphml(tmp_path / "g.graphml")
    assert sorted(loaded.edges) == sorted(graph.edges)
    assert loaded.edges["A", "B"]["wiser_likelihood"] == pytest.approx(0.4)
    assert loaded.nodes["D"]["page_rank"] == pytest.approx(graph.nodes["D"]["page_rank"])
    mg.draw_graph(graph, tmp_path / "g.png", title="hand")
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    mg.draw_graph(graph, tmp_path / "won.png", title="hand", winners=["D"])

    def orange_pixels(path):  # the winners' fill colour, #fd8d3c
        image = plt.imread(path)[..., :3]
        return int((np.abs(image - np.array([0xFD, 0x8D, 0x3C]) / 255).max(axis=-1) < 0.02).sum())

    assert orange_pixels(tmp_path / "g.png") == 0 and orange_pixels(tmp_path / "won.png") > 100


def test_library_has_divisive_contexts_and_complete_cards():
    library = load_library()
    assert len(library.contexts) >= 3
    for context in library.contexts.values():
        assert len(context.cards) == 5 and len(context.transitions) >= 5
        for card_id in context.cards:
            card = library.cards[card_id]
            assert card.title and card.instructions_short and card.instructions_detailed
            assert len(card.evaluation_criteria) >= 3


def _scripted(card, *votes_):
    return ScriptedAgent([{"card": card, "vote": 0}] + [{"card": 0, "vote": v} for v in votes_])


def test_payoffs_known_answer():
    """teen_diet with all six transitions; each participant casts the same vote on every transition, so
    the random order in which they see them does not matter."""
    env = aligngames.make("moral_graph_v0", num_participants=3, contexts=["teen_diet"])
    cards = list(load_library().context("teen_diet").cards)
    # p0 holds whats_underneath, p1 protect_the_young, p2 straight_facts; p0 and p1 vote upgrade on every
    # transition, p2 no_upgrade on every one. Every edge gets (2, 1, 0, 0, 3): likelihood 2/3 and entropy
    # 1.459, so all six are kept; four of them point into whats_underneath, the sink that wins.
    players = {"participant_0": _scripted(cards.index("whats_underneath"), *[0] * 6),
               "participant_1": _scripted(cards.index("protect_the_young"), *[0] * 6),
               "participant_2": _scripted(cards.index("straight_facts"), *[1] * 6)}
    env.reset(seed=5)
    returns = dict.fromkeys(players, 0.0)
    for agent in env.agent_iter():
        observation, reward, termination, truncation, info = env.last()
        returns[agent] += reward
        env.step(None if termination or truncation else players[agent].act(observation, agent, env.action_space(agent), info))
    record = env.unwrapped.record()["contexts"][0]
    assert record["winners"] == ["whats_underneath"]
    assert len(record["edges"]) == 6
    # p0's own card wins; p1 voted protect_the_young -> whats_underneath an upgrade; p2 voted it down
    assert returns == {"participant_0": 1.0, "participant_1": 1.0, "participant_2": 0.0}


def test_illegal_actions_raise_before_anything_changes():
    env = aligngames.make("moral_graph_v0", num_participants=2, contexts=["teen_diet"], votes_per_participant=2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="participant_0"):
        env.step({"card": 5, "vote": 0})
    with pytest.raises(ValueError, match="a tabular action is a dict"):
        env.step(3)
    env.step({"card": 1, "vote": 0})  # still participant_0's turn: nothing was recorded
    assert env.agent_selection == "participant_1"


def test_language_mode_parsing_and_invalid_text():
    library = load_library()
    context = library.context("grief_roleplay")
    choice = parse_articulation("card: Honest Presence\nedit: Be warm, never pretend.", context, library)
    assert (choice.card, choice.edit) == ("honest_presence", "Be warm, never pretend.")
    assert parse_articulation("grief-that-moves", context, library).card == "grief_that_moves"
    assert parse_articulation("I value kindness", context, library).card is None
    assert parse_vote("No upgrade.") == "no_upgrade" and parse_vote("not-sure") == "not_sure"
    assert parse_vote("Upgrade") == "upgrade" and parse_vote("yes") is None


def test_golden_tabular_session():
    env = aligngames.make("moral_graph_v0", num_participants=3, contexts=["coworker_theft"], votes_per_participant=3,
                          render_mode="ansi")
    players = {"participant_0": ValueProfileParticipant("carer"),
               "participant_1": ValueProfileParticipant("truth_teller"),
               "participant_2": ValueProfileParticipant("free_spirit", strategy="strategic")}
    check_golden("moral_graph_coworker_tabular.txt", play_and_transcribe(env, players, seed=11))


def test_golden_language_session_with_invalid_text():
    env = aligngames.make("moral_graph_v0", num_participants=2, contexts=["grief_roleplay"], votes_per_participant=2,
                          mode="language", render_mode="ansi")
    players = {"participant_0": ScriptedAgent(["card: honest_presence\nedit: Stay close; never pretend to be her.",
                                               "upgrade", "Not sure"]),
               "participant_1": ScriptedAgent(["I just want my mom back", "maybe?", "no upgrade"])}
    text = play_and_transcribe(env, players, seed=3)
    check_golden("moral_graph_grief_language.txt", text)
    record = env.unwrapped.record()["contexts"][0]
    assert record["articulations"]["participant_1"]["valid"] is False
    assert [v["choice"] for v in record["votes"] if v["voter"] == "participant_1"] == [None, "no_upgrade"]


def test_parallel_and_aec_agree():
    kwargs = {"num_participants": 4, "votes_per_participant": 3}
    profiles = ["carer", "truth_teller", "guardian", "free_spirit"]
    parallel = aligngames.make_parallel("moral_graph_v0", **kwargs)
    observations, infos = parallel.reset(seed=9)
    people = {a: ValueProfileParticipant(p) for a, p in zip(parallel.possible_agents, profiles)}
    while parallel.agents:
        actions = {a: people[a].act(observations[a], a, parallel.action_space(a), infos[a]) for a in parallel.agents}
        observations, _, _, _, infos = parallel.step(actions)
    env = aligngames.make("moral_graph_v0", **kwargs)
    env.reset(seed=9)
    for agent in env.agent_iter():
        observation, _, termination, truncation, info = env.last()
        env.step(None if termination or truncation else people[agent].act(observation, agent, env.action_space(agent), info))
    assert parallel.rules.record() == env.unwrapped.record()


def test_participant_strategies():
    utilities = {"X": 1.0, "Y": 1.3, "Z": 0.95}
    assert honest_vote(utilities, "X", "Y", 0.1) == "upgrade"
    assert honest_vote(utilities, "Y", "X", 0.1) == "no_upgrade"
    assert honest_vote(utilities, "X", "Z", 0.1) == "not_sure"
    assert strategic_vote("Z", "X", "Z") == "upgrade" and strategic_vote("Z", "Z", "Y") == "no_upgrade"
    info = {"stage": "articulate", "cards": ["a", "b"], "dimensions": ["autonomy", "care", "honesty", "safety", "community"],
            "card_dimensions": [[1, 0, 0, 0, 0], [0, 1, 0, 0, 0]]}
    assert ValueProfileParticipant("carer").choose(info) == "b"
    assert ValueProfileParticipant("free_spirit").choose(info) == "a"
    with pytest.raises(ValueError, match="strategy"):
        ValueProfileParticipant("carer", strategy="sneaky")


def test_persona_participant_frames_and_cleans():
    from aligngames.text import text_space

    base = ScriptedAgent(["  card: honest_presence  ", "upgrade\u2014definitely"])
    person = PersonaParticipant(base, "a hospice nurse")
    person.reset(0)
    space = text_space(40)
    assert person.act({"observation": np.zeros(7), "transcript": "T"}, "participant_0", space) == "card: honest_presence"
    assert person.act({"observation": np.zeros(7), "transcript": "T"}, "participant_0", space) == "upgrade-definitely"
    with pytest.raises(ValueError, match="language mode"):
        person.act({"observation": np.zeros(7), "transcript": "T"}, "participant_0", aligngames.make(
            "moral_graph_v0", num_participants=2).action_space("participant_0"))


def test_moral_graph_manipulation_known_answer():
    """Cards X, Y and one transition X -> Y. b, c (Y fans) vote upgrade, a (X fan) no_upgrade, and d, who
    mildly prefers Y (0.6 vs 0.4), honestly says not_sure. Counts (2, 1, 0, 1, 4): entropy 1.75 > 1.69, so
    no edge survives and nothing wins (worth the mean utility, 0.5 to d). If d votes upgrade instead, the
    counts (3, 1, 0, 0, 4) have entropy 1.41 and likelihood 0.75: Y wins, worth 0.6 to d. a, b and c
    cannot gain (a: any other vote makes Y win; b and c: voting less for Y keeps the graph empty)."""
    cast = [Vote("b", "c", "X", "Y", "upgrade"), Vote("c", "c", "X", "Y", "upgrade"),
            Vote("a", "c", "X", "Y", "no_upgrade"), Vote("d", "c", "X", "Y", "not_sure")]
    utilities = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0]), "c": np.array([0.0, 1.0]),
                 "d": np.array([0.4, 0.6])}
    check = mg.moral_graph_manipulation(cast, ["X", "Y"], utilities)
    assert check.manipulators == ["d"]
    assert check.gains["d"] == pytest.approx(0.1)
    assert check.misreports["d"] == ["X>Y=upgrade"]


def test_copeland_and_lottery_manipulation_known_answers():
    """Four voters on X, Y, Z (utilities 2 > 1 > 0 in each voter's order):
    v0 Y>Z>X, v1 X>Z>Y, v2 Z>Y>X, v3 Y>X>Z. Honest margins: Y beats X 3-1, Y-Z and X-Z tie, so Copeland
    elects Y, worth 0 to v1. If v1 reports Z>X>Y, Z beats X 3-1 and Copeland ties {Y, Z}: worth
    (0 + 1) / 2 = 0.5 to v1. No one else can gain."""
    orders = {"v0": "YZX", "v1": "XZY", "v2": "ZYX", "v3": "YXZ"}
    utilities = {v: np.array([2.0 - order.index(card) for card in "XYZ"]) for v, order in orders.items()}
    check = mg.ranking_manipulation("copeland", utilities, ["X", "Y", "Z"])
    assert check.manipulators == ["v1"]
    assert check.gains["v1"] == pytest.approx(0.5)
    assert check.misreports["v1"] == ["Z", "X", "Y"]
    # a three-voter cycle: the maximal lottery is uniform (value 1 to everyone) and every misreport makes
    # the voter's second or third choice a Condorcet winner (value 1 or 0): nobody gains
    cycle = {"v0": "XYZ", "v1": "YZX", "v2": "ZXY"}
    utilities = {v: np.array([2.0 - order.index(card) for card in "XYZ"]) for v, order in cycle.items()}
    assert mg.ranking_manipulation("maximal_lottery", utilities, ["X", "Y", "Z"]).manipulators == []


def test_session_report_and_cli(tmp_path, capsys):
    report = mg.run_session(["carer", "truth_teller", "guardian"], contexts=["teen_diet"], votes_per_participant=3,
                            seed=1)
    (context,) = report.contexts
    assert context.context == "teen_diet"
    assert set(context.representation) == {"participant_0", "participant_1", "participant_2"}
    assert sum(context.lottery.values()) == pytest.approx(1.0)
    assert [c.rule for c in context.checks] == ["moral_graph", "copeland", "maximal_lottery"]
    json.dumps(report.to_dict())
    from aligngames.cli import main

    out = tmp_path / "session"
    assert main(["solve", "moral_graph", "--profiles", "carer", "guardian", "free_spirit", "--strategic", "2",
                 "--contexts", "grief_roleplay", "--votes-per-participant", "2", "--out", str(out)]) == 0
    assert "can profit by misreporting" in capsys.readouterr().out
    for suffix in ("json", "graphml", "png"):
        assert (out / f"grief_roleplay.{suffix}").is_file()
    assert json.loads((out / "report.json").read_text())["participants"]["participant_2"]["strategy"] == "strategic"
