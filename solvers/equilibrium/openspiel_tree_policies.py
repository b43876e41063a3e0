"""The library's exact solutions of its turn-based tabular games as OpenSpiel policies on their game trees.

For the trees of :mod:`aligngames.solvers.equilibrium.openspiel_python_game` (built by ``to_openspiel(env)``),
each function returns a ``TabularPolicy`` that plays the library's exact solution at every information state,
so ``open_spiel.python.algorithms.exploitability.nash_conv(game, policy)`` and
``expected_game_score.policy_value`` can be compared with the library's own numbers:

- :func:`off_switch_policy`: the robot takes the best option of
  :func:`aligngames.solvers.exact.off_switch.values` for the human model, the human allows with the model's
  ``allow_probability(U)``. NashConv: the robot best-responds, so it is what the human gains by answering
  rationally, ``E[max(U, 0)] - defer(human)`` when the robot defers, and 0 otherwise.
- :func:`sparse_debate_policy`: both debaters play
  :class:`~aligngames.solvers.exact.sparse_debate.MinimaxRevealer` (exact minimax); NashConv 0.
- :func:`assistance_policy`: the robot plays an :func:`aligngames.solvers.exact.assistance.solve` solution at
  its belief after the answers so far (Bayes on the model it planned with; an answer the model deems
  impossible leaves the belief unchanged, as in :func:`~aligngames.solvers.exact.assistance.evaluate`), the
  human answers as that model. NashConv: ``optimum - value`` (the robot's gain, e.g. a robot that may not
  ask) plus ``evaluate(solution, "strategic") - evaluate(solution, model)`` (the human's).

Each walks the OpenSpiel game's decision nodes and reads the node's situation back from ``state.history()``
(chance outcome first, then the env's action ids).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pyspiel
from open_spiel.python import policy as policy_lib

from aligngames.agents.off_switch import OffSwitchHumanModel
from aligngames.envs.cirl.scenarios import NOOP
from aligngames.envs.debate.sparse import SEATS as DEBATE_SEATS
from aligngames.envs.off_switch import ROBOT_ACTIONS
from aligngames.envs.off_switch.priors import DiscretePrior
from aligngames.solvers.exact import off_switch as exact_off_switch
from aligngames.solvers.exact.assistance import Solution as AssistanceSolution
from aligngames.solvers.exact.assistance import answer_probabilities
from aligngames.solvers.exact.sparse_debate import MinimaxRevealer


def _decision_states(game: pyspiel.Game):
    """Every decision node of ``game`` once (depth first), as a ``pyspiel.State``."""
    stack = [game.new_initial_state()]
    while stack:
        state = stack.pop()
        if state.is_terminal():
            continue
        if state.is_chance_node():
            stack.extend(state.child(action) for action, _ in state.chance_outcomes())
            continue
        yield state
        stack.extend(state.child(action) for action in state.legal_actions())


def _set_row(policy: policy_lib.TabularPolicy, state: pyspiel.State, probabilities: np.ndarray) -> None:
    key = state.information_state_string(state.current_player())
    row = np.zeros(policy.action_probability_array.shape[1])
    row[:len(probabilities)] = probabilities
    policy.action_probability_array[policy.state_lookup[key]] = row


def off_switch_policy(game: pyspiel.Game, prior: DiscretePrior,
                      human: OffSwitchHumanModel = exact_off_switch.RATIONAL) -> policy_lib.TabularPolicy:
    """The exact solution of :mod:`aligngames.solvers.exact.off_switch` on :func:`off_switch_tree`'s game: the
    robot takes ``values(prior, human).best``, the human allows with ``human.allow_probability(U)``."""
    best = ROBOT_ACTIONS.index(exact_off_switch.values(prior, human).best)
    values = [value for value, probability in zip(prior.values, prior.probabilities) if probability > 0.0]
    policy = policy_lib.TabularPolicy(game)
    for state in _decision_states(game):
        if state.current_player() == 0:
            _set_row(policy, state, np.eye(len(ROBOT_ACTIONS))[best])
        else:
            allow = float(human.allow_probability(values[state.history()[0]]))
            _set_row(policy, state, np.array([1.0 - allow, allow]))  # HUMAN_ACTIONS: switch_off, allow
    return policy


def sparse_debate_policy(game: pyspiel.Game, weights: Sequence[float], budget: int,
                         feature_prior: float = 0.5) -> policy_lib.TabularPolicy:
    """Both debaters play :class:`~aligngames.solvers.exact.sparse_debate.MinimaxRevealer` (the exact minimax
    move, ties to the lowest feature) on :func:`sparse_debate_tree`'s game, asked through its observation."""
    agent = MinimaxRevealer(weights, budget, feature_prior)
    n = len(weights)
    evidences = list(itertools.product((-1, 1), repeat=n))  # chance outcome i of the tree
    policy = policy_lib.TabularPolicy(game)
    for state in _decision_states(game):
        evidence, order = np.array(evidences[state.history()[0]], dtype=np.float64), state.history()[1:]
        mask = np.zeros(n)
        mask[order] = 1.0
        player = state.current_player()
        # the env's observation features: [evidence (n), revealed mask (n), revealed values (n), seat, reveals left]
        features = np.concatenate([evidence, mask, mask * evidence, [player, budget - len(order)]])
        feature = agent.act({"observation": features.astype(np.float32)}, DEBATE_SEATS[player], None)
        _set_row(policy, state, np.eye(n)[feature])
    return policy


def assistance_policy(game: pyspiel.Game, solution: AssistanceSolution) -> policy_lib.TabularPolicy:
    """An exact assistance solution on :func:`assistance_tree`'s game: the robot plays ``solution.action`` at its
    belief after the answers so far, the human answers as the model the robot planned with (``solution.human``)."""
    problem = solution.problem
    thetas = [theta for theta in range(len(problem.thetas)) if problem.prior[theta] > 0.0]  # chance outcomes
    likelihood = answer_probabilities(problem, solution.human)  # (theta, a_R, a_H)
    policy = policy_lib.TabularPolicy(game)
    for state in _decision_states(game):
        history = state.history()
        theta, time, world, acted, answers, position = thetas[history[0]], 0, problem.initial_state, False, [], 1
        question = None
        while position < len(history):  # replay the history: robot action, then the answer if the human acts
            action, answer = history[position], NOOP
            position += 1
            if problem.human_acts(time, action):
                if position == len(history):
                    question = action  # the human is to answer it now
                    break
                answer = history[position]
                position += 1
                answers.append((action, answer))
            acted = acted or (action != NOOP and not problem.is_question(action))
            world, time = int(problem.next_state[world, action, answer]), time + 1
        if state.current_player() == 0:
            action = solution.action(time, world, solution.belief_after(answers), acted)
            _set_row(policy, state, np.eye(len(problem.robot_actions))[action])
        else:
            _set_row(policy, state, likelihood[theta, question])
    return policy


__all__ = ["assistance_policy", "off_switch_policy", "sparse_debate_policy"]
