"""A bridge between the library's tabular games and OpenSpiel (``pyspiel``), both ways.

- :func:`to_openspiel`: a :class:`~aligngames.game.MatrixGame` (or an env / raw env / meta-game with
  ``matrix_game()``) -> a ``pyspiel.MatrixGame`` (two players) or ``pyspiel.TensorGame`` (any number
  of players), declared with the library's utility type (zero-sum, constant-sum, general-sum,
  identical) rather than one OpenSpiel infers from the floats. A turn-based tabular game with a finite
  tree (a :class:`~aligngames.solvers.equilibrium.openspiel_python_game.GameTree`, or the env of the off-switch
  game with a discrete prior, tabular debate or tabular CIRL) -> a sequential OpenSpiel python game
  (:mod:`aligngames.solvers.equilibrium.openspiel_python_game`).
- :func:`from_openspiel`: a ``pyspiel.Game`` -> a :class:`~aligngames.game.MatrixGame`. Normal-form
  games (``pyspiel.MatrixGame`` / ``TensorGame``, e.g. ``load_game("matrix_rps")``) and one-shot
  simultaneous games (e.g. ``"blotto"``) are read entry by entry, with OpenSpiel's action names.
  Sequential games (and simultaneous games with several rounds or chance, first put through
  ``pyspiel.convert_to_turn_based``) become their *reduced normal form* (:func:`reduced_normal_form`).
- :func:`to_openspiel_policy`: one mixed strategy per player of a normal-form game -> an OpenSpiel
  ``TabularPolicy``, so that ``open_spiel.python.algorithms.exploitability.nash_conv`` can be run on the
  library's solutions; :meth:`ReducedNormalForm.behaviour_policy` does the same for a sequential game.

Conventions:

- Player order: OpenSpiel's player ``p`` is the library's player ``p``; player 0 is the row player of a
  two-player game, and ``payoffs[p][a_0, ..., a_{k-1}]`` is player ``p``'s payoff (OpenSpiel's
  ``player_utility(p, [a_0, ...])``; tensor utilities are flattened in C order).
- Payoffs are copied as float64, unchanged in both directions (no re-centring of constant sums).
- Utility: OpenSpiel's ``GameType.Utility`` and the library's :class:`~aligngames.game.Utility` have the
  same four values and map by name; a constant-sum game's constant is OpenSpiel's ``utility_sum()``.
  A converted game is always a normal form, so its dynamics is ``SIMULTANEOUS`` (both players pick a
  whole pure strategy at once); a two-player game is marked symmetric when it is square,
  ``payoffs[1] == payoffs[0].T`` exactly and both players have the same action names.
- Chance: in the reduced normal form, chance is averaged out: a profile's payoff is the expectation
  over chance outcomes (OpenSpiel's ``chance_outcomes()`` probabilities) of the terminal returns.
- Reduced normal form: a pure strategy picks one action at each of the player's information states
  that its own earlier choices do not rule out (strategies that differ only at unreachable states are
  one strategy). It is named ``"<infostate>=<action>"`` for each chosen state, joined by ``"; "``.
  Games need perfect recall, information-state strings and at most ``max_strategies`` pure strategies
  per player; anything else is refused with the reason (and the count).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyspiel
from open_spiel.python import policy as policy_lib

from aligngames.game import Dynamics, GameInfo, MatrixGame, Utility
from aligngames.solvers.equilibrium.openspiel_python_game import TO_OPENSPIEL_UTILITY, game_tree, tree_game
from aligngames.solvers.inputs import strategy_array

#: The most pure strategies per player :func:`from_openspiel` enumerates in a reduced normal form.
DEFAULT_MAX_STRATEGIES = 4096
#: The largest number of joint actions read from a one-shot simultaneous game.
MAX_JOINT_ACTIONS = 1_000_000
#: The most payoff entries (players x profiles, and the sequence-form intermediates) a reduced normal form may have.
MAX_PAYOFF_ENTRIES = 20_000_000

_FROM_OPENSPIEL_UTILITY = {value: key for key, value in TO_OPENSPIEL_UTILITY.items()}

#: A sequence of one player: (information state, action); ``None`` is the empty sequence.
_Sequence = tuple[str, int]


# --- library -> OpenSpiel -------------------------------------------------------------------------

def _as_matrix_game(game) -> MatrixGame:
    """``game`` itself, or what its ``matrix_game()`` returns (an env, a raw env, a meta-game)."""
    if isinstance(game, MatrixGame):
        return game
    for candidate in (game, getattr(game, "unwrapped", None)):
        method = getattr(candidate, "matrix_game", None)
        if callable(method):
            result = method()
            if not isinstance(result, MatrixGame):
                raise TypeError(f"to_openspiel: {type(candidate).__name__}.matrix_game() returned "
                                f"{type(result).__name__}, not a MatrixGame")
            return result
    raise TypeError(f"to_openspiel needs an aligngames MatrixGame, a GameTree, or an env (or raw env) with a "
                    f"matrix_game() method or a game tree, e.g. a tabular env; got {type(game).__name__}, which has "
                    f"no matrix_game()")


def _game_type(short_name: str, num_players: int, utility: Utility) -> pyspiel.GameType:
    return pyspiel.GameType(
        short_name=short_name,
        long_name=f"aligngames {short_name}",
        dynamics=pyspiel.GameType.Dynamics.SIMULTANEOUS,
        chance_mode=pyspiel.GameType.ChanceMode.DETERMINISTIC,
        information=pyspiel.GameType.Information.ONE_SHOT,
        utility=TO_OPENSPIEL_UTILITY[utility],
        reward_model=pyspiel.GameType.RewardModel.TERMINAL,
        max_num_players=num_players,
        min_num_players=num_players,
        provides_information_state_string=True,
        provides_information_state_tensor=True,
        provides_observation_string=True,
        provides_observation_tensor=True,
        parameter_specification={},
        default_loadable=False,
    )


def to_openspiel(game, *, short_name: str | None = None) -> pyspiel.Game:
    """The normal-form or turn-based tabular game ``game`` as an OpenSpiel game.

    Args:
        game: a :class:`~aligngames.game.MatrixGame`, or an env, raw env or meta-game with a
            ``matrix_game()`` method (called; PettingZoo wrappers are looked through via ``unwrapped``);
            or a :class:`~aligngames.solvers.equilibrium.openspiel_python_game.GameTree`, or an env / raw env /
            rules of a turn-based tabular game with a tree (``openspiel_python_game.game_tree``).
        short_name: OpenSpiel's ``GameType.short_name`` for a normal-form game (default
            ``"aligngames_matrix_game"``). A tree game is always named ``aligngames_<tree name>_<digest>``.

    Returns:
        A ``pyspiel.MatrixGame`` for two players (row/column action names, ``row_utility`` is player 0's
        payoff), a ``pyspiel.TensorGame`` for one or three and more players; either way declared
        with the library's utility type, ``Dynamics.SIMULTANEOUS`` and ``Information.ONE_SHOT``. For a
        tree: a sequential python game (``openspiel_python_game.TreeGame``).

    Raises:
        TypeError: ``game`` is neither a MatrixGame nor has ``matrix_game()`` or a tree.
        ValueError: the game is marked identical-interest but its players' payoffs differ; ``short_name`` given
            for a tree; an env whose settings have no finite tree (a Gaussian off-switch prior, ...).
    """
    tree = game_tree(game)
    if tree is not None:
        if short_name is not None:
            raise ValueError(f"short_name: a game tree is registered as aligngames_<tree name>_<digest>; "
                             f"got short_name={short_name!r} (set GameTree.name instead)")
        return tree_game(tree)
    short_name = "aligngames_matrix_game" if short_name is None else short_name
    matrix = _as_matrix_game(game)
    payoffs, info = matrix.payoffs, matrix.info
    if info.utility is Utility.IDENTICAL and not np.allclose(payoffs, payoffs[:1], atol=1e-9):
        raise ValueError("to_openspiel: the game is marked identical-interest but its players' payoffs differ")
    game_type = _game_type(short_name, info.num_players, info.utility)
    names = [list(player_names) for player_names in matrix.action_names]
    if info.num_players == 2:
        return pyspiel.MatrixGame(game_type, {}, names[0], names[1], payoffs[0].tolist(), payoffs[1].tolist())
    return pyspiel.TensorGame(game_type, {}, names, [player.ravel().tolist() for player in payoffs])


def to_openspiel_policy(game: pyspiel.Game, strategies: Sequence[np.ndarray]) -> policy_lib.TabularPolicy:
    """One mixed strategy per player of a one-shot OpenSpiel game, as a ``TabularPolicy``.

    ``strategies[p][i]`` is the probability that player ``p`` plays its ``i``-th legal action (for a
    game from :func:`to_openspiel`, the library's action ``i``). The policy can be passed to
    ``open_spiel.python.algorithms.exploitability.nash_conv(game, policy)``.

    Raises:
        ValueError: the game is not one-shot (one decision per player), or the strategies do not fit it.
    """
    num_players = game.num_players()
    if len(strategies) != num_players:
        raise ValueError(f"to_openspiel_policy: need one strategy per player ({num_players}), got {len(strategies)}")
    root = game.new_initial_state()
    if not root.is_simultaneous_node():
        raise ValueError("to_openspiel_policy takes a one-shot simultaneous game (a matrix or tensor game); for a "
                         "sequential game use reduced_normal_form(game).behaviour_policy(strategies)")
    tabular = policy_lib.TabularPolicy(game)
    for player, strategy in enumerate(strategies):
        keys = tabular.states_per_player[player]
        if len(keys) != 1:
            raise ValueError(f"to_openspiel_policy takes a one-shot game; player {player} has {len(keys)} "
                             f"information states")
        actions = root.legal_actions(player)
        probabilities = strategy_array(strategy, len(actions), f"to_openspiel_policy: strategies[{player}]")
        row = np.zeros(tabular.action_probability_array.shape[1])
        row[actions] = probabilities
        tabular.action_probability_array[tabular.state_lookup[keys[0]]] = row
    return tabular


# --- OpenSpiel -> library -------------------------------------------------------------------------

def _info(game: pyspiel.Game, payoffs: np.ndarray, names: tuple[tuple[str, ...], ...]) -> GameInfo:
    """The GameInfo of a normal form read from ``game``: OpenSpiel's utility type, simultaneous moves."""
    utility = _FROM_OPENSPIEL_UTILITY[game.get_type().utility]
    constant = float(game.utility_sum()) if utility is Utility.CONSTANT_SUM else 0.0
    symmetric = bool(payoffs.shape[0] == 2 and payoffs.shape[1] == payoffs.shape[2] and names[0] == names[1]
                     and np.array_equal(payoffs[1], payoffs[0].T))
    return GameInfo(payoffs.shape[0], utility, Dynamics.SIMULTANEOUS, symmetric=symmetric, constant_sum=constant)


def _from_normal_form(game: pyspiel.NormalFormGame) -> MatrixGame:
    if isinstance(game, pyspiel.MatrixGame):
        payoffs = np.stack([np.asarray(game.row_utilities(), dtype=np.float64),
                            np.asarray(game.col_utilities(), dtype=np.float64)])
        names = (tuple(game.row_action_name(i) for i in range(game.num_rows())),
                 tuple(game.col_action_name(j) for j in range(game.num_cols())))
    else:
        shape = tuple(game.shape())
        payoffs = np.stack([np.asarray(game.player_utilities(p), dtype=np.float64).reshape(shape)
                            for p in range(game.num_players())])
        names = tuple(tuple(game.action_name(p, a) for a in range(size)) for p, size in enumerate(shape))
    return MatrixGame(payoffs, _info(game, payoffs, names), names)


def _from_one_shot(game: pyspiel.Game) -> MatrixGame | None:
    """The table of a simultaneous game that ends after one joint move without chance; None otherwise.

    Raises:
        ValueError: the first joint move has more than :data:`MAX_JOINT_ACTIONS` joint actions.
    """
    root = game.new_initial_state()
    if not root.is_simultaneous_node():
        return None
    actions = [root.legal_actions(p) for p in range(game.num_players())]
    joint = int(np.prod([len(a) for a in actions], dtype=np.float64))
    if joint > MAX_JOINT_ACTIONS:
        raise ValueError(f"from_openspiel: {game.get_type().short_name} has {joint} joint actions at its first move, "
                         f"more than {MAX_JOINT_ACTIONS} (MAX_JOINT_ACTIONS)")
    payoffs = np.empty((game.num_players(), *(len(a) for a in actions)))
    for index in itertools.product(*(range(len(a)) for a in actions)):
        child = root.clone()
        child.apply_actions([a[i] for a, i in zip(actions, index)])
        if not child.is_terminal():
            return None
        payoffs[(slice(None), *index)] = child.returns()
    names = tuple(tuple(root.action_to_string(p, a) for a in player_actions) for p, player_actions in enumerate(actions))
    return MatrixGame(payoffs, _info(game, payoffs, names), names)


@dataclass(frozen=True)
class ReducedNormalForm:
    """The reduced normal form of a sequential OpenSpiel game.

    Attributes:
        game: the (turn-based) OpenSpiel game it was computed from.
        matrix_game: the normal form: one row per reduced pure strategy, expected payoffs (chance averaged).
        strategies: for each player, its reduced pure strategies as ``{information state: action}``
            (only the states the strategy itself can reach), in the order of the matrix game's axes.
    """

    game: pyspiel.Game
    matrix_game: MatrixGame
    strategies: tuple[tuple[dict[str, int], ...], ...]

    def behaviour_policy(self, mixed: Sequence[np.ndarray]) -> policy_lib.TabularPolicy:
        """The behaviour policy equivalent to one mixed strategy per player (Kuhn's theorem).

        At information state ``I`` action ``a`` gets the weight of the pure strategies that choose
        ``a`` at ``I`` over the weight of those that reach ``I``; states no strategy with positive
        weight reaches keep the uniform policy. Pass it to OpenSpiel's ``exploitability.nash_conv(self.game, ...)``.
        """
        if len(mixed) != len(self.strategies):
            raise ValueError(f"behaviour_policy: need one mixed strategy per player ({len(self.strategies)}), "
                             f"got {len(mixed)}")
        tabular = policy_lib.TabularPolicy(self.game)
        for player, (pure, weights) in enumerate(zip(self.strategies, mixed)):
            weights = strategy_array(weights, len(pure), f"behaviour_policy: mixed[{player}]")
            totals: dict[str, np.ndarray] = {}
            for strategy, weight in zip(pure, weights):
                for state, action in strategy.items():
                    row = totals.setdefault(state, np.zeros(tabular.action_probability_array.shape[1]))
                    row[action] += weight
            for state, row in totals.items():
                if row.sum() > 0.0:
                    tabular.action_probability_array[tabular.state_lookup[state]] = row / row.sum()
        return tabular


@dataclass
class _Tree:
    """What one walk of the game tree records."""

    num_players: int
    actions: dict[str, tuple[int, ...]]               # information state -> legal actions
    action_names: dict[str, tuple[str, ...]]
    parent: dict[str, _Sequence | None]               # information state -> the player's previous sequence
    owner: dict[str, int]
    leaves: dict[tuple[_Sequence | None, ...], np.ndarray]  # last sequence of each player -> expected returns


def _walk(game: pyspiel.Game) -> _Tree:
    tree = _Tree(game.num_players(), {}, {}, {}, {}, {})

    def visit(state: pyspiel.State, probability: float, last: tuple[_Sequence | None, ...]) -> None:
        if state.is_terminal():
            returns = probability * np.asarray(state.returns(), dtype=np.float64)
            tree.leaves[last] = tree.leaves.get(last, 0.0) + returns
            return
        if state.is_chance_node():
            for action, chance in state.chance_outcomes():
                if chance > 0.0:
                    visit(state.child(action), probability * chance, last)
            return
        if state.is_simultaneous_node():
            raise ValueError("reduced_normal_form: the game still has simultaneous nodes; "
                             "pass pyspiel.convert_to_turn_based(game)")
        player = state.current_player()
        key = state.information_state_string(player)
        actions = tuple(state.legal_actions(player))
        if key not in tree.actions:
            tree.actions[key], tree.parent[key], tree.owner[key] = actions, last[player], player
            tree.action_names[key] = tuple(state.action_to_string(player, a) for a in actions)
        elif tree.parent[key] != last[player] or tree.actions[key] != actions or tree.owner[key] != player:
            raise ValueError(f"reduced_normal_form needs a game with perfect recall; information state {key!r} of "
                             f"player {player} is reached after different own moves (or with different legal actions)")
        for action in actions:
            visit(state.child(action), probability, (*last[:player], (key, action), *last[player + 1:]))

    visit(game.new_initial_state(), 1.0, (None,) * game.num_players())
    return tree


def _children(tree: _Tree, player: int) -> dict[_Sequence | None, list[str]]:
    """For each sequence of ``player``, the information states that come right after it (in visit order)."""
    children: dict[_Sequence | None, list[str]] = {}
    for key, parent in tree.parent.items():
        if tree.owner[key] == player:
            children.setdefault(parent, []).append(key)
    return children


def _count(children: dict[_Sequence | None, list[str]], tree: _Tree, sequence: _Sequence | None) -> int:
    total = 1
    for key in children.get(sequence, []):
        total *= sum(_count(children, tree, (key, action)) for action in tree.actions[key])
    return total


def _enumerate(children: dict[_Sequence | None, list[str]], tree: _Tree,
               sequence: _Sequence | None) -> list[dict[str, int]]:
    """The reduced pure strategies below ``sequence``, as ``{information state: action}``."""
    per_state = []
    for key in children.get(sequence, []):
        options = [{key: action, **rest} for action in tree.actions[key]
                   for rest in _enumerate(children, tree, (key, action))]
        per_state.append(options)
    return [dict(item for part in combination for item in part.items())
            for combination in itertools.product(*per_state)]


def _strategy_name(tree: _Tree, strategy: dict[str, int]) -> str:
    if not strategy:
        return "(no move)"
    return "; ".join(f"{key}={tree.action_names[key][tree.actions[key].index(action)]}"
                     for key, action in strategy.items())


def reduced_normal_form(game: pyspiel.Game, *, max_strategies: int = DEFAULT_MAX_STRATEGIES) -> ReducedNormalForm:
    """The reduced normal form of a small sequential game (e.g. ``"kuhn_poker"``: 27 x 64 strategies).

    Simultaneous games are first converted with ``pyspiel.convert_to_turn_based``. The payoffs are
    computed in sequence form: each terminal history adds its chance probability times its returns
    to every profile whose strategies contain the history's last move of each player.

    Raises:
        ValueError: the game lacks information-state strings or perfect recall, or a player has more
            than ``max_strategies`` reduced pure strategies (the message gives the count).
    """
    if max_strategies < 1:
        raise ValueError(f"max_strategies must be >= 1, got {max_strategies}")
    name = game.get_type().short_name
    if game.get_type().dynamics == pyspiel.GameType.Dynamics.SIMULTANEOUS:
        game = pyspiel.convert_to_turn_based(game)
    if not game.get_type().provides_information_state_string:
        raise ValueError(f"reduced_normal_form needs information-state strings; {name} does not provide them")
    tree = _walk(game)
    children = [_children(tree, player) for player in range(tree.num_players)]
    for player in range(tree.num_players):
        count = _count(children[player], tree, None)
        if count > max_strategies:
            raise ValueError(f"reduced_normal_form: player {player} of {name} has {count} reduced "
                             f"pure strategies, more than max_strategies={max_strategies}")
    counts = [_count(children[player], tree, None) for player in range(tree.num_players)]
    sequences = [1 + sum(len(tree.actions[key]) for key, owner in tree.owner.items() if owner == player)
                 for player in range(tree.num_players)]
    entries = tree.num_players * int(np.prod([max(c, q) for c, q in zip(counts, sequences)], dtype=np.float64))
    if entries > MAX_PAYOFF_ENTRIES:
        raise ValueError(f"reduced_normal_form: {name}'s normal form has "
                         f"{' x '.join(map(str, counts))} pure strategy profiles, too many to tabulate "
                         f"(over {MAX_PAYOFF_ENTRIES} payoff entries)")
    strategies = tuple(tuple(_enumerate(children[player], tree, None)) for player in range(tree.num_players))
    # realization[p][s, q]: strategy s of player p contains sequence q (column 0: the empty sequence)
    realization, columns = [], []
    for player, pure in enumerate(strategies):
        index: dict[_Sequence | None, int] = {None: 0}
        for key, owner in tree.owner.items():
            if owner == player:
                for action in tree.actions[key]:
                    index[(key, action)] = len(index)
        matrix = np.zeros((len(pure), len(index)))
        matrix[:, 0] = 1.0
        for row, strategy in enumerate(pure):
            for item in strategy.items():
                matrix[row, index[item]] = 1.0
        realization.append(matrix)
        columns.append(index)
    weights = np.zeros((tree.num_players, *(len(index) for index in columns)))
    for last, returns in tree.leaves.items():
        weights[(slice(None), *(columns[p][sequence] for p, sequence in enumerate(last)))] += returns
    payoffs = weights
    for player, matrix in enumerate(realization):  # contract axis player + 1 (sequences) into strategies
        payoffs = np.moveaxis(np.tensordot(payoffs, matrix, axes=([player + 1], [1])), -1, player + 1)
    names = tuple(tuple(_strategy_name(tree, strategy) for strategy in pure) for pure in strategies)
    return ReducedNormalForm(game, MatrixGame(payoffs, _info(game, payoffs, names), names), strategies)


def from_openspiel(game: pyspiel.Game, *, max_strategies: int = DEFAULT_MAX_STRATEGIES) -> MatrixGame:
    """An OpenSpiel game as the library's :class:`~aligngames.game.MatrixGame`.

    Normal-form games (``pyspiel.MatrixGame``, ``pyspiel.TensorGame``) and one-shot simultaneous games
    are read as they are, with OpenSpiel's action names; any other game becomes its reduced normal form
    (:func:`reduced_normal_form`, at most ``max_strategies`` pure strategies per player). The utility
    type is OpenSpiel's ``game.get_type().utility``; the dynamics is simultaneous (module docstring).
    """
    if not isinstance(game, pyspiel.Game):
        raise TypeError(f"from_openspiel needs a pyspiel.Game (e.g. pyspiel.load_game('matrix_rps')); "
                        f"got {type(game).__name__}")
    if isinstance(game, pyspiel.NormalFormGame):
        return _from_normal_form(game)
    if game.get_type().dynamics == pyspiel.GameType.Dynamics.SIMULTANEOUS:
        one_shot = _from_one_shot(game)
        if one_shot is not None:
            return one_shot
    return reduced_normal_form(game, max_strategies=max_strategies).matrix_game


__all__ = ["DEFAULT_MAX_STRATEGIES", "ReducedNormalForm", "from_openspiel", "reduced_normal_form", "to_openspiel",
           "to_openspiel_policy"]
