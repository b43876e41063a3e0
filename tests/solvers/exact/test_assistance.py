"""The exact assistance-game solver against known answers.

Known answers come from two independent sources:
- hand-derived values of the pie kitchen (ALGORITHMS.md): with the human back at ``f`` the robot
  makes dough, asks at ``max(f, 1)`` and bakes the answer, worth ``-0.1 g^t + 2 g^(t+2)``; when the
  answer would come too late it bakes apple (prior 0.875), worth ``g^2 (0.875 * 2 - 0.125)``;
- a brute-force expectimax over histories written here from the text of ALGORITHMS.md (its own
  kitchen rules, no tables, no belief normalisation, no memo): the value of the best policy tree
  is the max, at each history, of the sum over theta of prior(theta) * P(answers | theta) * return.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from aligngames.agents.assistance import HumanModel
from aligngames.envs.cirl import scenarios
from aligngames.solvers.exact.assistance import evaluate, format_plan, solve, value_of_assistance

GAMMA = 0.99


# --- an independent brute force for the kitchen ------------------------------------------------

def _kitchen_step(state: str, action: str, fillings: tuple[str, ...], theta: str) -> tuple[str, float]:
    """ALGORITHMS.md: flour -make-> dough -make_k-> pie k -make-> end (+2 if pie k is theta's, else -1)."""
    if action in ("noop", "ask"):
        return state, (-0.1 if action == "ask" else 0.0)
    k = int(action.split("_")[1]) - 1
    if state == "flour":
        return "dough", 0.0
    if state == "dough":
        return fillings[k], 0.0
    if state in fillings:
        return "end", (2.0 if state == theta else -1.0)
    raise AssertionError(state)


def _answer_likelihood(answer: str, theta: str, fillings, model: str, epsilon: float) -> float:
    truthful = 1.0 if answer == theta else 0.0
    if model == "truthful":
        return truthful
    return (1 - epsilon) * truthful + epsilon / len(fillings)


def brute_force_kitchen(fillings, prior, feedback_time, *, horizon=6, model="truthful", epsilon=0.0,
                        ask_rule="anytime") -> float:
    actions = ["noop", *(f"make_{k + 1}" for k in range(len(fillings))), "ask"]

    def best(time, state, weights, acted):
        # weights[theta] = prior(theta) * P(answers so far | theta), unnormalised
        if time == horizon or state == "end":
            return 0.0
        values = []
        for action in actions:
            if action == "ask" and (ask_rule == "never" or (ask_rule == "learning_first" and acted)):
                continue
            now_acted = acted or action.startswith("make")
            if action == "ask" and time >= feedback_time:
                total = 0.0
                for answer in fillings:
                    new = {theta: w * _answer_likelihood(answer, theta, fillings, model, epsilon)
                           for theta, w in weights.items()}
                    if sum(new.values()) == 0:
                        continue
                    total += sum(w * -0.1 for w in new.values())
                    total += GAMMA * best(time + 1, state, new, now_acted)
                values.append(total)
                continue
            total = 0.0
            next_state = None
            for theta, w in weights.items():
                next_state, reward = _kitchen_step(state, action, fillings, theta)
                total += w * reward
            values.append(total + GAMMA * best(time + 1, next_state, weights, now_acted))
        return max(values)

    return best(0, "flour", dict(zip(fillings, prior)), False)


def brute_force_open_loop(fillings, prior, horizon=6) -> float:
    """Never asking: the best fixed action sequence (all len(actions)^horizon of them)."""
    actions = ["noop", *(f"make_{k + 1}" for k in range(len(fillings)))]
    best = -np.inf
    for sequence in itertools.product(actions, repeat=horizon):
        value = 0.0
        for theta, p in zip(fillings, prior):
            state = "flour"
            for time, action in enumerate(sequence):
                if state == "end":
                    break
                state, reward = _kitchen_step(state, action, fillings, theta)
                value += p * GAMMA ** time * reward
        best = max(best, value)
    return best


# --- hand-derived values ------------------------------------------------------------------------

@pytest.mark.parametrize(("feedback_time", "expected"), [
    (0, -0.1 * GAMMA + 2 * GAMMA ** 3),      # dough at t=0, ask at t=1 (a later ask costs less)
    (1, -0.1 * GAMMA + 2 * GAMMA ** 3),
    (2, -0.1 * GAMMA ** 2 + 2 * GAMMA ** 4),
    (3, -0.1 * GAMMA ** 3 + 2 * GAMMA ** 5),
    (4, GAMMA ** 2 * (0.875 * 2 - 0.125)),   # the answer would come too late: bake apple at once
    (6, GAMMA ** 2 * (0.875 * 2 - 0.125)),
])
def test_meal_choice_values_by_hand(feedback_time, expected):
    solution = solve(scenarios.meal_choice(feedback_time=feedback_time))
    assert solution.value == pytest.approx(expected, abs=1e-12)


def test_meal_choice_feedback_time_3_value_and_plan():
    solution = solve(scenarios.meal_choice(feedback_time=3))
    assert solution.value == pytest.approx(1.80495, abs=1e-5)
    node = solution.plan()
    actions = []
    while node is not None and len(node.branches) == 1:
        actions.append(node.action)
        node = node.branches[0][2]
    # make the dough while the human is away, wait, then ask at t=3
    assert actions == ["make_1", "noop", "noop"]
    assert node.action == "ask" and node.time == 3
    follow_up = {answer: child.action for answer, _, child in node.branches}
    assert follow_up == {"apple": "make_1", "blueberry": "make_2"}
    assert "t=3 dough" in "\n".join(format_plan(solution.plan()))


# --- against the brute force ---------------------------------------------------------------------

@pytest.mark.parametrize("feedback_time", range(7))
def test_meal_choice_matches_brute_force(feedback_time):
    problem = scenarios.meal_choice(feedback_time=feedback_time)
    for ask in ("anytime", "learning_first", "never"):
        expected = brute_force_kitchen(("apple", "blueberry"), (0.875, 0.125), feedback_time, ask_rule=ask)
        assert solve(problem, ask=ask).value == pytest.approx(expected, abs=1e-12), ask


@pytest.mark.parametrize(("feedback_time", "epsilon"), [(0, 0.3), (2, 0.5)])
def test_noisy_human_matches_brute_force(feedback_time, epsilon):
    problem = scenarios.meal_choice(feedback_time=feedback_time)
    expected = brute_force_kitchen(("apple", "blueberry"), (0.875, 0.125), feedback_time, model="noisy", epsilon=epsilon)
    assert solve(problem, HumanModel("noisy", epsilon=epsilon)).value == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("feedback_time", [0, 3, 4])
def test_cherry_matches_brute_force(feedback_time):
    fillings, prior = ("apple", "blueberry", "cherry"), (0.5, 0.3, 0.2)
    problem = scenarios.meal_choice_cherry(feedback_time=feedback_time)
    assert solve(problem).value == pytest.approx(brute_force_kitchen(fillings, prior, feedback_time), abs=1e-12)
    assert solve(problem, ask="never").value == pytest.approx(brute_force_open_loop(fillings, prior), abs=1e-12)


def test_never_ask_matches_open_loop_enumeration():
    problem = scenarios.meal_choice()
    expected = brute_force_open_loop(("apple", "blueberry"), (0.875, 0.125))
    assert solve(problem, ask="never").value == pytest.approx(expected, abs=1e-12)


def brute_force_desk(junk, horizon, ask_cost=0.3) -> float:
    """tidy_desk from its description: per item keep (+1 if wanted, 0 if junk), discard (+1 if junk,
    -3 if wanted) or ask (-ask_cost; a truthful answer says junk or wanted)."""
    thetas = list(itertools.product((0, 1), repeat=3))
    prior = {t: np.prod([junk[i] if bit else 1 - junk[i] for i, bit in enumerate(t)]) for t in thetas}

    def best(time, status, weights):
        if time == horizon or all(s != "desk" for s in status):
            return 0.0
        values = [GAMMA * best(time + 1, status, weights)]  # noop
        for i in range(3):
            if status[i] != "desk":
                continue
            for verb in ("keep", "discard"):
                reward = sum(w * ((0.0 if t[i] else 1.0) if verb == "keep" else (1.0 if t[i] else -3.0))
                             for t, w in weights.items())
                moved = (*status[:i], verb, *status[i + 1:])
                values.append(reward + GAMMA * best(time + 1, moved, weights))
            total = 0.0
            for bit in (0, 1):
                branch = {t: w for t, w in weights.items() if t[i] == bit}
                if branch:
                    total += -ask_cost * sum(branch.values()) + GAMMA * best(time + 1, status, branch)
            values.append(total)
        return max(values)

    return best(0, ("desk",) * 3, prior)


@pytest.mark.parametrize("horizon", [3, 4])
def test_tidy_desk_matches_brute_force(horizon):
    problem = scenarios.tidy_desk(horizon=horizon)
    assert solve(problem).value == pytest.approx(brute_force_desk((0.95, 0.5, 0.15), horizon), abs=1e-12)


# --- qualitative behaviour --------------------------------------------------------------------------

def _asks(solution) -> bool:
    stack = [solution.plan()]
    while stack:
        node = stack.pop()
        if node is None:
            continue
        if solution.problem.is_question(solution.problem.robot_actions.index(node.action)):
            return True
        stack += [child for _, _, child in node.branches]
    return False


def _baked(solution) -> str:
    """The filling the plan puts in the dough (before any answer arrives)."""
    node = solution.plan()
    while node.state != "dough" or node.action in ("noop", "ask"):
        assert len(node.branches) == 1, "an answer arrived before the filling was chosen"
        node = node.branches[0][2]
    return {"make_1": "apple", "make_2": "blueberry"}[node.action]


@pytest.mark.parametrize("feedback_time", range(7))
def test_asks_when_the_answer_arrives_in_time_else_bakes_the_likelier_pie(feedback_time):
    solution = solve(scenarios.meal_choice(feedback_time=feedback_time))
    in_time = feedback_time <= 3  # ask at f, fill at f+1, serve at f+2 <= horizon - 1 = 5
    assert _asks(solution) == in_time
    if not in_time:
        assert _baked(solution) == "apple"
        flipped = solve(scenarios.meal_choice(feedback_time=feedback_time, prior=(0.2, 0.8)))
        assert _baked(flipped) == "blueberry"


def test_late_question_can_still_stop_serving_the_wrong_pie():
    # prior 0.8 blueberry, human back at t=4: fill blueberry, ask at t=4, serve only on "blueberry"
    # (0.8 * 2 g^5 - 0.1 g^4 beats serving at once, g^2 (0.8 * 2 - 0.2)); with prior 0.875 apple it does not
    solution = solve(scenarios.meal_choice(feedback_time=4, prior=(0.2, 0.8)))
    assert solution.value == pytest.approx(0.8 * 2 * GAMMA ** 5 - 0.1 * GAMMA ** 4, abs=1e-12)
    assert solution.value > GAMMA ** 2 * (0.8 * 2 - 0.2)


def _questions_asked(solution) -> set[str]:
    asked, stack = set(), [solution.plan()]
    while stack:
        node = stack.pop()
        if node is not None:
            if node.action.startswith("ask_"):
                asked.add(node.action)
            stack += [child for _, _, child in node.branches]
    return asked


def test_tidy_desk_asks_only_about_the_uncertain_item():
    # value of information per item: p if p <= 0.8 else 4 - 4p for P(junk) = p; a question costs 0.3
    assert _questions_asked(solve(scenarios.tidy_desk())) == {"ask_letter"}
    # no time to act on an answer: never ask; cheap questions (0.05) and time: ask about every item
    assert not _asks(solve(scenarios.tidy_desk(horizon=3)))
    assert _questions_asked(solve(scenarios.tidy_desk(ask_cost=0.05, horizon=6))) == {
        "ask_receipts", "ask_letter", "ask_notebook"}
    values = value_of_assistance(scenarios.tidy_desk())
    assert values["anytime"] > values["learning_first"] > values["never"]


def test_value_of_assistance_over_reward_learning_when_the_human_is_away():
    values = value_of_assistance(scenarios.meal_choice(feedback_time=3))
    # reward learning must wait idle for the human and then has no time left to bake
    assert values["learning_first"] == pytest.approx(values["never"], abs=1e-12)
    assert values["anytime"] - values["learning_first"] == pytest.approx(
        (-0.1 * GAMMA ** 3 + 2 * GAMMA ** 5) - GAMMA ** 2 * 1.625, abs=1e-12)


# --- human models -------------------------------------------------------------------------------------

def test_boltzmann_human_answer_distribution_and_limit():
    model = HumanModel("boltzmann", beta=1.0)
    probabilities = model.answer_distribution(np.array([0.0, 2.0, -1.0]), np.array([False, True, True]))
    assert probabilities.tolist() == pytest.approx([0.0, 1 / (1 + np.exp(-3)), 1 / (1 + np.exp(3))])
    # a nearly rational Boltzmann human is worth the same as a truthful one
    problem = scenarios.meal_choice(feedback_time=1)
    assert solve(problem, HumanModel("boltzmann", beta=30.0)).value == pytest.approx(solve(problem).value, abs=1e-9)
    # a very noisy one is not worth asking
    assert not _asks(solve(problem, HumanModel("boltzmann", beta=0.05)))


def test_evaluate_is_consistent_and_strategic_human_best_responds():
    problem = scenarios.meal_choice(feedback_time=0)
    noisy = HumanModel("noisy", epsilon=0.3)
    truthful_robot, noisy_robot = solve(problem), solve(problem, noisy)
    assert evaluate(truthful_robot, HumanModel("truthful")) == pytest.approx(truthful_robot.value, abs=1e-12)
    assert evaluate(noisy_robot, noisy) == pytest.approx(noisy_robot.value, abs=1e-12)
    # planning for the wrong human cannot beat planning for the right one
    assert evaluate(truthful_robot, noisy) <= noisy_robot.value + 1e-12
    # a strategic human answers to help the robot; here that is the truthful answer, every time
    assert evaluate(truthful_robot, "strategic") == pytest.approx(truthful_robot.value, abs=1e-12)
    assert evaluate(noisy_robot, "strategic") == pytest.approx(evaluate(noisy_robot, HumanModel("truthful")), abs=1e-12)
    assert evaluate(noisy_robot, "strategic") > noisy_robot.value + 0.1


def test_policy_is_a_function_of_belief():
    solution = solve(scenarios.meal_choice(feedback_time=6))
    dough = scenarios.meal_choice().states.index("dough")
    assert solution.problem.robot_actions[solution.action(1, dough, [0.9, 0.1])] == "make_1"
    assert solution.problem.robot_actions[solution.action(1, dough, [0.1, 0.9])] == "make_2"
