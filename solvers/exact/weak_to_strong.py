"""Weak-to-strong generalization, exactly (Burns et al. 2023, "Weak-to-strong generalization: eliciting
strong capabilities with weak supervision", arXiv:2312.09390).

A weak supervisor labels; a strong student learns from those labels; the evaluator compares three
numbers on the ground truth: the weak supervisor's performance, the weak-to-strong student's, and the
strong ceiling (the same student trained on true labels). The performance gap recovered is

    PGR = (weak_to_strong - weak) / (ceiling - weak)

(1: the student does as well as if it had true labels; 0: it only copies its supervisor; negative: it
does worse than its supervisor). For losses (mean squared error) the signs flip and the same formula
holds with performance = -loss. PGR is NaN where ceiling = weak (no gap to recover).

Linear-Gaussian regression (:func:`solve_linear`). Features ``x ~ N(0, Sigma)`` in R^d, target
``y = w . x + noise`` with variance ``sigma^2``. A model that sees the features ``z = A x`` (A of shape
``(k, d)``: the weak or the strong feature map; a coordinate subset is a selection matrix) and fits
least squares in the population limit predicts ``u . x`` with

    u = Pi_A v,    Pi_A = A^T (A Sigma A^T)^{-1} A Sigma

where ``v`` is the coefficient vector of the labels it is fitted to (``Pi_A`` is the Sigma-orthogonal
projection onto the row space of A). So

    weak        u_w  = Pi_W w
    weak-to-strong u_ws = Pi_S u_w = Pi_S Pi_W w      (the weak labels u_w . x are noise-free)
    ceiling     u_s  = Pi_S w
    MSE(u) = (w - u)^T Sigma (w - u) + sigma^2,    R^2 = 1 - MSE / (w^T Sigma w + sigma^2).

Consequences: if the weak features lie in the strong span (``Pi_S Pi_W = Pi_W``) the student copies
the supervisor exactly (PGR = 0). If the target lies in the strong span (``Pi_S w = w``), Pythagoras in
the Sigma inner product gives ``MSE_weak = MSE_ws + misfit`` with ``misfit = (u_w - u_ws)^T Sigma
(u_w - u_ws)``, the student's disagreement with its supervisor (the identity of Charikar et al. 2024),
so PGR = misfit / (MSE_weak - sigma^2). Example: d = 2, unit variances, correlation rho, W = {x1},
S = {x2}, w = (0, 1): u_w = (rho, 0), u_ws = (0, rho^2), u_s = (0, 1), PGR = rho^2.
:func:`simulate_linear` fits the same three models on finite samples (ordinary least squares).

Classification with label errors (:func:`solve_classification`). A finite input set ``x = 0..n-1``
with probabilities ``p(x)``, true labels ``t(x)`` in {0, 1} and a weak labeller that flips ``t(x)``
with probability ``q(x)``: random errors are ``q(x) = rho`` everywhere, systematic errors ``q(x) = 1``
on a region. The weak accuracy is ``sum_x p(x) (1 - q(x))``. The student is the population minimiser
of the expected 0-1 disagreement with the weak labels over a family, found by enumeration:

- ``"lookup"`` (any function of x, a student that can represent anything): predicts 1 iff
  ``P(weak label = 1 | x) > 1/2``. Random flips with rho < 1/2 are denoised (the student recovers t,
  PGR = 1); systematic flips are copied (PGR = 0).
- ``"threshold"`` (inputs ordered; ``1[x >= theta]`` or ``1[x < theta]``): a systematic region the family
  cannot represent is ignored; one it can represent is copied; in between the answer is whatever the
  enumeration gives (a systematic region next to the boundary can even make PGR negative).

Ties are broken toward label 0 (lookup) and toward the first classifier in the order theta = 0..n with
``1[x >= theta]`` before ``1[x < theta]`` (threshold). The ceiling is the same family fitted to t.

The auxiliary-confidence loss (:func:`train_logistic_student`, Burns et al. section 4.3.2):

    L(f) = (1 - alpha) CE(f, y_weak) + alpha CE(f, hard(f))

where ``hard(f)`` are the student's own predictions hardened at a threshold (adaptive: the
``1 - mean(y_weak)`` quantile of the batch's probabilities, so the hardened labels keep the weak labels'
class balance) and treated as constants; ``alpha`` warms up linearly from 0 over the first
``warmup_fraction`` of the steps. Its gradient with respect to the logits is ``f - target`` with
``target = (1 - alpha) y_weak + alpha hard(f)``.
:func:`logistic_random_flips` is a seeded experiment with it: two Gaussian classes in the student's
features, weak labels with random flips; without the confidence term the student fits the flips, with it
the student keeps its own predictions (an empirical effect, not an exact one).

The evaluator (:func:`evaluate_scores`; :func:`sample_classification_scores` draws its input for the
classification setting) takes per-example scores (1/0 correctness, or minus the squared
error) of the three models on the same test examples and reports each mean and the PGR with percentile
bootstrap intervals; the PGR interval resamples the examples jointly (paired), since the three scores of an
example are correlated. The intervals resample the test examples only: the fitted models are held fixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from aligngames.envs.weak_to_strong.problems import ClassificationProblem, check_array, check_vector
from aligngames.intervals import bootstrap_interval

FAMILIES = ("lookup", "threshold")


def performance_gap_recovered(weak: float, weak_to_strong: float, ceiling: float) -> float:
    """``(weak_to_strong - weak) / (ceiling - weak)`` for performances (higher is better); NaN where ceiling = weak."""
    gap = ceiling - weak
    if abs(gap) <= 1e-12 * max(1.0, abs(ceiling), abs(weak)):
        return float("nan")
    return float((weak_to_strong - weak) / gap)


# --- linear-Gaussian regression -------------------------------------------------------------------

def selection_matrix(indices: Sequence[int], dimension: int, name: str = "indices") -> np.ndarray:
    """The ``(len(indices), dimension)`` matrix that picks the coordinates ``indices`` of a vector."""
    indices = list(indices)
    if not indices:
        raise ValueError(f"{name} must name at least one feature")
    if any(isinstance(i, bool) or not isinstance(i, int | np.integer) or not 0 <= i < dimension for i in indices):
        raise ValueError(f"{name} must be ints in [0, {dimension - 1}], got {indices}")
    if len(set(indices)) != len(indices):
        raise ValueError(f"{name} has repeated features: {indices}")
    matrix = np.zeros((len(indices), dimension))
    matrix[np.arange(len(indices)), indices] = 1.0
    return matrix


@dataclass(frozen=True)
class LinearGaussianProblem:
    """``x ~ N(0, covariance)``, ``y = target . x + N(0, noise_variance)``; the weak model sees
    ``weak_features @ x``, the strong one ``strong_features @ x``.

    Attributes:
        covariance: ``(d, d)`` symmetric positive definite.
        target: ``(d,)`` the true coefficients ``w``.
        weak_features: ``(k_w, d)`` the weak supervisor's feature map (full row rank).
        strong_features: ``(k_s, d)`` the strong student's feature map (full row rank).
        noise_variance: ``sigma^2 >= 0`` of the label noise.
    """

    covariance: np.ndarray
    target: np.ndarray
    weak_features: np.ndarray
    strong_features: np.ndarray
    noise_variance: float = 0.0

    def __post_init__(self) -> None:
        covariance = check_array(self.covariance, "covariance", 2)
        dimension = covariance.shape[0]
        if covariance.shape != (dimension, dimension):
            raise ValueError(f"covariance must be square, got shape {covariance.shape}")
        if not np.allclose(covariance, covariance.T, atol=1e-10):
            raise ValueError("covariance must be symmetric")
        if np.linalg.eigvalsh(covariance).min() <= 1e-12:
            raise ValueError("covariance must be positive definite")
        target = check_array(self.target, "target", 1)
        if target.shape != (dimension,):
            raise ValueError(f"target must have shape ({dimension},) to match covariance, got {target.shape}")
        for name in ("weak_features", "strong_features"):
            features = check_array(getattr(self, name), name, 2)
            if features.shape[1] != dimension or features.shape[0] < 1:
                raise ValueError(f"{name} must have shape (k, {dimension}) with k >= 1, got {features.shape}")
            if np.linalg.matrix_rank(features) < features.shape[0]:
                raise ValueError(f"{name} must have full row rank (no redundant features)")
            object.__setattr__(self, name, features)
        noise = float(self.noise_variance)
        if not (np.isfinite(noise) and noise >= 0):
            raise ValueError(f"noise_variance must be a finite number >= 0, got {self.noise_variance}")
        object.__setattr__(self, "covariance", covariance)
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "noise_variance", noise)

    @property
    def dimension(self) -> int:
        return self.covariance.shape[0]

    @classmethod
    def from_subsets(cls, covariance, target, weak_indices: Sequence[int], strong_indices: Sequence[int],
                     noise_variance: float = 0.0) -> LinearGaussianProblem:
        """The weak and strong models see coordinate subsets of x."""
        dimension = np.asarray(covariance).shape[0]
        return cls(covariance, target, selection_matrix(weak_indices, dimension, "weak_indices"),
                   selection_matrix(strong_indices, dimension, "strong_indices"), noise_variance)

    def to_dict(self) -> dict:
        return {"covariance": self.covariance.tolist(), "target": self.target.tolist(),
                "weak_features": self.weak_features.tolist(), "strong_features": self.strong_features.tolist(),
                "noise_variance": self.noise_variance}


def projection(covariance: np.ndarray, features: np.ndarray) -> np.ndarray:
    """``Pi_A = A^T (A Sigma A^T)^{-1} A Sigma`` (d, d): maps the coefficients of the labels a model is fitted to
    onto the coefficients (in x) of its population least-squares fit on the features ``A x``."""
    gram = features @ covariance @ features.T  # (k, k)
    return features.T @ np.linalg.solve(gram, features @ covariance)


@dataclass(frozen=True)
class LinearSolution:
    """Population least-squares fits (coefficients in x) and their errors against the true y."""

    weak_coefficients: np.ndarray
    weak_to_strong_coefficients: np.ndarray
    ceiling_coefficients: np.ndarray
    weak_mse: float
    weak_to_strong_mse: float
    ceiling_mse: float
    target_variance: float
    misfit: float  # E[(student - supervisor)^2]: how far the student departs from its labels
    pgr: float

    def r2(self, mse: float) -> float:
        return float(1.0 - mse / self.target_variance)

    def to_dict(self) -> dict:
        return {"weak_coefficients": self.weak_coefficients.tolist(),
                "weak_to_strong_coefficients": self.weak_to_strong_coefficients.tolist(),
                "ceiling_coefficients": self.ceiling_coefficients.tolist(),
                "weak_mse": self.weak_mse, "weak_to_strong_mse": self.weak_to_strong_mse, "ceiling_mse": self.ceiling_mse,
                "weak_r2": self.r2(self.weak_mse), "weak_to_strong_r2": self.r2(self.weak_to_strong_mse),
                "ceiling_r2": self.r2(self.ceiling_mse), "target_variance": self.target_variance,
                "misfit": self.misfit, "pgr": self.pgr}


def solve_linear(problem: LinearGaussianProblem) -> LinearSolution:
    """The three population fits of the module docstring, their MSEs, the misfit and PGR (on -MSE)."""
    covariance, target = problem.covariance, problem.target

    def mse(coefficients: np.ndarray) -> float:
        residual = target - coefficients
        return float(residual @ covariance @ residual + problem.noise_variance)

    weak = projection(covariance, problem.weak_features) @ target
    strong_projection = projection(covariance, problem.strong_features)
    weak_to_strong = strong_projection @ weak
    ceiling = strong_projection @ target
    difference = weak - weak_to_strong
    errors = mse(weak), mse(weak_to_strong), mse(ceiling)
    return LinearSolution(weak, weak_to_strong, ceiling, *errors,
                          target_variance=float(target @ covariance @ target + problem.noise_variance),
                          misfit=float(difference @ covariance @ difference),
                          pgr=performance_gap_recovered(-errors[0], -errors[1], -errors[2]))


def _least_squares(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(features, labels, rcond=None)[0]


@dataclass(frozen=True)
class LinearSamples:
    """Finite-sample fits: coefficients (in x) and per-test-example squared errors against the true y."""

    weak_coefficients: np.ndarray
    weak_to_strong_coefficients: np.ndarray
    ceiling_coefficients: np.ndarray
    weak_squared_errors: np.ndarray
    weak_to_strong_squared_errors: np.ndarray
    ceiling_squared_errors: np.ndarray


def simulate_linear(problem: LinearGaussianProblem, num_train: int, num_test: int,
                    rng: np.random.Generator) -> LinearSamples:
    """Fit the three models by ordinary least squares on samples, as Burns et al. do with networks: the weak
    model on ``num_train`` true labels, the student on the weak model's labels of ``num_train`` fresh inputs,
    the ceiling on those inputs' true labels; then score all three on ``num_test`` fresh examples."""
    for name, value in (("num_train", num_train), ("num_test", num_test)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise ValueError(f"{name} must be an int >= 2, got {value!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    factor = np.linalg.cholesky(problem.covariance)
    noise_scale = np.sqrt(problem.noise_variance)

    def draw(count: int) -> tuple[np.ndarray, np.ndarray]:
        inputs = rng.standard_normal((count, problem.dimension)) @ factor.T  # (count, d)
        return inputs, inputs @ problem.target + noise_scale * rng.standard_normal(count)

    weak_map, strong_map = problem.weak_features, problem.strong_features
    inputs, labels = draw(num_train)
    weak = weak_map.T @ _least_squares(inputs @ weak_map.T, labels)
    inputs, labels = draw(num_train)
    weak_labels = inputs @ weak
    weak_to_strong = strong_map.T @ _least_squares(inputs @ strong_map.T, weak_labels)
    ceiling = strong_map.T @ _least_squares(inputs @ strong_map.T, labels)
    test_inputs, test_labels = draw(num_test)
    errors = [(test_inputs @ coefficients - test_labels) ** 2 for coefficients in (weak, weak_to_strong, ceiling)]
    return LinearSamples(weak, weak_to_strong, ceiling, *errors)


# --- classification with label errors -------------------------------------------------------------

def check_family(family: str) -> str:
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {list(FAMILIES)}, got {family!r}")
    return family


def threshold_classifiers(num_inputs: int) -> np.ndarray:
    """Every threshold classifier on inputs ``0..n-1`` as rows of 0/1 predictions, shape ``(2 (n + 1), n)``, in the
    tie-breaking order theta = 0..n, ``1[x >= theta]`` before ``1[x < theta]``."""
    inputs = np.arange(num_inputs)
    rows = []
    for theta in range(num_inputs + 1):
        above = (inputs >= theta).astype(np.int64)
        rows.extend([above, 1 - above])
    return np.array(rows)


def best_in_family(probabilities: np.ndarray, label_one_probabilities: np.ndarray, family: str) -> np.ndarray:
    """The family member that maximises ``sum_x p(x) P(label = h(x) | x)``, as 0/1 predictions per input."""
    check_family(family)
    if family == "lookup":
        return (label_one_probabilities > 0.5).astype(np.int64)  # ties go to 0
    candidates = threshold_classifiers(probabilities.size)  # (2 (n + 1), n)
    agreement = np.where(candidates == 1, label_one_probabilities, 1.0 - label_one_probabilities) @ probabilities
    best = int(np.flatnonzero(agreement >= agreement.max() - 1e-12)[0])  # first of the ties
    return candidates[best]


@dataclass(frozen=True)
class ClassificationSolution:
    """Population accuracies (against the true labels) of the weak labeller, the student and the ceiling."""

    family: str
    weak_accuracy: float
    weak_to_strong_predictions: np.ndarray
    weak_to_strong_accuracy: float
    ceiling_predictions: np.ndarray
    ceiling_accuracy: float
    agreement_with_weak: float  # P(student = weak label)
    pgr: float

    def to_dict(self) -> dict:
        return {"family": self.family, "weak_accuracy": self.weak_accuracy,
                "weak_to_strong_predictions": self.weak_to_strong_predictions.tolist(),
                "weak_to_strong_accuracy": self.weak_to_strong_accuracy,
                "ceiling_predictions": self.ceiling_predictions.tolist(), "ceiling_accuracy": self.ceiling_accuracy,
                "agreement_with_weak": self.agreement_with_weak, "pgr": self.pgr}


def solve_classification(problem: ClassificationProblem, family: str = "lookup") -> ClassificationSolution:
    """Exact weak, weak-to-strong and ceiling accuracies and PGR for a student ``family`` (module docstring)."""
    p, truth = problem.probabilities, problem.true_labels
    weak_one = problem.weak_label_one_probabilities()
    student = best_in_family(p, weak_one, family)
    ceiling = best_in_family(p, truth.astype(np.float64), family)
    weak_accuracy = float(p @ (1.0 - problem.flip_probabilities))
    student_accuracy = float(p @ (student == truth))
    ceiling_accuracy = float(p @ (ceiling == truth))
    agreement = float(p @ np.where(student == 1, weak_one, 1.0 - weak_one))
    return ClassificationSolution(family, weak_accuracy, student, student_accuracy, ceiling, ceiling_accuracy, agreement,
                                  performance_gap_recovered(weak_accuracy, student_accuracy, ceiling_accuracy))


def sample_classification_scores(problem: ClassificationProblem, solution: ClassificationSolution, num_examples: int,
                                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-example 1/0 correctness of the weak labeller, the student and the ceiling on ``num_examples`` test
    inputs ``x ~ p`` (the weak label drawn fresh for each), the evaluator's input."""
    if isinstance(num_examples, bool) or not isinstance(num_examples, int) or num_examples < 1:
        raise ValueError(f"num_examples must be an int >= 1, got {num_examples!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    inputs = rng.choice(problem.num_inputs, size=num_examples, p=problem.probabilities)
    weak = (rng.random(num_examples) >= problem.flip_probabilities[inputs]).astype(np.float64)
    truth = problem.true_labels[inputs]
    return (weak, (solution.weak_to_strong_predictions[inputs] == truth).astype(np.float64),
            (solution.ceiling_predictions[inputs] == truth).astype(np.float64))


# --- a logistic-regression student with the auxiliary-confidence loss -----------------------------

@dataclass(frozen=True)
class LogisticStudent:
    """A linear classifier ``P(label 1 | x) = sigmoid(x . weights + bias)``."""

    weights: np.ndarray
    bias: float

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        return _sigmoid(np.asarray(features, dtype=np.float64) @ self.weights + self.bias)

    def predict(self, features: np.ndarray) -> np.ndarray:
        return (self.probabilities(features) > 0.5).astype(np.int64)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * logits))  # stable for large |logits|


def hardened_labels(probabilities: np.ndarray, positive_rate: float | None) -> np.ndarray:
    """The student's own predictions as 0/1 labels: above the ``1 - positive_rate`` quantile of ``probabilities``
    (adaptive, Burns et al.) or above 1/2 where ``positive_rate`` is None."""
    if positive_rate is None:
        return (probabilities > 0.5).astype(np.float64)
    threshold = np.quantile(probabilities, 1.0 - positive_rate)
    return (probabilities > threshold).astype(np.float64)


def train_logistic_student(features, labels, rng: np.random.Generator, *, aux_alpha: float = 0.0, steps: int = 300,
                           learning_rate: float = 0.5, batch_size: int | None = None, l2: float = 0.0,
                           warmup_fraction: float = 0.2, adaptive_threshold: bool = True) -> LogisticStudent:
    """Train a logistic student on 0/1 ``labels`` (e.g. weak labels) by (minibatch) gradient descent on
    ``(1 - alpha) CE(f, labels) + alpha CE(f, hard(f)) + l2/2 |weights|^2`` (module docstring), from zero weights.

    ``rng`` draws the minibatches (``batch_size`` None: full batch); ``alpha`` ramps from 0 to ``aux_alpha`` over
    the first ``warmup_fraction`` of ``steps``.
    """
    features = check_array(features, "features", 2)
    labels = check_vector(labels, "labels", features.shape[0])
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if not (np.isfinite(aux_alpha) and 0 <= aux_alpha <= 1):
        raise ValueError(f"aux_alpha must lie in [0, 1], got {aux_alpha}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    if not (np.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    if not (np.isfinite(l2) and l2 >= 0):
        raise ValueError(f"l2 must be >= 0, got {l2}")
    if not 0 <= warmup_fraction <= 1:
        raise ValueError(f"warmup_fraction must lie in [0, 1], got {warmup_fraction}")
    count = features.shape[0]
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or not 1 <= batch_size <= count):
        raise ValueError(f"batch_size must be None or an int in [1, {count}], got {batch_size!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    weights, bias = np.zeros(features.shape[1]), 0.0
    warmup_steps = warmup_fraction * steps
    for step in range(steps):
        rows = np.arange(count) if batch_size is None else rng.choice(count, size=batch_size, replace=False)
        batch, batch_labels = features[rows], labels[rows]  # (b, k), (b,)
        probabilities = _sigmoid(batch @ weights + bias)
        alpha = aux_alpha * (min(1.0, step / warmup_steps) if warmup_steps > 0 else 1.0)
        if alpha > 0:
            positive_rate = float(batch_labels.mean()) if adaptive_threshold else None
            target = (1.0 - alpha) * batch_labels + alpha * hardened_labels(probabilities, positive_rate)
        else:
            target = batch_labels
        residual = probabilities - target  # d CE / d logit, the hardened labels held constant
        weights = weights - learning_rate * (batch.T @ residual / rows.size + l2 * weights)
        bias = bias - learning_rate * float(residual.mean())
    return LogisticStudent(weights, float(bias))


@dataclass(frozen=True)
class LogisticExperiment:
    """Test accuracies of one seeded random-flip run of :func:`logistic_random_flips`."""

    weak_accuracy: float  # 1 - flip_rate: the weak labeller's accuracy on fresh inputs
    weak_to_strong_accuracy: float
    ceiling_accuracy: float
    pgr: float

    def to_dict(self) -> dict:
        return {"weak_accuracy": self.weak_accuracy, "weak_to_strong_accuracy": self.weak_to_strong_accuracy,
                "ceiling_accuracy": self.ceiling_accuracy, "pgr": self.pgr}


def logistic_random_flips(rng: np.random.Generator, *, dimension: int = 50, num_train: int = 200,
                          num_test: int = 2000, flip_rate: float = 0.3, separation: float = 2.0,
                          aux_alpha: float = 0.0, steps: int = 1000, learning_rate: float = 1.0,
                          warmup_fraction: float = 0.2) -> LogisticExperiment:
    """A seeded random-flip experiment for the auxiliary-confidence loss. Two Gaussian classes in the student's
    feature space, ``x = (2 t - 1) mu + N(0, I_d)`` with ``t`` uniform in {0, 1} and ``|mu| = separation``
    (direction drawn from ``rng``); weak labels are ``t`` flipped independently with ``flip_rate`` (weak accuracy
    ``1 - flip_rate``); the logistic student is trained on ``num_train`` weak labels (``aux_alpha``), the ceiling
    on the same inputs' true labels (``alpha = 0``), both scored on ``num_test`` fresh inputs.

    With ``num_train`` a few times ``dimension`` and long full-batch training the plain student fits the flips;
    the confidence term lets it keep its own predictions, which the class structure makes mostly right (an
    empirical effect, checked across seeds in the tests)."""
    for name, value, least in (("dimension", dimension, 1), ("num_train", num_train, 2), ("num_test", num_test, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an int >= {least}, got {value!r}")
    if not (np.isfinite(flip_rate) and 0 <= flip_rate <= 1):
        raise ValueError(f"flip_rate must lie in [0, 1], got {flip_rate}")
    if not (np.isfinite(separation) and separation > 0):
        raise ValueError(f"separation must be > 0, got {separation}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    mean = rng.standard_normal(dimension)
    mean *= separation / np.linalg.norm(mean)

    def draw(count: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 2, size=count)
        return np.outer(2 * labels - 1, mean) + rng.standard_normal((count, dimension)), labels

    inputs, truth = draw(num_train)
    weak = np.where(rng.random(num_train) < flip_rate, 1 - truth, truth)
    test_inputs, test_truth = draw(num_test)
    settings = {"steps": steps, "learning_rate": learning_rate, "warmup_fraction": warmup_fraction}
    student = train_logistic_student(inputs, weak, rng, aux_alpha=aux_alpha, **settings)
    ceiling = train_logistic_student(inputs, truth, rng, **settings)
    student_accuracy = float(np.mean(student.predict(test_inputs) == test_truth))
    ceiling_accuracy = float(np.mean(ceiling.predict(test_inputs) == test_truth))
    weak_accuracy = 1.0 - float(flip_rate)
    return LogisticExperiment(weak_accuracy, student_accuracy, ceiling_accuracy,
                              performance_gap_recovered(weak_accuracy, student_accuracy, ceiling_accuracy))


# --- the evaluator ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Estimate:
    """A mean (or PGR) with a percentile-bootstrap interval."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict:
        return {"value": self.value, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class EvaluationReport:
    """The evaluator's numbers on one test set (scores: higher is better)."""

    weak: Estimate
    weak_to_strong: Estimate
    ceiling: Estimate
    pgr: Estimate
    num_examples: int
    confidence: float

    def to_dict(self) -> dict:
        return {"weak": self.weak.to_dict(), "weak_to_strong": self.weak_to_strong.to_dict(),
                "ceiling": self.ceiling.to_dict(), "pgr": self.pgr.to_dict(), "num_examples": self.num_examples,
                "confidence": self.confidence}


def evaluate_scores(weak_scores, weak_to_strong_scores, ceiling_scores, rng: np.random.Generator, *,
                    confidence: float = 0.95, resamples: int = 2000) -> EvaluationReport:
    """Means of per-example scores of the three models (1/0 correctness for accuracy, minus squared error for
    regression) with percentile-bootstrap intervals, and PGR with a paired bootstrap interval (resamples where
    the ceiling ties the weak score are dropped)."""
    arrays = [check_vector(scores, name) for scores, name in ((weak_scores, "weak_scores"),
                                                        (weak_to_strong_scores, "weak_to_strong_scores"),
                                                        (ceiling_scores, "ceiling_scores"))]
    count = arrays[0].size
    if count < 1 or any(array.size != count for array in arrays):
        raise ValueError(f"the three score arrays must have the same length >= 1, got {[a.size for a in arrays]}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 10:
        raise ValueError(f"resamples must be an int >= 10, got {resamples!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    means = [Estimate(*bootstrap_interval(array, confidence, resamples, rng)) for array in arrays]
    stacked = np.stack(arrays)  # (3, n)
    pgrs = np.empty(resamples)
    chunk = max(1, 2_000_000 // count)
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        rows = rng.integers(0, count, size=(stop - start, count))  # (chunk, n): one resample per row
        weak, student, ceiling = (stacked[k][rows].mean(axis=1) for k in range(3))
        gap = ceiling - weak
        with np.errstate(divide="ignore", invalid="ignore"):
            pgrs[start:stop] = np.where(np.abs(gap) > 1e-12, (student - weak) / gap, np.nan)
    pgr = performance_gap_recovered(means[0].value, means[1].value, means[2].value)
    finite = pgrs[np.isfinite(pgrs)]
    if finite.size:
        tail = 100 * (1 - confidence) / 2
        low, high = np.percentile(finite, [tail, 100 - tail])
    else:
        low = high = float("nan")
    return EvaluationReport(*means, Estimate(pgr, float(low), float(high)), count, confidence)


__all__ = ["FAMILIES", "ClassificationProblem", "ClassificationSolution", "Estimate", "EvaluationReport",
           "LinearGaussianProblem", "LinearSamples", "LinearSolution", "LogisticExperiment", "LogisticStudent",
           "best_in_family", "evaluate_scores", "hardened_labels", "logistic_random_flips",
           "performance_gap_recovered", "projection", "sample_classification_scores", "selection_matrix",
           "simulate_linear", "solve_classification", "solve_linear", "threshold_classifiers",
           "train_logistic_student"]
