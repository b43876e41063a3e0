r"""Sequence-form magnetic mirror descent (MMD with dilated entropy) on two-player zero-sum
extensive-form games from OpenSpiel, vectorised over information sets in numpy.

Papers:

- Sokota, D'Orazio, Kolter, Loizou, Lanctot, Mitliagkas, Brown, Kroer (2023), "A Unified Approach to
  Reinforcement Learning, Quantal Response Equilibria, and Two-Player Zero-Sum Games", ICLR 2023
  (arXiv 2206.05825): MMD, its closed form for dilated entropy, linear last-iterate convergence to the
  regularised equilibrium (a reduced-normal-form QRE). OpenSpiel's ``open_spiel.python.algorithms.
  mmd_dilated.MMDDilatedEnt`` is the reference implementation (a per-infoset Python recursion plus a
  tree walk per iteration); this module runs the same update as a few array operations per tree level.
- Wang, Ma, et al. (2024), "Magnetic Preference Optimization: Achieving Last-iterate Convergence for
  Language Model Alignment", arXiv 2410.16714: resetting the magnet to the current iterate every ``K``
  iterations (a proximal-point method on the original game) moves the regularised equilibrium to the
  Nash equilibrium, so the *last* iterate converges to Nash instead of stalling at the QRE.

Sequence form (Koller, Megiddo, von Stengel 1994; von Stengel 1996). Player ``p``'s sequences are the
empty sequence ``0`` and one ``(I, a)`` per information set ``I`` of ``p`` and legal action ``a``;
``parent(I)`` is the last sequence of ``p`` on the path to ``I`` (perfect recall). A behavioural
policy ``pi`` has realisation plan ``x[0] = 1``, ``x[(I, a)] = x[parent(I)] * pi(a | I)``. Chance is
folded into the sparse payoff matrix ``A[s0, s1] = sum_z p_chance(z) u_0(z)`` over terminal
histories ``z`` with last sequences ``(s0, s1)``, so player 0's expected utility is ``x^T A y``.

Dilated entropy (Hoda, Gilpin, Pena, Sandholm 2010; Kroer et al. 2020):
``psi(x) = sum_I sum_{a in I} x[(I,a)] log(x[(I,a)] / x[parent(I)])``, i.e. each infoset's negative
entropy weighted by its parent sequence. Its gradient is ``d psi / d x[(I,a)] = log pi(a|I) + 1 -
n_children(I,a)``; in the update below the constants cancel level by level, which is why the update
is written with behavioural log-probabilities only.

MMD update (Sokota et al. 2023, eq. (4) with ``psi`` the dilated entropy), both players at once,
player 0 shown (player 1 the same with ``q_1 = -A^T x``):

    x_{t+1} = argmax_x  eta <A y_t, x> - eta alpha B_psi(x; rho) - B_psi(x; x_t)

Closed form, bottom-up over player 0's infosets (deepest first):

    h(I,a) = [eta (A y_t)(I,a) + log pi_t(a|I) + eta alpha log rho(a|I)] / (1 + eta alpha)
             + sum_{J : parent(J) = (I,a)} logsumexp_b h(J,b)
    pi_{t+1}(.|I) = softmax(h(I,.))

i.e. ``pi_{t+1}(a|I) ∝ [pi_t(a|I) rho(a|I)^(eta alpha) exp(eta Q(I,a))]^(1/(1 + eta alpha))`` with the
regularised counterfactual value ``Q(I,a) = (A y_t)(I,a) + (1 + eta alpha)/eta * sum_J logsumexp h(J,.)``
computed through the dilated structure. The children's log-partition functions carry the
regulariser's value up the tree; this is the same recursion as ``MMDDilatedEnt._update_state_sequences``.

Magnets. ``magnet="center"`` (default) is the minimiser of ``psi`` over the treeplex, the behavioural
policy the bottom-up softmax gives for ``h = 0`` (at each infoset ``pi(a|I) ∝ exp(sum_J log Z_J)``, the
"number of leaves" below each action). Since ``B_psi(x; center) = psi(x) - psi(center)`` on the
treeplex, it reproduces OpenSpiel's regulariser ``alpha psi(x)`` exactly: the iterates match
``MMDDilatedEnt`` to machine precision. ``magnet="uniform"`` (uniform at every infoset) is a different
regulariser on trees whose actions have subtrees of different size (Kuhn poker: check leads to one
more decision than bet, so the centre plays ``(2/3, 1/3)`` at the root infosets). Any behavioural
policy can also be passed.

Convergence. With a fixed magnet and ``eta <= alpha / ||A||^2`` (OpenSpiel's default step
``alpha / max|A|^2``) the last iterate converges linearly to the ``alpha``-regularised equilibrium;
its NashConv plateaus at a regularisation gap of order ``alpha``. With ``magnet_reset=K`` the
magnet becomes the current iterate every ``K`` iterations: if each regularised game is solved
before the reset, this is the Bregman proximal-point method on the original game (Rockafellar 1976;
Eckstein 1993, "Nonlinear proximal point algorithms using Bregman functions"),

    z_{k+1} = the equilibrium of  <A y, x> - alpha B_psi(x; rho_k) + alpha B_psi(y; rho_k),  rho_{k+1} = z_{k+1},

whose iterates approach the Nash set: ``B_psi(z*; z_k)`` is non-increasing for any equilibrium ``z*``.

Why plain resets stall on Leduc, and the fix. The exact proximal step in behavioural form is
``log pi_{k+1}(a|I) = log rho_k(a|I) + (Q_{k+1}(I,a) - V_{k+1}(I)) / alpha``: an implicit
multiplicative-weights step with step ``1/alpha``, and resetting ``rho <- pi`` *accumulates* these
steps without bound. An action that is bad for a stretch of outer steps is pushed to log-probability
-hundreds (Leduc, ``alpha = 0.003``: the smallest log-probability falls by about 79 every 1000
updates, -1576 after 20000); when it becomes the better action again it needs as many outer steps to
climb back, NashConv rises meanwhile and then drops (Leduc, ``K = 1000``, at the resets: 0.065 at
4000, 0.185 at 10000, 0.088 at 20000) although the inner games are solved (regularised gap ``~1e-6``
at each reset) and ``B_psi(z*; z_k)`` falls monotonically (172 -> 27.6 for an LP equilibrium ``z*``).
This is the problem that *fixed share* solves for multiplicative weights (Herbster and Warmuth 1998,
"Tracking the best expert"): after each update mix a little of a reference distribution back in. So
with ``magnet_mix=m`` the reset is, at every infoset,

    rho_{k+1}(.|I) = (1 - eps_k) pi_k(.|I) + eps_k rho_0(.|I),    eps_k = m * min(1, NashConv_k / NashConv_1),

``rho_0`` the initial magnet and ``NashConv_1`` the NashConv at the first reset: log-probabilities
stay within ``log eps_k`` of the reference per outer step, and since ``eps_k`` shrinks with NashConv
the mixing vanishes at an equilibrium (a fixed ``eps`` would converge to a perturbed point; Kuhn,
``eps = 0.01``: NashConv 2.9e-3). ``magnet_mix=0`` (default) is the plain reset.

When to reset. ``reset_tolerance=tau`` replaces the fixed period: every ``RESET_CHECK_EVERY``
updates the duality gap of the current regularised game is measured and the magnet is reset once

    gap_alpha(z; rho) <= tau * NashConv(z),
    gap_alpha(z; rho) = sum_p [ max_x' (<q_p, x'> - alpha B_psi(x'; rho_p)) + alpha B_psi(z_p; rho_p) ]

(``q_0 = A y``, ``q_1 = -A^T x``; the ``x^T A y`` terms cancel in a zero-sum game), an inexact
proximal-point step whose error is small relative to how far from Nash the iterate is (the
relative-error criteria of Solodov and Svaiter 2000). The maximum is the bottom-up logsumexp of
``q_p / alpha + log rho_p`` times ``alpha`` (:meth:`PlayerTree.log_softmax_bottom_up`); the gap is
``>= 0`` and ``0`` exactly at the regularised equilibrium.

Step size. The inner MMD iteration is ``theta <- (theta + eta (alpha theta_rho + Q(theta))) / (1 +
eta alpha)`` in log-policy space; along a rotational mode of the game with frequency ``omega`` it
contracts iff ``eta < 2 alpha / (omega^2 - alpha^2)``, so the stable step shrinks with ``alpha``
(Leduc, ``alpha = 0.003``: ``eta = 1`` and ``3`` converge, ``eta = 10`` does not) and a smaller
``alpha`` buys a larger proximal step with a slower inner solve.

NashConv is computed in the loop by sequence-form best responses (bottom-up max instead of
logsumexp): for a two-player zero-sum game ``NashConv = max_x' x'^T A y + max_y' -x^T A y'``, equal to
``open_spiel.python.algorithms.exploitability.nash_conv`` of the same policy.

Layout. Sequences are numbered so that each infoset's actions are contiguous and infosets are sorted by
depth (number of own earlier infosets), so one tree level is one slice: a bottom-up pass is, per level,
one ``np.maximum.reduceat``, one ``np.add.reduceat`` and one ``np.bincount`` onto the parent sequences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyspiel
from open_spiel.python import policy as policy_lib
from scipy import sparse

__all__ = [
    "RESET_CHECK_EVERY",
    "Level",
    "PlayerTree",
    "SequenceForm",
    "SequenceFormMMD",
    "SequenceFormResult",
    "build_sequence_form",
    "mmd",
]


#: with ``reset_tolerance``, the regularised gap is measured every this many updates (a gap costs
#: about one update: a bottom-up logsumexp and a best response per player)
RESET_CHECK_EVERY = 10


@dataclass(frozen=True)
class Level:
    """One depth of a player's infosets: infosets ``[infoset_lo, infoset_hi)`` own the contiguous
    sequences ``[seq_lo, seq_hi)``.

    Attributes:
        starts: each infoset's first sequence, relative to ``seq_lo`` (the ``reduceat`` offsets).
        segment: for each sequence of the level, its infoset relative to ``infoset_lo``.
        parents: each infoset's parent sequence (always ``< seq_lo``).
    """

    seq_lo: int
    seq_hi: int
    infoset_lo: int
    infoset_hi: int
    starts: np.ndarray
    segment: np.ndarray
    parents: np.ndarray


@dataclass(frozen=True)
class PlayerTree:
    """One player's information-set structure in sequence form.

    Attributes:
        infosets: infoset keys (OpenSpiel information-state strings), by infoset id.
        actions: the legal actions of each infoset, in the order of its sequences.
        infoset_start: first sequence of each infoset (its actions are ``infoset_start[i] + k``).
        infoset_size: number of actions of each infoset.
        infoset_parent: parent sequence of each infoset (``0``: the empty sequence).
        seq_infoset: infoset of each sequence (``-1`` for the empty sequence ``0``).
        seq_action: OpenSpiel action of each sequence (``-1`` for the empty sequence).
        seq_parent: parent sequence of each sequence's infoset (``0`` for the empty sequence).
        levels: the infosets grouped by depth, shallowest first.
    """

    infosets: tuple[str, ...]
    actions: tuple[np.ndarray, ...]
    infoset_start: np.ndarray
    infoset_size: np.ndarray
    infoset_parent: np.ndarray
    seq_infoset: np.ndarray
    seq_action: np.ndarray
    seq_parent: np.ndarray
    levels: tuple[Level, ...]

    @property
    def num_sequences(self) -> int:
        return len(self.seq_infoset)

    @property
    def num_infosets(self) -> int:
        return len(self.infosets)

    def log_softmax_bottom_up(self, h: np.ndarray) -> np.ndarray:
        """The dilated-entropy prox step: the behavioural log-policy maximising ``<h, x> - psi(x)``.

        Bottom-up: at each infoset ``log pi(.|I) = h(I,.) - logsumexp h(I,.)``, and the log-partition
        ``logsumexp h(I,.)`` is added to ``h[parent(I)]``. ``h`` is modified in place; entry ``0`` ends as
        the optimal value. Returns the log-policy per sequence (``0`` at the empty sequence).
        """
        log_pi = np.zeros_like(h)
        for level in reversed(self.levels):
            local = h[level.seq_lo:level.seq_hi]
            peak = np.maximum.reduceat(local, level.starts)
            shifted = local - peak[level.segment]
            log_z = np.log(np.add.reduceat(np.exp(shifted), level.starts))
            log_pi[level.seq_lo:level.seq_hi] = shifted - log_z[level.segment]
            h[:level.seq_lo] += np.bincount(level.parents, peak + log_z, minlength=level.seq_lo)
        return log_pi

    def best_response_value(self, values: np.ndarray) -> float:
        """``max_x <values, x>`` over the player's realisation plans (bottom-up max)."""
        v = np.array(values, dtype=float)
        for level in reversed(self.levels):
            peak = np.maximum.reduceat(v[level.seq_lo:level.seq_hi], level.starts)
            v[:level.seq_lo] += np.bincount(level.parents, peak, minlength=level.seq_lo)
        return float(v[0])

    def realisation_plan(self, pi: np.ndarray) -> np.ndarray:
        """Sequence-form ``x`` of the behavioural policy ``pi`` (per sequence): top-down products."""
        x = np.array(pi, dtype=float)
        x[0] = 1.0
        for level in self.levels:
            x[level.seq_lo:level.seq_hi] *= x[self.seq_parent[level.seq_lo:level.seq_hi]]
        return x

    def uniform(self) -> np.ndarray:
        """The uniform behavioural policy (per sequence; ``1`` at the empty sequence)."""
        pi = 1.0 / self.infoset_size[np.maximum(self.seq_infoset, 0)].astype(float)
        pi[0] = 1.0
        return pi

    def center(self) -> np.ndarray:
        """The dilated-entropy centre ``argmin psi`` over the treeplex, as a behavioural policy."""
        return np.exp(self.log_softmax_bottom_up(np.zeros(self.num_sequences)))


@dataclass(frozen=True)
class SequenceForm:
    """A two-player zero-sum game in sequence form: both players' trees and player 0's payoffs.

    ``payoffs[s0, s1]`` sums ``chance probability * player 0's return`` over the terminal histories
    whose last sequences are ``s0`` and ``s1``; ``payoffs_t`` is its transpose (kept as CSR too).
    """

    game: pyspiel.Game
    trees: tuple[PlayerTree, PlayerTree]
    payoffs: sparse.csr_matrix
    payoffs_t: sparse.csr_matrix = field(repr=False)

    def value(self, x: np.ndarray, y: np.ndarray) -> float:
        """Player 0's expected utility ``x^T A y`` of two realisation plans."""
        return float(x @ (self.payoffs @ y))

    def nash_conv(self, x: np.ndarray, y: np.ndarray) -> float:
        """``max_x' x'^T A y + max_y' -x^T A y'`` (OpenSpiel's NashConv for two-player zero-sum)."""
        return (self.trees[0].best_response_value(self.payoffs @ y)
                + self.trees[1].best_response_value(-(self.payoffs_t @ x)))

    def to_tabular_policy(self, policies: Sequence[np.ndarray]) -> policy_lib.TabularPolicy:
        """Behavioural policies (one per player, per sequence) -> an OpenSpiel ``TabularPolicy``."""
        result = policy_lib.TabularPolicy(self.game)
        for tree, pi in zip(self.trees, policies, strict=True):
            for i, key in enumerate(tree.infosets):
                row = result.action_probability_array[result.state_lookup[key]]
                row[:] = 0.0
                start = tree.infoset_start[i]
                row[tree.actions[i]] = pi[start:start + tree.infoset_size[i]]
        return result

    def from_tabular_policy(self, tabular: policy_lib.TabularPolicy) -> list[np.ndarray]:
        """An OpenSpiel ``TabularPolicy`` -> behavioural policies per sequence, one per player."""
        policies = []
        for tree in self.trees:
            pi = np.ones(tree.num_sequences)
            for i, key in enumerate(tree.infosets):
                start = tree.infoset_start[i]
                row = tabular.action_probability_array[tabular.state_lookup[key]]
                pi[start:start + tree.infoset_size[i]] = row[tree.actions[i]]
            policies.append(pi)
        return policies


def _check_game(game: pyspiel.Game) -> None:
    kind = game.get_type()
    problems = []
    if game.num_players() != 2:
        problems.append(f"{game.num_players()} players (need 2)")
    if kind.utility != pyspiel.GameType.Utility.ZERO_SUM:
        problems.append(f"utility {kind.utility} (need ZERO_SUM)")
    if kind.dynamics != pyspiel.GameType.Dynamics.SEQUENTIAL:
        problems.append(f"dynamics {kind.dynamics} (need SEQUENTIAL; use pyspiel.convert_to_turn_based)")
    if kind.chance_mode not in (pyspiel.GameType.ChanceMode.DETERMINISTIC,
                                pyspiel.GameType.ChanceMode.EXPLICIT_STOCHASTIC):
        problems.append(f"chance mode {kind.chance_mode} (need explicit chance outcomes)")
    if not kind.provides_information_state_string:
        problems.append("no information-state strings")
    if problems:
        raise ValueError(f"{kind.short_name}: sequence form needs a two-player zero-sum game: " + "; ".join(problems))


def _build_tree(keys: list[str], actions: list[list[int]], parents: list[int]) -> tuple[PlayerTree, np.ndarray]:
    """Renumber one player's provisional sequences (discovery order) so that each depth is a slice.

    Provisional sequence of infoset ``i``'s ``k``-th action: ``1 + offset[i] + k``. Returns the tree and
    the map provisional sequence -> final sequence.
    """
    count = len(keys)
    sizes = np.array([len(a) for a in actions], dtype=np.int64)
    offset = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    prov_infoset = np.concatenate([[-1], np.repeat(np.arange(count), sizes)]).astype(np.int64)
    depth = np.zeros(count, dtype=np.int64)
    for i in range(count):  # parents are discovered before their children
        parent_infoset = prov_infoset[parents[i]]
        depth[i] = 0 if parent_infoset < 0 else depth[parent_infoset] + 1
    order = np.argsort(depth, kind="stable")            # final infoset id -> provisional id
    new_sizes = sizes[order]
    new_start = 1 + np.concatenate([[0], np.cumsum(new_sizes)[:-1]]).astype(np.int64)
    seq_map = np.zeros(1 + int(sizes.sum()), dtype=np.int64)
    for new_i, old_i in enumerate(order):
        seq_map[1 + offset[old_i] + np.arange(sizes[old_i])] = new_start[new_i] + np.arange(sizes[old_i])
    new_parent = seq_map[np.asarray(parents, dtype=np.int64)[order]] if count else np.zeros(0, dtype=np.int64)
    seq_infoset = np.concatenate([[-1], np.repeat(np.arange(count), new_sizes)]).astype(np.int64)
    seq_action = np.concatenate([[-1], *[np.asarray(actions[i], dtype=np.int64) for i in order]]).astype(np.int64)
    seq_parent = np.concatenate([[0], np.repeat(new_parent, new_sizes)]).astype(np.int64)
    new_depth = depth[order]
    levels = []
    for d in range(int(new_depth.max()) + 1 if count else 0):
        members = np.flatnonzero(new_depth == d)
        lo, hi = int(members[0]), int(members[-1]) + 1
        seq_lo, seq_hi = int(new_start[lo]), int(new_start[hi - 1] + new_sizes[hi - 1])
        levels.append(Level(seq_lo, seq_hi, lo, hi, starts=new_start[lo:hi] - seq_lo,
                            segment=seq_infoset[seq_lo:seq_hi] - lo, parents=new_parent[lo:hi]))
    tree = PlayerTree(
        infosets=tuple(keys[i] for i in order),
        actions=tuple(np.asarray(actions[i], dtype=np.int64) for i in order),
        infoset_start=new_start, infoset_size=new_sizes, infoset_parent=new_parent,
        seq_infoset=seq_infoset, seq_action=seq_action, seq_parent=seq_parent, levels=tuple(levels))
    return tree, seq_map


def build_sequence_form(game: pyspiel.Game) -> SequenceForm:
    """Walk the game tree once and build its :class:`SequenceForm`.

    Raises ``ValueError`` for games that are not two-player zero-sum sequential games with explicit
    chance and information-state strings.
    """
    _check_game(game)
    ids: list[dict[str, int]] = [{}, {}]
    keys: list[list[str]] = [[], []]
    actions: list[list[list[int]]] = [[], []]
    parents: list[list[int]] = [[], []]
    next_seq = [1, 1]
    base: list[list[int]] = [[], []]
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []

    def walk(state: pyspiel.State, chance: float, seqs: tuple[int, int]) -> None:
        if state.is_terminal():
            rows.append(seqs[0])
            cols.append(seqs[1])
            vals.append(chance * state.returns()[0])
            return
        if state.is_chance_node():
            for action, prob in state.chance_outcomes():
                walk(state.child(action), chance * prob, seqs)
            return
        player = state.current_player()
        key = state.information_state_string(player)
        legal = state.legal_actions(player)
        infoset = ids[player].get(key)
        if infoset is None:
            infoset = ids[player][key] = len(keys[player])
            keys[player].append(key)
            actions[player].append(list(legal))
            parents[player].append(seqs[player])
            base[player].append(next_seq[player])
            next_seq[player] += len(legal)
        elif parents[player][infoset] != seqs[player] or actions[player][infoset] != list(legal):
            raise ValueError(f"infoset {key!r} is reached with different histories: the game lacks perfect recall")
        for k, action in enumerate(legal):
            child = (base[player][infoset] + k, seqs[1]) if player == 0 else (seqs[0], base[player][infoset] + k)
            walk(state.child(action), chance, child)

    walk(game.new_initial_state(), 1.0, (0, 0))
    built = [_build_tree(keys[p], actions[p], parents[p]) for p in range(2)]
    trees = (built[0][0], built[1][0])
    rows_new = built[0][1][np.asarray(rows, dtype=np.int64)]
    cols_new = built[1][1][np.asarray(cols, dtype=np.int64)]
    shape = (trees[0].num_sequences, trees[1].num_sequences)
    payoffs = sparse.coo_matrix((np.asarray(vals, dtype=float), (rows_new, cols_new)), shape=shape).tocsr()
    payoffs.sum_duplicates()
    return SequenceForm(game=game, trees=trees, payoffs=payoffs, payoffs_t=payoffs.T.tocsr())


@dataclass
class SequenceFormResult:
    """What :func:`mmd` returns.

    Attributes:
        policies: last-iterate behavioural policies, one array per player indexed by sequence (see
            :attr:`SequenceForm.trees`); :meth:`tabular_policy` gives them as an OpenSpiel policy.
        nash_conv: NashConv of the iterate after each of the ``iterations`` updates (sequence-form
            best responses), or every ``eval_every`` updates.
        nash_conv_iterations: the iteration (number of updates) of each entry of ``nash_conv``.
        value: player 0's expected utility ``x^T A y`` at the last iterate.
        sequence_form: the game's sequence form (reuse it to skip the tree walk).
        reset_iterations: the updates after which the magnet was reset.
        alpha, eta, magnet_reset, reset_tolerance, magnet_mix: the settings used.
    """

    policies: list[np.ndarray]
    nash_conv: np.ndarray
    nash_conv_iterations: np.ndarray
    value: float
    sequence_form: SequenceForm
    reset_iterations: np.ndarray
    alpha: float
    eta: float
    magnet_reset: int | None
    reset_tolerance: float | None
    magnet_mix: float

    def tabular_policy(self) -> policy_lib.TabularPolicy:
        return self.sequence_form.to_tabular_policy(self.policies)


MagnetSpec = str | Sequence[np.ndarray]


class SequenceFormMMD:
    """Stepwise sequence-form MMD with dilated entropy (module docstring for the maths).

    Args:
        game: a two-player zero-sum OpenSpiel game, or its :class:`SequenceForm`.
        alpha: regularisation weight toward the magnet (``> 0`` for a QRE, ``0`` for mirror descent).
        eta: step size; ``None`` takes OpenSpiel's default ``alpha / max|A|^2``.
        magnet: ``"center"`` (OpenSpiel's regulariser ``alpha psi``), ``"uniform"``, or behavioural
            policies (one array per player, per sequence).
        magnet_reset: ``K``: every ``K`` updates the magnet becomes the current iterate (MPO).
        reset_tolerance: ``tau``: reset instead when the regularised game's duality gap is at most
            ``tau`` times the current NashConv (checked every :data:`RESET_CHECK_EVERY` updates);
            exclusive with ``magnet_reset``.
        magnet_mix: ``m`` in ``[0, 1]``: a reset mixes ``eps = m * min(1, NashConv / NashConv at the
            first reset)`` of the initial magnet into the new one at every infoset (fixed share);
            ``0`` is the plain reset.
        initial: starting behavioural policies (uniform at every infoset when ``None``, as OpenSpiel).
    """

    def __init__(self, game: pyspiel.Game | SequenceForm, alpha: float, eta: float | None = None, *,
                 magnet: MagnetSpec = "center", magnet_reset: int | None = None,
                 reset_tolerance: float | None = None, magnet_mix: float = 0.0,
                 initial: Sequence[np.ndarray] | None = None) -> None:
        self.form = game if isinstance(game, SequenceForm) else build_sequence_form(game)
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        if magnet_reset is not None and magnet_reset < 1:
            raise ValueError(f"magnet_reset must be a positive number of iterations, got {magnet_reset}")
        if reset_tolerance is not None:
            if magnet_reset is not None:
                raise ValueError("reset_tolerance replaces magnet_reset: pass one of them")
            if not reset_tolerance > 0:
                raise ValueError(f"reset_tolerance must be > 0, got {reset_tolerance}")
            if alpha == 0:
                raise ValueError("reset_tolerance needs alpha > 0 (the regularised game's gap)")
        if not 0.0 <= magnet_mix <= 1.0:
            raise ValueError(f"magnet_mix must be in [0, 1], got {magnet_mix}")
        self.alpha = float(alpha)
        scale = float(np.max(np.abs(self.form.payoffs.data))) if self.form.payoffs.nnz else 1.0
        self.eta = float(eta) if eta is not None else self.alpha / scale ** 2
        if self.eta <= 0:
            raise ValueError("step size is 0 (alpha = 0 needs an explicit eta)")
        self.magnet_reset = magnet_reset
        self.reset_tolerance = None if reset_tolerance is None else float(reset_tolerance)
        self.magnet_mix = float(magnet_mix)
        trees = self.form.trees
        starts = [tree.uniform() for tree in trees] if initial is None else [np.asarray(p, float) for p in initial]
        self.log_policies = [np.log(p) for p in starts]
        if isinstance(magnet, str):
            if magnet == "center":
                mag = [tree.center() for tree in trees]
            elif magnet == "uniform":
                mag = [tree.uniform() for tree in trees]
            else:
                raise ValueError(f"magnet must be 'center', 'uniform' or policies, got {magnet!r}")
        else:
            mag = [np.asarray(p, dtype=float) for p in magnet]
        self.log_magnets = [np.log(p) for p in mag]
        self.initial_log_magnets = [lp.copy() for lp in self.log_magnets]
        self.iteration = 0
        self.reset_iterations: list[int] = []
        self._first_reset_nash_conv: float | None = None
        self._refresh()

    def _refresh(self) -> None:
        """Realisation plans and action values ``(A y, -A^T x)`` of the current iterate."""
        x, y = (tree.realisation_plan(np.exp(lp)) for tree, lp in zip(self.form.trees, self.log_policies))
        self.plans = [x, y]
        self.values = [self.form.payoffs @ y, -(self.form.payoffs_t @ x)]

    @property
    def policies(self) -> list[np.ndarray]:
        """Current behavioural policies (per sequence)."""
        return [np.exp(lp) for lp in self.log_policies]

    def step(self) -> None:
        """One simultaneous MMD update of both players, then the magnet reset if one is due."""
        scale = 1.0 + self.eta * self.alpha
        new = []
        for tree, q, log_pi, log_rho in zip(self.form.trees, self.values, self.log_policies, self.log_magnets):
            h = (self.eta * q + log_pi + (self.eta * self.alpha) * log_rho) / scale
            new.append(tree.log_softmax_bottom_up(h))
        self.log_policies = new
        self.iteration += 1
        self._refresh()
        if self._reset_due():
            self.reset_magnet()

    def _reset_due(self) -> bool:
        if self.magnet_reset is not None:
            return self.iteration % self.magnet_reset == 0
        if self.reset_tolerance is not None and self.iteration % RESET_CHECK_EVERY == 0:
            return self.regularised_gap() <= self.reset_tolerance * self.nash_conv()
        return False

    def reset_magnet(self) -> None:
        """Magnet <- current iterate, mixed with ``eps`` of the initial magnet (module docstring)."""
        eps = 0.0
        if self.magnet_mix > 0:
            nash_conv = self.nash_conv()
            if self._first_reset_nash_conv is None:
                self._first_reset_nash_conv = nash_conv
            first = self._first_reset_nash_conv
            eps = self.magnet_mix * min(1.0, nash_conv / first) if first > 0 else 0.0
        if eps > 0:
            # log((1 - eps) pi + eps rho_0) per sequence: behavioural mixing at every infoset (0 at the root)
            self.log_magnets = [np.logaddexp(np.log1p(-eps) + log_pi, np.log(eps) + log_rho0) if eps < 1
                                else log_rho0.copy()
                                for log_pi, log_rho0 in zip(self.log_policies, self.initial_log_magnets)]
        else:
            self.log_magnets = [lp.copy() for lp in self.log_policies]
        self.reset_iterations.append(self.iteration)

    def regularised_gap(self) -> float:
        """Duality gap of the current regularised game at the current iterate (module docstring).

        ``sum_p alpha * [logsumexp-bottom-up(q_p / alpha + log rho_p) + B_psi(x_p; rho_p)]``; ``>= 0``,
        ``0`` at the regularised equilibrium. Needs ``alpha > 0``.
        """
        if self.alpha == 0:
            raise ValueError("the regularised gap needs alpha > 0")
        gap = 0.0
        for tree, q, log_pi, log_rho, plan in zip(self.form.trees, self.values, self.log_policies,
                                                  self.log_magnets, self.plans):
            h = q / self.alpha + log_rho
            tree.log_softmax_bottom_up(h)            # h[0] <- max_x' <q / alpha + log rho, x'> - psi(x')
            bregman = float(plan @ (log_pi - log_rho))  # B_psi(x; rho) = sum_I x[parent(I)] KL(pi(.|I) || rho(.|I))
            gap += self.alpha * (float(h[0]) + bregman)
        return gap

    def nash_conv(self) -> float:
        """NashConv of the current iterate (sequence-form best responses)."""
        trees = self.form.trees
        return trees[0].best_response_value(self.values[0]) + trees[1].best_response_value(self.values[1])

    def value(self) -> float:
        """Player 0's expected utility of the current iterate."""
        return float(self.plans[0] @ self.values[0])


def mmd(game: pyspiel.Game | SequenceForm, iterations: int, alpha: float, eta: float | None = None,
        magnet_reset: int | None = None, *, reset_tolerance: float | None = None, magnet_mix: float = 0.0,
        magnet: MagnetSpec = "center", eval_every: int = 1,
        initial: Sequence[np.ndarray] | None = None) -> SequenceFormResult:
    """Run ``iterations`` updates of sequence-form MMD (dilated entropy) and return the last iterate.

    Args:
        game: a two-player zero-sum OpenSpiel game (e.g. ``pyspiel.load_game("kuhn_poker")``) or its
            :class:`SequenceForm`.
        iterations: number of simultaneous updates.
        alpha: regularisation toward the magnet.
        eta: step size (``None``: OpenSpiel's ``alpha / max|A|^2``).
        magnet_reset: ``K`` for the MPO variant (magnet <- current iterate every ``K`` updates; the last
            iterate then converges to a Nash equilibrium); ``None`` keeps the magnet fixed (the last
            iterate converges to the ``alpha``-QRE around the magnet).
        reset_tolerance: reset when the regularised gap is at most this times NashConv (instead of
            every ``K`` updates; see :class:`SequenceFormMMD`).
        magnet_mix: fixed-share mixing of the initial magnet into each reset magnet, scaled by NashConv.
        magnet: the (initial) magnet: ``"center"``, ``"uniform"`` or behavioural policies.
        eval_every: record NashConv every this many updates (and always after the last one).
        initial: starting behavioural policies (uniform when ``None``).
    """
    solver = SequenceFormMMD(game, alpha, eta, magnet=magnet, magnet_reset=magnet_reset,
                             reset_tolerance=reset_tolerance, magnet_mix=magnet_mix, initial=initial)
    trace, at = [], []
    for t in range(1, iterations + 1):
        solver.step()
        if t % eval_every == 0 or t == iterations:
            trace.append(solver.nash_conv())
            at.append(t)
    return SequenceFormResult(policies=solver.policies, nash_conv=np.asarray(trace, dtype=float),
                              nash_conv_iterations=np.asarray(at, dtype=np.int64), value=solver.value(),
                              sequence_form=solver.form,
                              reset_iterations=np.asarray(solver.reset_iterations, dtype=np.int64),
                              alpha=solver.alpha, eta=solver.eta, magnet_reset=magnet_reset,
                              reset_tolerance=solver.reset_tolerance, magnet_mix=solver.magnet_mix)
