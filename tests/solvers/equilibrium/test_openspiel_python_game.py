"""Game trees as OpenSpiel python games: Kuhn poker by hand against OpenSpiel's own, and the library's turn-based
tabular games (off switch, tabular debate, CIRL) against the library's exact values and NashConv."""

from __future__ import annotations

import numpy as np
import pyspiel
import pytest
from open_spiel.python import policy as policy_lib
from open_spiel.python.algorithms import expected_game_score
from open_spiel.python.algorithms import exploitability as os_exploitability

import aligngames
from aligngames.agents.assistance import HumanModel
from aligngames.agents.off_switch import OffSwitchHumanModel
from aligngames.envs.off_switch.priors import DiscretePrior
from aligngames.game import Utility
from aligngames.solvers.equilibrium.nash import nash_conv, solve_zero_sum
from aligngames.solvers.equilibrium.openspiel_bridge import from_openspiel, reduced_normal_form, to_openspiel
from aligngames.solvers.equilibrium.openspiel_python_game import (
    Chance,
    Decision,
    GameTree,
    Terminal,
    game_tree,
    kuhn_poker_tree,
    tree_game,
)
from aligngames.solvers.equilibrium.openspiel_tree_policies import (
    assistance_policy,
    off_switch_policy,
    sparse_debate_policy,
)
from aligngames.solvers.exact import assistance
from aligngames.solvers.exact import off_switch as exact_off_switch
from aligngames.solvers.exact.sparse_debate import solve_sparse_debate

TOLERANCE = 1e-9


def _value(game: pyspiel.Game, policy) -> np.ndarray:
    return np.asarray(expected_game_score.policy_value(game.new_initial_state(), [policy] * game.num_players()))


# --- Kuhn poker, written by hand ----------------------------------------------------------------

def test_kuhn_poker_by_hand_is_openspiels_kuhn_poker():
    spiel = tree_game(kuhn_poker_tree())
    kind = spiel.get_type()
    assert kind.dynamics == pyspiel.GameType.Dynamics.SEQUENTIAL
    assert kind.chance_mode == pyspiel.GameType.ChanceMode.EXPLICIT_STOCHASTIC
    assert kind.information == pyspiel.GameType.Information.IMPERFECT_INFORMATION
    assert kind.utility == pyspiel.GameType.Utility.ZERO_SUM
    assert (spiel.num_distinct_actions(), spiel.max_chance_outcomes(), spiel.max_game_length()) == (2, 3, 3)
    assert (spiel.min_utility(), spiel.max_utility()) == (-2.0, 2.0)
    reference = pyspiel.load_game("kuhn_poker")
    ours, theirs = reduced_normal_form(spiel), reduced_normal_form(reference)
    assert ours.matrix_game.payoffs.shape == (2, 27, 64)
    np.testing.assert_allclose(ours.matrix_game.payoffs, theirs.matrix_game.payoffs, rtol=0, atol=1e-12)
    # the same strategies in the same order: only the information-state names differ
    assert [list(s.values()) for s in ours.strategies[1]] == [list(s.values()) for s in theirs.strategies[1]]
    solution = solve_zero_sum(ours.matrix_game)
    assert abs(solution.value - (-1.0 / 18.0)) <= TOLERANCE
    policy = ours.behaviour_policy([solution.row, solution.col])
    assert abs(os_exploitability.nash_conv(spiel, policy)) <= TOLERANCE
    np.testing.assert_allclose(_value(spiel, policy), [-1.0 / 18.0, 1.0 / 18.0], atol=TOLERANCE)  # OpenSpiel's value
    uniform = os_exploitability.nash_conv(spiel, policy_lib.TabularPolicy(spiel))
    assert uniform == pytest.approx(os_exploitability.nash_conv(reference, policy_lib.TabularPolicy(reference)), abs=1e-12)
    assert uniform > 0.9  # 11/12: the check above can fail
    # registered: OpenSpiel rebuilds the same game from its name
    loaded = pyspiel.load_game(kind.short_name)
    np.testing.assert_array_equal(from_openspiel(loaded).payoffs, ours.matrix_game.payoffs)


def test_states_clone_and_information_states():
    spiel = tree_game(kuhn_poker_tree())
    state = spiel.new_initial_state()
    state.apply_action(2)  # player 0 gets the king
    state.apply_action(0)  # player 1 gets the jack
    assert state.current_player() == 0 and state.legal_actions() == [0, 1]
    assert state.information_state_string(0) == "p0 card 2"
    assert state.information_state_string(1) == "player 1 before its first move"
    branch = state.clone()
    branch.apply_action(1)
    assert branch.information_state_string(1) == "p1 card 0: bet"
    assert branch.information_state_string(0) == "player 0 after p0 card 2=Bet"
    assert state.current_player() == 0 and str(state) == "Deal:2 -> Deal:0"  # the clone did not move it
    branch.apply_action(0)
    assert branch.is_terminal() and branch.returns() == [1.0, -1.0]
    tensor = np.asarray(state.information_state_tensor(0))
    assert tensor.sum() == 1.0 and tensor.size == 12  # one-hot over Kuhn's 12 information states


# --- the off-switch game --------------------------------------------------------------------------

PRIOR = DiscretePrior((-1.0, 0.5, 2.0), (0.3, 0.3, 0.4))


def test_off_switch_normal_form_is_the_exact_values():
    env = aligngames.make("off_switch_v0", prior="discrete", values=list(PRIOR.values),
                          probabilities=list(PRIOR.probabilities))
    spiel = to_openspiel(env)
    assert spiel.get_type().utility == pyspiel.GameType.Utility.IDENTICAL
    form = reduced_normal_form(spiel)
    payoffs = form.matrix_game.payoffs
    assert payoffs.shape == (2, 3, 8)  # act, switch_off, defer x allow-or-not for each of the 3 values of U
    exact = exact_off_switch.values(PRIOR)
    for column, strategy in enumerate(form.strategies[1]):
        # action 1 is "allow": deferring is worth the sum of p(U) U over the values the human allows
        deferred = sum(value * probability for value, probability in zip(PRIOR.values, PRIOR.probabilities)
                       if strategy[f"human: U={value!r}, the robot deferred"] == 1)
        np.testing.assert_allclose(payoffs[0, :, column], [exact.act, 0.0, deferred], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(payoffs[0], payoffs[1])
    row, column = np.unravel_index(np.argmax(payoffs[0]), payoffs[0].shape)
    assert form.matrix_game.action_names[0][row] == "robot: U unknown=defer" and exact.best == "defer"
    assert payoffs[0, row, column] == pytest.approx(exact.defer, abs=1e-12)  # E[max(U, 0)] = 0.95


@pytest.mark.parametrize("human", [exact_off_switch.RATIONAL, OffSwitchHumanModel("boltzmann", beta=1.0),
                                   OffSwitchHumanModel("boltzmann", beta=0.2), OffSwitchHumanModel("noisy", epsilon=0.1)])
def test_off_switch_openspiel_nash_conv_is_the_library_nash_conv(human):
    spiel = to_openspiel(game_tree(aligngames.make("off_switch_v0", prior="discrete", values=list(PRIOR.values),
                                                   probabilities=list(PRIOR.probabilities)).unwrapped))
    exact = exact_off_switch.values(PRIOR, human)
    # the robot best-responds to its human model; a human who is not rational gives up E[max(U,0)] - defer
    expected = exact_off_switch.values(PRIOR).defer - exact.defer if exact.best == "defer" else 0.0
    policy = off_switch_policy(spiel, PRIOR, human)
    theirs = os_exploitability.nash_conv(spiel, policy)
    assert abs(theirs - expected) <= TOLERANCE
    # and the library's nash_conv on the normal form, the human's mixed strategy a product over U
    form = reduced_normal_form(spiel)
    allow = {f"human: U={v!r}, the robot deferred": float(human.allow_probability(v)) for v in PRIOR.values}
    mixed = np.array([np.prod([allow[key] if action == 1 else 1.0 - allow[key] for key, action in strategy.items()])
                      for strategy in form.strategies[1]])
    robot = np.eye(3)[["act", "switch_off", "defer"].index(exact.best)]
    assert abs(nash_conv(form.matrix_game.payoffs, [robot, mixed]) - theirs) <= TOLERANCE
    assert _value(spiel, policy)[0] == pytest.approx(max(exact.act, 0.0, exact.defer), abs=1e-12)
    if human.kind == "boltzmann" and human.beta == 1.0:
        assert theirs > 0.2  # 0.2327: not an equilibrium, so the check can fail


# --- tabular debate ------------------------------------------------------------------------------

def test_sparse_debate_minimax_is_an_equilibrium_with_the_exact_value():
    weights, budget = (2.0, 1.0, 1.0, 1.0), 3
    env = aligngames.make("debate_v0", mode="tabular", weights=list(weights), budget=budget)
    spiel = to_openspiel(env)
    assert spiel.get_type().information == pyspiel.GameType.Information.PERFECT_INFORMATION
    assert spiel.get_type().utility == pyspiel.GameType.Utility.ZERO_SUM
    policy = sparse_debate_policy(spiel, weights, budget)
    assert abs(os_exploitability.nash_conv(spiel, policy)) <= TOLERANCE  # minimax: the library's NashConv is 0
    exact = solve_sparse_debate(weights, budget)
    # integer weights with an odd sum never tie and the judge is symmetric under x -> -x, so debater_a (honest
    # when y = 1, the liar otherwise, always first) earns (2 honest_first - 1)/2 + (1 - 2 liar_first)/2
    np.testing.assert_allclose(_value(spiel, policy), [exact.honest_first - exact.liar_first,
                                                       exact.liar_first - exact.honest_first], atol=1e-12)
    assert exact.honest_first - exact.liar_first == pytest.approx(0.1875)
    assert os_exploitability.nash_conv(spiel, policy_lib.TabularPolicy(spiel)) > 0.5  # uniform reveals: 0.54


def test_sparse_debate_normal_form_value():
    weights, budget = (2.0, 1.0), 1  # debater_a's 16 reveal plans; debater_b never moves
    form = from_openspiel(to_openspiel(aligngames.make("debate_v0", mode="tabular", weights=list(weights),
                                                       budget=budget)))
    assert form.payoffs.shape == (2, 16, 1)
    exact = solve_sparse_debate(weights, budget)
    assert solve_zero_sum(form).value == pytest.approx(exact.honest_first - exact.liar_first, abs=1e-12)


# --- CIRL (assistance) -----------------------------------------------------------------------------

def test_assistance_openspiel_nash_conv_is_the_library_nash_conv():
    env = aligngames.make("cirl_v0", scenario="meal_choice", horizon=4)
    spiel = to_openspiel(env)
    problem = env.unwrapped.rules.problem
    best = assistance.solve(problem).value
    for ask in ("anytime", "learning_first", "never"):
        solution = assistance.solve(problem, ask=ask)
        policy = assistance_policy(spiel, solution)
        np.testing.assert_allclose(_value(spiel, policy), [solution.value] * 2, atol=1e-12)
        # the robot could reach the optimum; the human gains what a strategic human gets over the model
        human_gain = assistance.evaluate(solution, "strategic") - assistance.evaluate(solution, solution.human)
        assert abs(os_exploitability.nash_conv(spiel, policy) - (best - solution.value + human_gain)) <= TOLERANCE
    assert best - assistance.solve(problem, ask="never").value > 0.2  # asking is worth 0.249: the check can fail
    # a robot planning with a Boltzmann human is a best response to it, but the human can do better
    solution = assistance.solve(problem, HumanModel("boltzmann", beta=2.0))
    theirs = os_exploitability.nash_conv(spiel, assistance_policy(spiel, solution))
    assert abs(theirs - (assistance.evaluate(solution, "strategic") - solution.value)) <= TOLERANCE
    assert theirs > 1e-3  # 0.0072


# --- errors -----------------------------------------------------------------------------------------

def _one_decision(*returns: tuple[float, ...], utility: Utility = Utility.ZERO_SUM, name: str = "tiny") -> GameTree:
    actions = tuple((f"a{i}", Terminal(r)) for i, r in enumerate(returns))
    return GameTree(name, 2, utility, Decision(0, "s", actions))


def test_bad_trees_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="needs 2 finite returns"):
        tree_game(_one_decision((1.0,)))
    with pytest.raises(ValueError, match="do not sum to 0.0"):
        tree_game(_one_decision((1.0, 1.0)))
    with pytest.raises(ValueError, match="differ although the tree is identical-interest"):
        tree_game(_one_decision((1.0, 0.0), utility=Utility.IDENTICAL))
    with pytest.raises(ValueError, match="lowercase letters"):
        tree_game(_one_decision((1.0, -1.0), name="Bad Name"))
    with pytest.raises(ValueError, match="must be > 0 and sum to 1"):
        tree_game(GameTree("c", 2, Utility.ZERO_SUM, Chance((("x", 0.5, Terminal((0.0, 0.0))),))))
    with pytest.raises(ValueError, match="no decision node"):
        tree_game(GameTree("c", 2, Utility.ZERO_SUM, Chance((("x", 1.0, Terminal((0.0, 0.0))),))))
    leaf = Terminal((0.0, 0.0))
    clash = Chance((("x", 0.5, Decision(0, "s", (("a", leaf),))), ("y", 0.5, Decision(0, "s", (("b", leaf),)))))
    with pytest.raises(ValueError, match="appears with different players or actions"):
        tree_game(GameTree("c", 2, Utility.ZERO_SUM, clash))
    with pytest.raises(ValueError, match="repeated action names"):
        tree_game(GameTree("c", 2, Utility.ZERO_SUM, Decision(0, "s", (("a", leaf), ("a", leaf)))))
    with pytest.raises(ValueError, match="action_ids must be one increasing id"):
        tree_game(GameTree("c", 2, Utility.ZERO_SUM, Decision(0, "s", (("a", leaf), ("b", leaf)), (3, 1))))
    with pytest.raises(ValueError, match="player must be in 0..1"):
        tree_game(GameTree("c", 2, Utility.ZERO_SUM, Decision(2, "s", (("a", leaf),))))
    with pytest.raises(TypeError, match="must be a GameTree"):
        tree_game(kuhn_poker_tree().root)


def test_envs_without_a_finite_tree_are_refused():
    with pytest.raises(ValueError, match="needs a DiscretePrior"):
        to_openspiel(aligngames.make("off_switch_v0", prior="gaussian"))
    with pytest.raises(ValueError, match="needs mode='tabular'"):
        to_openspiel(aligngames.make("cirl_v0", scenario="meal_choice", mode="language", feedback_time=2))
    with pytest.raises(ValueError, match="fixes theta='apple'"):
        to_openspiel(aligngames.make("cirl_v0", scenario="meal_choice", theta="apple"))
    with pytest.raises(ValueError, match="short_name: a game tree"):
        to_openspiel(kuhn_poker_tree(), short_name="mine")
