r"""Finite game trees as OpenSpiel python games, and the trees of the library's turn-based tabular games.

A :class:`GameTree` is an explicit extensive-form game (Kuhn 1953; Osborne & Rubinstein 1994, ch. 11): every
node is one of

- :class:`Terminal`: the players' returns ``u(z) = (u_0(z), ..., u_{n-1}(z))``;
- :class:`Chance`: outcomes ``(name, probability, child)``, probabilities > 0 summing to 1;
- :class:`Decision`: the acting ``player``, its ``information_state`` (a string; the nodes that share it are
  one information set, which the player cannot tell apart) and its actions ``(name, child)``, with OpenSpiel
  action ids ``0..k-1`` or the ``action_ids`` given (an env's ``Discrete`` index, so that OpenSpiel's action
  ``a`` is the env's action ``a``).

:func:`tree_game` serves any such tree through ONE python game class (:class:`TreeGame`, the way OpenSpiel's
``open_spiel/python/games/*.py`` are written: a ``pyspiel.Game`` / ``pyspiel.State`` pair registered with
``pyspiel.register_game``), so OpenSpiel's algorithms (``exploitability.nash_conv``, ``cfr``,
``expected_game_score.policy_value``, ...) and :func:`~aligngames.solvers.equilibrium.openspiel_bridge.
from_openspiel` (the reduced normal form) run on it. The expected returns of a behaviour profile ``pi`` are

    v_p(pi) = sum_z  prod_{chance edges on z} q  *  prod_{decision edges (I, a) on z} pi(a | I)  *  u_p(z).

Conventions of the python game:

- Short name ``aligngames_<tree name>_<12 hex digits of a digest of the tree>``: two different trees never share
  a registry entry, and ``pyspiel.load_game(short_name)`` rebuilds the same game.
- ``information_state_string(p)`` at a decision node of ``p`` is the node's ``information_state``. At any other
  node (OpenSpiel asks for it there too) it is what a player with perfect recall knows at the least: its own
  last move, ``"player p after <information state>=<action>"`` (``"player p before its first move"``).
  The observation (``observation_string``) is the information state as well; tensors are one-hot over the
  tree's information states (all zeros off the player's own decision nodes).
- The game type is declared from the tree: ``SEQUENTIAL``, ``EXPLICIT_STOCHASTIC`` when there is a chance node,
  ``PERFECT_INFORMATION`` when every information state holds one node (chance allowed, as in backgammon) and
  ``IMPERFECT_INFORMATION`` otherwise, the library's utility type, terminal rewards.
- Chance outcomes keep their order; OpenSpiel's chance action ``i`` is outcome ``i``.

Tree builders (what :func:`game_tree` dispatches to for an env's rules; :func:`kuhn_poker_tree` is a reference
tree written by hand, in OpenSpiel's ``kuhn_poker`` order):

- :func:`off_switch_tree` (``off_switch_v0``, discrete prior; Hadfield-Menell et al. 2017): chance draws ``U``
  from the prior; the robot (player 0, one information state: it does not see ``U``) chooses ``act``,
  ``switch_off`` or ``defer``; after ``defer`` the human (player 1, sees ``U``) chooses ``switch_off`` or
  ``allow``. Both get ``U`` when the action happens and 0 otherwise (identical interest). Action ids are the
  env's.
- :func:`sparse_debate_tree` (tabular ``debate_v0``, :mod:`aligngames.envs.debate.sparse`): chance draws the
  evidence ``x`` in ``{-1, +1}^n`` (``P(x_i = +1) = feature_prior``); ``debater_a`` (player 0) and ``debater_b``
  alternate, each revealing a feature not yet revealed (action id = feature index) until ``budget`` are shown;
  both see ``x`` and the reveals, so every information state is one node. The Bayes judge answers A when
  ``P(y = 1 | revealed) > 1/2``, B below, and on a tie (within 1e-12) a chance node flips a fair coin; the
  winner gets +1, the loser -1 (zero-sum).
- :func:`assistance_tree` (tabular ``cirl_v0``, :mod:`aligngames.envs.cirl.scenarios`; Hadfield-Menell et al.
  2016): chance draws ``theta`` from the prior; at each step ``t`` the robot (player 0) sees the world state,
  its own moves and the answers (its information state is that history) and takes a legal action (id = the
  env's robot action index); after a question at ``t >= feedback_time`` the human (player 1, sees ``theta``
  and the history) answers (id = the env's human action index). Both get the *discounted* return
  ``sum_t gamma^t reward[theta, s_t, a_R, a_H]`` (what the library's exact solver maximises; the env's rewards
  are undiscounted, the same for ``gamma = 1``); the episode ends at the horizon or a terminal world state.

The library's exact solutions of these games, as OpenSpiel policies on these trees, are in
:mod:`aligngames.solvers.equilibrium.openspiel_tree_policies` (apart, so that this module, which
``openspiel_bridge`` imports, does not load the exact solvers and scipy).

Not tree games: persuasion and contract (the sender / principal commits to a continuous scheme or wage
vector), the tabular red-team rounds and the preference game (simultaneous moves: their ``matrix_game()``
serves them). Not built yet, though their tabular modes have ``Discrete`` actions: recursive debate, Aligner,
amplification and weak-to-strong.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyspiel

from aligngames.envs.cirl import CirlRules
from aligngames.envs.cirl.scenarios import NOOP, AssistanceProblem
from aligngames.envs.debate.sparse import SEATS as DEBATE_SEATS
from aligngames.envs.debate.sparse import SparseDebateRules, posterior_positive
from aligngames.envs.off_switch import HUMAN_ACTIONS, ROBOT_ACTIONS, OffSwitchRules
from aligngames.envs.off_switch.priors import DiscretePrior
from aligngames.game import Utility

#: Probabilities of one chance node must sum to 1 within this.
PROBABILITY_TOLERANCE = 1e-9
#: Returns of a zero-, constant-sum or identical-interest tree must fit its utility type within this.
UTILITY_TOLERANCE = 1e-9
#: The judge of the tabular debate calls a tie when ``|P(y = 1 | revealed) - 1/2|`` is below this (as the env).
JUDGE_TIE_TOLERANCE = 1e-12

#: The library's utility types as OpenSpiel's (same four values).
TO_OPENSPIEL_UTILITY = {
    Utility.ZERO_SUM: pyspiel.GameType.Utility.ZERO_SUM,
    Utility.CONSTANT_SUM: pyspiel.GameType.Utility.CONSTANT_SUM,
    Utility.GENERAL_SUM: pyspiel.GameType.Utility.GENERAL_SUM,
    Utility.IDENTICAL: pyspiel.GameType.Utility.IDENTICAL,
}


# --- the tree description -------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Terminal:
    """A leaf. ``returns[p]`` is player ``p``'s return."""

    returns: tuple[float, ...]


@dataclass(frozen=True, eq=False)
class Chance:
    """A chance node: ``outcomes[i] = (name, probability, child)``; OpenSpiel's chance action ``i``."""

    outcomes: tuple[tuple[str, float, Node], ...]


@dataclass(frozen=True, eq=False)
class Decision:
    """A decision of ``player`` at ``information_state``: ``actions[i] = (name, child)``.

    ``action_ids`` (optional, increasing, >= 0) are the OpenSpiel action ids of the actions; by default
    ``0..len(actions) - 1``. Every node with the same information state must have the same player, action
    names and ids.
    """

    player: int
    information_state: str
    actions: tuple[tuple[str, Node], ...]
    action_ids: tuple[int, ...] = ()


Node = Terminal | Chance | Decision


@dataclass(frozen=True, eq=False)
class GameTree:
    """A finite extensive-form game.

    Attributes:
        name: lowercase letters, digits and underscores (part of OpenSpiel's short name).
        num_players: the players with returns (numbered ``0..num_players - 1``).
        utility: how the returns relate; checked at every leaf.
        root: the first node.
        constant_sum: the sum of the returns for a constant-sum tree.
    """

    name: str
    num_players: int
    utility: Utility
    root: Node
    constant_sum: float = 0.0


# --- the flat table one python game reads -----------------------------------------------------------

_TERMINAL, _CHANCE, _DECISION = 0, 1, 2


class _Table:
    """The tree as flat per-node lists (node 0 is the root). States keep a node index into it; cloning a
    state (OpenSpiel deep-copies python states) shares the table instead of copying the tree."""

    def __init__(self, tree: GameTree) -> None:
        if not isinstance(tree, GameTree):
            raise TypeError(f"tree must be a GameTree, got {type(tree).__name__}")
        if not re.fullmatch(r"[a-z0-9_]+", tree.name):
            raise ValueError(f"tree.name must be lowercase letters, digits and underscores, got {tree.name!r}")
        if tree.num_players < 1:
            raise ValueError(f"tree.num_players must be >= 1, got {tree.num_players}")
        self.tree = tree
        self.kind: list[int] = []
        self.player: list[int] = []
        self.information_state: list[str] = []
        self.names: list[tuple[str, ...]] = []
        self.ids: list[tuple[int, ...]] = []
        self.children: list[list[int]] = []
        self.probabilities: list[tuple[float, ...]] = []
        self.returns: list[tuple[float, ...]] = []
        self.owner: dict[str, tuple[int, tuple[str, ...], tuple[int, ...]]] = {}  # infostate -> player, names, ids
        self.nodes_per_state: dict[str, int] = {}
        self.max_depth = 0  # decision nodes on the longest path
        self.digest = hashlib.sha256(repr((tree.name, tree.num_players, tree.utility.value,
                                           tree.constant_sum)).encode())
        self._add(tree.root, 0)
        if not self.owner:
            raise ValueError("tree: the game has no decision node")
        self.state_index = {key: index for index, key in enumerate(self.owner)}
        leaves = np.array([r for r, kind in zip(self.returns, self.kind) if kind == _TERMINAL])
        self.min_utility, self.max_utility = float(leaves.min()), float(leaves.max())

    def _add(self, node: Node, depth: int) -> int:
        index = len(self.kind)
        self.kind.append(-1)
        self.player.append(-1)
        self.information_state.append("")
        self.names.append(())
        self.ids.append(())
        self.children.append([])
        self.probabilities.append(())
        self.returns.append(())
        if isinstance(node, Terminal):
            self._add_terminal(index, node)
        elif isinstance(node, Chance):
            self._add_chance(index, node, depth)
        elif isinstance(node, Decision):
            self._add_decision(index, node, depth)
        else:
            raise TypeError(f"tree: a node must be Terminal, Chance or Decision, got {type(node).__name__}")
        return index

    def _add_terminal(self, index: int, node: Terminal) -> None:
        tree = self.tree
        returns = tuple(float(r) for r in node.returns)
        if len(returns) != tree.num_players or not all(math.isfinite(r) for r in returns):
            raise ValueError(f"tree: a terminal needs {tree.num_players} finite returns, got {node.returns}")
        if tree.utility in (Utility.ZERO_SUM, Utility.CONSTANT_SUM):
            target = 0.0 if tree.utility is Utility.ZERO_SUM else tree.constant_sum
            if abs(sum(returns) - target) > UTILITY_TOLERANCE:
                raise ValueError(f"tree: returns {returns} do not sum to {target} although the tree is "
                                 f"{tree.utility.value}")
        if tree.utility is Utility.IDENTICAL and max(returns) - min(returns) > UTILITY_TOLERANCE:
            raise ValueError(f"tree: returns {returns} differ although the tree is identical-interest")
        self.kind[index], self.returns[index] = _TERMINAL, returns
        self.digest.update(repr(("T", returns)).encode())

    def _add_chance(self, index: int, node: Chance, depth: int) -> None:
        if not node.outcomes:
            raise ValueError("tree: a chance node needs at least one outcome")
        probabilities = tuple(float(p) for _, p, _ in node.outcomes)
        if min(probabilities) <= 0.0 or abs(sum(probabilities) - 1.0) > PROBABILITY_TOLERANCE:
            raise ValueError(f"tree: chance probabilities must be > 0 and sum to 1, got {list(probabilities)}")
        names = tuple(str(name) for name, _, _ in node.outcomes)
        self.kind[index], self.names[index] = _CHANCE, names
        self.ids[index], self.probabilities[index] = tuple(range(len(names))), probabilities
        self.digest.update(repr(("C", names, probabilities)).encode())
        self.children[index] = [self._add(child, depth) for _, _, child in node.outcomes]

    def _add_decision(self, index: int, node: Decision, depth: int) -> None:
        tree = self.tree
        if not 0 <= node.player < tree.num_players:
            raise ValueError(f"tree: decision player must be in 0..{tree.num_players - 1}, got {node.player}")
        if not node.actions:
            raise ValueError(f"tree: information state {node.information_state!r} has no actions")
        names = tuple(str(name) for name, _ in node.actions)
        ids = tuple(node.action_ids) or tuple(range(len(names)))
        if len(set(names)) != len(names):
            raise ValueError(f"tree: information state {node.information_state!r} has repeated action names {names}")
        if len(ids) != len(names) or ids[0] < 0 or any(b <= a for a, b in itertools.pairwise(ids)):
            raise ValueError(f"tree: information state {node.information_state!r}: action_ids must be one "
                             f"increasing id >= 0 per action, got {node.action_ids}")
        key = str(node.information_state)
        known = self.owner.setdefault(key, (node.player, names, ids))
        if known != (node.player, names, ids):
            raise ValueError(f"tree: information state {key!r} appears with different players or actions: "
                             f"{known} and {(node.player, names, ids)}")
        self.nodes_per_state[key] = self.nodes_per_state.get(key, 0) + 1
        self.max_depth = max(self.max_depth, depth + 1)
        self.kind[index], self.player[index], self.information_state[index] = _DECISION, node.player, key
        self.names[index], self.ids[index] = names, ids
        self.digest.update(repr(("D", node.player, key, names, ids)).encode())
        self.children[index] = [self._add(child, depth + 1) for _, child in node.actions]

    def __deepcopy__(self, memo) -> _Table:
        return self  # immutable once built; shared by every state of the game

    def game_type(self, short_name: str) -> pyspiel.GameType:
        has_chance = _CHANCE in self.kind
        perfect = all(count == 1 for count in self.nodes_per_state.values())
        return pyspiel.GameType(
            short_name=short_name,
            long_name=f"aligngames game tree {self.tree.name}",
            dynamics=pyspiel.GameType.Dynamics.SEQUENTIAL,
            chance_mode=(pyspiel.GameType.ChanceMode.EXPLICIT_STOCHASTIC if has_chance
                         else pyspiel.GameType.ChanceMode.DETERMINISTIC),
            information=(pyspiel.GameType.Information.PERFECT_INFORMATION if perfect
                         else pyspiel.GameType.Information.IMPERFECT_INFORMATION),
            utility=TO_OPENSPIEL_UTILITY[self.tree.utility],
            reward_model=pyspiel.GameType.RewardModel.TERMINAL,
            max_num_players=self.tree.num_players,
            min_num_players=self.tree.num_players,
            provides_information_state_string=True,
            provides_information_state_tensor=True,
            provides_observation_string=True,
            provides_observation_tensor=True,
            parameter_specification={},
            default_loadable=True,
        )

    def game_info(self) -> pyspiel.GameInfo:
        utility = self.tree.utility
        utility_sum = {Utility.ZERO_SUM: 0.0, Utility.CONSTANT_SUM: float(self.tree.constant_sum)}.get(utility)
        chance_sizes = [len(n) for n, kind in zip(self.names, self.kind) if kind == _CHANCE]
        return pyspiel.GameInfo(
            num_distinct_actions=1 + max(ids[-1] for _, _, ids in self.owner.values()),
            max_chance_outcomes=max(chance_sizes, default=0),
            num_players=self.tree.num_players,
            min_utility=self.min_utility,
            max_utility=self.max_utility,
            utility_sum=utility_sum,
            max_game_length=self.max_depth,
        )


# --- the python game --------------------------------------------------------------------------------

class TreeGame(pyspiel.Game):
    """An OpenSpiel game that plays one :class:`GameTree` (build it with :func:`tree_game`)."""

    def __init__(self, table: _Table, short_name: str, params=None) -> None:
        if params:
            raise ValueError(f"params: {short_name} takes no parameters, got {dict(params)}")
        super().__init__(table.game_type(short_name), table.game_info(), {})
        self._table = table

    @property
    def tree(self) -> GameTree:
        return self._table.tree

    def new_initial_state(self) -> TreeState:
        return TreeState(self, self._table)

    def make_py_observer(self, iig_obs_type=None, params=None) -> TreeObserver:
        return TreeObserver(self._table, params)


class TreeState(pyspiel.State):
    """A node of the tree, with each player's last own move (for information states off its turn)."""

    def __init__(self, game: TreeGame, table: _Table) -> None:
        super().__init__(game)
        self._table = table
        self._node = 0
        self._last_move: tuple[str, ...] = ("",) * table.tree.num_players
        self._path: tuple[str, ...] = ()

    def current_player(self) -> int:
        kind = self._table.kind[self._node]
        if kind == _TERMINAL:
            return pyspiel.PlayerId.TERMINAL
        if kind == _CHANCE:
            return pyspiel.PlayerId.CHANCE
        return self._table.player[self._node]

    def _legal_actions(self, player: int) -> list[int]:
        return list(self._table.ids[self._node]) if player == self._table.player[self._node] else []

    def chance_outcomes(self) -> list[tuple[int, float]]:
        return list(zip(self._table.ids[self._node], self._table.probabilities[self._node]))

    def _apply_action(self, action: int) -> None:
        table, node = self._table, self._node
        position = table.ids[node].index(action)
        name = table.names[node][position]
        if table.kind[node] == _DECISION:
            player = table.player[node]
            moves = list(self._last_move)
            moves[player] = f"{table.information_state[node]}={name}"
            self._last_move = tuple(moves)
        self._path = (*self._path, name)
        self._node = table.children[node][position]

    def _action_to_string(self, player: int, action: int) -> str:
        table, node = self._table, self._node
        if action in table.ids[node]:
            return table.names[node][table.ids[node].index(action)]
        return f"action {action}"  # asked about an action of another node (e.g. a history entry)

    def is_terminal(self) -> bool:
        return self._table.kind[self._node] == _TERMINAL

    def returns(self) -> list[float]:
        if self.is_terminal():
            return list(self._table.returns[self._node])
        return [0.0] * self._table.tree.num_players

    def information_state(self, player: int) -> str:
        """The node's information state for its player; otherwise ``player``'s last own move (module docstring)."""
        table, node = self._table, self._node
        if table.kind[node] == _DECISION and table.player[node] == player:
            return table.information_state[node]
        last = self._last_move[player]
        return f"player {player} after {last}" if last else f"player {player} before its first move"

    def __str__(self) -> str:
        return " -> ".join(self._path) if self._path else "(root)"


class TreeObserver:
    """OpenSpiel's PyObserver for a tree: the information state as string and as a one-hot tensor."""

    def __init__(self, table: _Table, params) -> None:
        if params:
            raise ValueError(f"params: observation parameters are not supported, got {params}")
        self._table = table
        self.tensor = np.zeros(len(table.state_index), np.float32)  # one entry per information state
        self.dict = {"information_state": self.tensor}

    def set_from(self, state: TreeState, player: int) -> None:
        self.tensor.fill(0.0)
        index = self._table.state_index.get(state.information_state(player))
        if index is not None:
            self.tensor[index] = 1.0

    def string_from(self, state: TreeState, player: int) -> str:
        return state.information_state(player)


def tree_game(tree: GameTree) -> TreeGame:
    """``tree`` as an OpenSpiel game, registered as ``aligngames_<name>_<digest>`` (module docstring).

    Raises:
        TypeError: ``tree`` is not a :class:`GameTree` (or a node is of another type).
        ValueError: the tree is malformed (the message says where): returns that do not fit the number of
            players or the utility type, chance probabilities that are not a distribution, an information
            state with two players or two action lists, repeated action names, no decision node.
    """
    table = _Table(tree)
    short_name = f"aligngames_{tree.name}_{table.digest.hexdigest()[:12]}"

    # pyspiel keeps the registered creator past interpreter shutdown: a function (closure) creator is then freed
    # without the GIL and aborts the process at exit (measured with OpenSpiel 2.0.2); a class, as OpenSpiel's own
    # python games register, is not. So each tree gets a small subclass that knows its table.
    class RegisteredTreeGame(TreeGame):
        def __init__(self, params=None) -> None:
            super().__init__(table, short_name, params)

    pyspiel.register_game(table.game_type(short_name), RegisteredTreeGame)
    return RegisteredTreeGame()


# --- trees of the library's games --------------------------------------------------------------------

def off_switch_tree(prior: DiscretePrior) -> GameTree:
    """The off-switch game for a discrete prior on ``U`` (module docstring); zero-probability values are left out.

    Raises:
        ValueError: ``prior`` is not a :class:`~aligngames.envs.off_switch.priors.DiscretePrior` (a Gaussian
            prior has no finite tree).
    """
    if not isinstance(prior, DiscretePrior):
        raise ValueError(f"prior: the off-switch game tree needs a DiscretePrior (finitely many U), "
                         f"got {type(prior).__name__}")
    robot_ids, human_ids = tuple(range(len(ROBOT_ACTIONS))), tuple(range(len(HUMAN_ACTIONS)))
    outcomes = []
    for value, probability in zip(prior.values, prior.probabilities):
        if probability <= 0.0:
            continue
        acted, off = Terminal((value, value)), Terminal((0.0, 0.0))
        human = Decision(1, f"human: U={value!r}, the robot deferred",
                         tuple(zip(HUMAN_ACTIONS, (off if a == "switch_off" else acted for a in HUMAN_ACTIONS))),
                         human_ids)
        by_name = {"act": acted, "switch_off": off, "defer": human}
        robot = Decision(0, "robot: U unknown", tuple((a, by_name[a]) for a in ROBOT_ACTIONS), robot_ids)
        outcomes.append((f"U={value!r}", probability, robot))
    return GameTree("off_switch", 2, Utility.IDENTICAL, Chance(tuple(outcomes)))


def sparse_debate_tree(weights: Sequence[float], budget: int, feature_prior: float = 0.5) -> GameTree:
    """The tabular sparse-evidence debate (module docstring): ``2^n`` evidence vectors times the reveal orders.

    The tree has ``2^n * n! / (n - budget)!`` reveal sequences: keep ``n`` small (the default 7 features with
    budget 4 make 107,520; OpenSpiel's python algorithms walk it slowly).

    Raises:
        ValueError: as :class:`~aligngames.envs.debate.sparse.SparseDebateRules` (checked by building one).
    """
    rules = SparseDebateRules(weights, budget=budget, feature_prior=feature_prior)  # the env's argument checks
    weights, n, p = rules.weights, rules.weights.size, rules.feature_prior
    posteriors: dict[tuple[tuple[int, int], ...], float] = {}

    def verdict(revealed: tuple[tuple[int, int], ...]) -> Node:
        if revealed not in posteriors:
            posteriors[revealed] = posterior_positive(weights, dict(revealed), p)
        positive = posteriors[revealed]
        a_wins, b_wins = Terminal((1.0, -1.0)), Terminal((-1.0, 1.0))
        if abs(positive - 0.5) < JUDGE_TIE_TOLERANCE:
            return Chance((("judge coin: A", 0.5, a_wins), ("judge coin: B", 0.5, b_wins)))
        return a_wins if positive > 0.5 else b_wins

    def reveal(signs: str, evidence: tuple[int, ...], order: tuple[int, ...]) -> Node:
        if len(order) == budget:
            return verdict(tuple(sorted((i, evidence[i]) for i in order)))
        player = len(order) % 2
        features = tuple(i for i in range(n) if i not in order)
        state = f"{DEBATE_SEATS[player]}: x={signs}, revealed [{','.join(map(str, order))}]"
        return Decision(player, state, tuple((f"reveal {i}", reveal(signs, evidence, (*order, i))) for i in features),
                        features)

    outcomes = []
    for evidence in itertools.product((-1, 1), repeat=n):
        signs = "".join("+" if v == 1 else "-" for v in evidence)
        probability = float(np.prod([p if v == 1 else 1.0 - p for v in evidence]))
        outcomes.append((f"x={signs}", probability, reveal(signs, evidence, ())))
    return GameTree("sparse_debate", 2, Utility.ZERO_SUM, Chance(tuple(outcomes)))


def assistance_tree(problem: AssistanceProblem) -> GameTree:
    """The assistance game ``problem`` with the human as a player (module docstring); zero-prior thetas are left out."""
    if not isinstance(problem, AssistanceProblem):
        raise ValueError(f"problem must be an AssistanceProblem, got {type(problem).__name__}")

    def step(theta: int, time: int, state: int, history: str, gained: float) -> Node:
        if time >= problem.horizon or problem.terminal[state]:
            return Terminal((gained, gained))
        robot_ids = tuple(int(a) for a in np.flatnonzero(problem.robot_legal[state]))
        actions = []
        for action in robot_ids:
            name = problem.robot_actions[action]
            if problem.human_acts(time, action):
                answers = tuple(int(a) for a in np.flatnonzero(problem.answers[action]))
                human = Decision(1, f"human: theta={problem.thetas[theta]}; {history}; t={time}: {name}?",
                                 tuple((problem.human_actions[a], after(theta, time, state, history, gained, action, a))
                                       for a in answers), answers)
                actions.append((name, human))
            else:
                actions.append((name, after(theta, time, state, history, gained, action, NOOP)))
        return Decision(0, f"robot: {history}", tuple(actions), robot_ids)

    def after(theta: int, time: int, state: int, history: str, gained: float, action: int, answer: int) -> Node:
        reward = float(problem.reward[theta, state, action, answer])
        move = problem.robot_actions[action] + (f"->{problem.human_actions[answer]}" if answer != NOOP else "")
        return step(theta, time + 1, int(problem.next_state[state, action, answer]), f"{history} {move}",
                    gained + problem.discount ** time * reward)

    outcomes = tuple((f"theta={problem.thetas[theta]}", float(problem.prior[theta]),
                      step(theta, 0, problem.initial_state, "start", 0.0))
                     for theta in range(len(problem.thetas)) if problem.prior[theta] > 0.0)
    return GameTree("assistance", 2, Utility.IDENTICAL, Chance(outcomes))


def kuhn_poker_tree() -> GameTree:
    """Kuhn poker (Kuhn 1950) written out as a tree, in OpenSpiel's ``kuhn_poker`` order: chance deals player 0's
    card (0, 1, 2 = jack, queen, king), then player 1's; each player passes or bets one chip over an ante of 1.
    A reference for the tree description: its reduced normal form is OpenSpiel's (27 x 64, value -1/18)."""
    deals = []
    for card_0 in range(3):
        second = []
        for card_1 in (card for card in range(3) if card != card_0):
            showdown = 1.0 if card_0 > card_1 else -1.0  # player 0's gain per chip in the pot

            def pays(amount: float) -> Terminal:
                return Terminal((amount, -amount))

            after_pass_bet = Decision(0, f"p0 card {card_0}: pass, bet", (("Pass", pays(-1.0)),
                                                                           ("Bet", pays(2.0 * showdown))))
            after_pass = Decision(1, f"p1 card {card_1}: pass", (("Pass", pays(showdown)), ("Bet", after_pass_bet)))
            after_bet = Decision(1, f"p1 card {card_1}: bet", (("Pass", pays(1.0)), ("Bet", pays(2.0 * showdown))))
            first = Decision(0, f"p0 card {card_0}", (("Pass", after_pass), ("Bet", after_bet)))
            second.append((f"Deal:{card_1}", 0.5, first))
        deals.append((f"Deal:{card_0}", 1.0 / 3.0, Chance(tuple(second))))
    return GameTree("kuhn_poker", 2, Utility.ZERO_SUM, Chance(tuple(deals)))


def game_tree(game) -> GameTree | None:
    """The :class:`GameTree` of ``game``: a GameTree itself, or an env / raw env / rules object of a turn-based
    tabular game with a tree builder (off switch with a discrete prior, tabular debate, tabular CIRL with a
    random theta); ``None`` for anything else (e.g. a matrix game).

    Raises:
        ValueError: the env is one of those games but its settings have no finite tree (a Gaussian prior,
            a CIRL env with ``theta`` fixed, language mode).
    """
    if isinstance(game, GameTree):
        return game
    rules = game
    for candidate in (game, getattr(game, "unwrapped", None)):
        if candidate is not None and hasattr(candidate, "rules"):
            rules = candidate.rules
            break
    if isinstance(rules, OffSwitchRules):
        return off_switch_tree(rules.prior)
    if isinstance(rules, SparseDebateRules):
        return sparse_debate_tree(rules.weights.tolist(), rules.budget, rules.feature_prior)
    if isinstance(rules, CirlRules):
        if rules.mode != "tabular":
            raise ValueError(f"game: a cirl_v0 game tree needs mode='tabular', got {rules.mode!r}")
        if rules.fixed_theta is not None:
            raise ValueError(f"game: the cirl_v0 env fixes theta={rules.fixed_theta!r}; the game tree draws theta "
                             f"from the prior (make the env without theta=...)")
        return assistance_tree(rules.problem)
    return None


__all__ = ["TO_OPENSPIEL_UTILITY", "Chance", "Decision", "GameTree", "Node", "Terminal", "TreeGame", "TreeObserver", "TreeState",
           "assistance_tree", "game_tree", "kuhn_poker_tree", "off_switch_tree", "sparse_debate_tree", "tree_game"]
