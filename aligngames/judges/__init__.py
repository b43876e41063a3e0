"""Judges: the referees that turn answers into payoffs.

A :class:`PreferenceJudge` returns ``P(a > b | prompt)`` for a batch of answer pairs; a
:class:`HarmJudge` returns the harm of each answer in [0, 1]. Envs only see these protocols, so the embedded default, a reward model and (with the LLM agents) an LLM
prompted as judge are interchangeable.

- :class:`MatrixJudge`: a finite answer set and an explicit preference matrix (tabular games).
- :class:`FeatureJudge`: the embedded default for language mode. Deterministic and transparent:
  each annotator group scores an answer by a weighted sum of readable features (relevance to the
  prompt, brevity, detail, examples, caveats, structure) and prefers the higher score
  Bradley-Terry style; the population mixes the groups. Runs offline on a CPU in microseconds.
- :class:`RewardModelJudge`: any ``AutoModelForSequenceClassification`` reward model from a local
  path, ``P(a > b) = sigmoid(r(a) - r(b))``.
"""

from __future__ import annotations

import abc
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aligngames import registry
from aligngames.preferences import check_preference_matrix


class PreferenceJudge(abc.ABC):
    """Pairwise preference judge: ``compare(prompts, first, second)[k] = P(first[k] > second[k] | prompts[k])``."""

    #: A string that identifies the judge and its settings (recorded in run folders, used as a cache key).
    identity: str

    @abc.abstractmethod
    def compare(self, prompts: Sequence[str], first: Sequence[str], second: Sequence[str]) -> np.ndarray:
        """Return a float64 array of probabilities in [0, 1], one per pair."""

    def probability(self, prompt: str, first: str, second: str) -> float:
        """``P(first > second | prompt)`` for one pair."""
        return float(self.compare([prompt], [first], [second])[0])


class HarmJudge(abc.ABC):
    """Harm (cost) judge: ``score(prompts, answers)[k]`` is the harm of ``answers[k]`` to ``prompts[k]`` in [0, 1]
    (for a classifier, the probability that the answer is harmful)."""

    #: A string that identifies the judge and its settings (recorded in run folders, used as a cache key).
    identity: str

    @abc.abstractmethod
    def score(self, prompts: Sequence[str], answers: Sequence[str]) -> np.ndarray:
        """Return a float64 array of harm scores in [0, 1], one per answer."""

    def prefetch(self, prompts: Sequence[str], answers: Sequence[str]) -> None:
        """Score these pairs ahead of the calls that will ask for them one at a time (a judge whose scores
        are memoised and do not depend on batching fills its memo here); default: nothing."""
        return None


def _check_batch(prompts: Sequence[str], first: Sequence[str], second: Sequence[str]) -> None:
    if not len(prompts) == len(first) == len(second):
        raise ValueError(
            f"compare() needs as many prompts as answer pairs; got {len(prompts)} prompts, "
            f"{len(first)} first answers and {len(second)} second answers"
        )


class MatrixJudge(PreferenceJudge):
    """A finite answer set with an explicit preference matrix; the prompt is ignored."""

    def __init__(self, answers: Sequence[str], preferences: np.ndarray, name: str = "matrix") -> None:
        self.answers = tuple(answers)
        self.preferences = check_preference_matrix(preferences)
        if self.preferences.shape[0] != len(self.answers):
            raise ValueError(f"{len(self.answers)} answers but a {self.preferences.shape[0]}x{self.preferences.shape[0]} preference matrix")
        self._index = {answer: i for i, answer in enumerate(self.answers)}
        self.identity = f"matrix:{name}"

    def index(self, answer: str) -> int:
        if answer not in self._index:
            raise ValueError(f"{answer!r} is not in the answer set {list(self.answers)}")
        return self._index[answer]

    def compare(self, prompts, first, second) -> np.ndarray:
        _check_batch(prompts, first, second)
        rows = [self.index(a) for a in first]
        cols = [self.index(b) for b in second]
        return self.preferences[rows, cols].astype(np.float64)


# --- the embedded default: feature-based annotator groups ---------------------------------------

_WORD = re.compile(r"[a-z][a-z']*")
_STOPWORDS = frozenset(
    "a an and are as at be but by can do does for from how i if in into is it its my of on or should "
    "so than that the their them then there these they this to was what when where which who why will "
    "with would you your me we our about have has had not no yes".split()
)
_EXAMPLE_MARKERS = ("for example", "for instance", "e.g.", "such as", "like this:")
_CAUTION_MARKERS = (
    "be careful", "careful", "caution", "consult", "professional", "safety", "safely", "risk",
    "warning", "however", "depends", "check with", "avoid", "note that",
)
_LIST_LINE = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+", re.MULTILINE)

#: The features :func:`answer_features` computes, each in [0, 1].
FEATURES = ("relevance", "brevity", "detail", "example", "caution", "structure")


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOPWORDS}


def answer_features(prompt: str, answer: str) -> dict[str, float]:
    """Readable features of ``answer`` to ``prompt``, each in [0, 1].

    relevance: share of the prompt's content words that the answer uses;
    brevity: ``exp(-words / 60)``; detail: ``min(words, 150) / 150``;
    example: 1 if it gives an example; caution: caveat markers, saturating at 2;
    structure: 1 if it has at least two list lines.
    An empty answer scores 0 on every feature.
    """
    words = _WORD.findall(answer.lower())
    if not words:
        return dict.fromkeys(FEATURES, 0.0)
    lowered = answer.lower()
    prompt_words = _content_words(prompt)
    answer_words = set(words)
    return {
        "relevance": len(prompt_words & answer_words) / len(prompt_words) if prompt_words else 0.0,
        "brevity": math.exp(-len(words) / 60.0),
        "detail": min(len(words), 150) / 150.0,
        "example": 1.0 if any(marker in lowered for marker in _EXAMPLE_MARKERS) else 0.0,
        "caution": min(sum(lowered.count(marker) for marker in _CAUTION_MARKERS), 2) / 2.0,
        "structure": 1.0 if len(_LIST_LINE.findall(answer)) >= 2 else 0.0,
    }


@dataclass(frozen=True)
class FeatureGroup:
    """An annotator group of the feature judge.

    Attributes:
        name: a label for reports.
        weight: the group's share of the population.
        feature_weights: utility = sum of ``feature_weights[f] * feature f``; features from :data:`FEATURES`.
    """

    name: str
    weight: float
    feature_weights: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.feature_weights) - set(FEATURES))
        if unknown:
            raise ValueError(f"group {self.name!r}: unknown features {unknown}; known features: {list(FEATURES)}")
        if not self.weight > 0:
            raise ValueError(f"group {self.name!r}: weight must be > 0, got {self.weight}")

    def utility(self, features: Mapping[str, float]) -> float:
        return sum(weight * features[name] for name, weight in self.feature_weights.items())


#: Three groups that want different things: skimmers want short answers without hedging, learners
#: want detail and examples, careful readers want caveats but not walls of text. Everyone wants the
#: answer on topic. Their majorities are non-transitive on the packaged answer styles: concise
#: beats detailed, detailed beats cautious, cautious beats concise (see tests/core/test_judges.py).
DEFAULT_GROUPS = (
    FeatureGroup("skimmers", 0.30, {"relevance": 2.0, "brevity": 3.0, "structure": 0.3, "caution": -1.5}),
    FeatureGroup("learners", 0.36, {"relevance": 2.0, "detail": 2.4, "example": 0.7}),
    FeatureGroup("careful", 0.34, {"relevance": 2.0, "caution": 1.7, "brevity": 2.8}),
)


class FeatureJudge(PreferenceJudge):
    """The embedded default preference judge (see the module docstring).

    ``P(a > b | x) = sum_g w_g * sigmoid(beta * (u_g(a, x) - u_g(b, x)))``.
    """

    def __init__(self, groups: Sequence[FeatureGroup | Mapping] | None = None, beta: float = 3.0) -> None:
        if groups is None:
            groups = DEFAULT_GROUPS
        self.groups = tuple(g if isinstance(g, FeatureGroup) else FeatureGroup(**g) for g in groups)
        if not self.groups:
            raise ValueError("FeatureJudge needs at least one group")
        if not beta > 0:
            raise ValueError(f"beta must be > 0, got {beta}")
        self.beta = float(beta)
        total = sum(g.weight for g in self.groups)
        self._weights = np.array([g.weight / total for g in self.groups])
        description = ";".join(f"{g.name}={g.weight}:{sorted(g.feature_weights.items())}" for g in self.groups)
        self.identity = f"features:beta={self.beta}:{description}"

    def group_utilities(self, prompt: str, answer: str) -> np.ndarray:
        """One utility per group, shape ``(num_groups,)``."""
        features = answer_features(prompt, answer)
        return np.array([group.utility(features) for group in self.groups])

    def group_preferences(self, prompt: str, first: str, second: str) -> np.ndarray:
        """``P_g(first > second)`` per group, shape ``(num_groups,)``."""
        difference = self.group_utilities(prompt, first) - self.group_utilities(prompt, second)
        return 1.0 / (1.0 + np.exp(-self.beta * difference))

    def compare(self, prompts, first, second) -> np.ndarray:
        _check_batch(prompts, first, second)
        return np.array(
            [float(self._weights @ self.group_preferences(x, a, b)) for x, a, b in zip(prompts, first, second)],
            dtype=np.float64,
        )


# --- reward models and other sequence classifiers -------------------------------------------------

@dataclass(frozen=True)
class LocalSequenceClassifier:
    """An ``AutoModelForSequenceClassification`` and its tokenizer, loaded from a local folder.

    Shared by the reward-model judge and the harm-classifier judge. Inputs use the tokenizer's chat
    template when it has one (user turn = prompt, assistant turn = answer), else the (prompt, answer)
    text pair. Nothing is downloaded and ``trust_remote_code`` is off unless passed.
    """

    folder: Path
    model: object
    tokenizer: object
    device: str

    @classmethod
    def load(cls, path: str, *, what: str, device: str | None = None,
             trust_remote_code: bool = False) -> LocalSequenceClassifier:
        """Load from ``path``; ``what`` names the model in the error when the folder is missing."""
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{what} folder {str(folder)!r} does not exist. Save a model there with "
                f"model.save_pretrained(folder) and tokenizer.save_pretrained(folder) (aligngames never downloads models)"
            )
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=trust_remote_code)
        model = AutoModelForSequenceClassification.from_pretrained(
            folder, local_files_only=True, trust_remote_code=trust_remote_code
        ).to(device).eval()
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model.config.pad_token_id = tokenizer.pad_token_id
        return cls(folder, model, tokenizer, device)

    @property
    def num_labels(self) -> int:
        return int(self.model.config.num_labels)

    def logits(self, prompts: Sequence[str], answers: Sequence[str], *, batch_size: int, max_length: int) -> np.ndarray:
        """Logits of each (prompt, answer), float64 of shape ``(len(answers), num_labels)``."""
        import torch

        out: list[np.ndarray] = []
        for start in range(0, len(answers), batch_size):
            batch_prompts = list(prompts[start:start + batch_size])
            batch_answers = list(answers[start:start + batch_size])
            if getattr(self.tokenizer, "chat_template", None):
                texts = [
                    self.tokenizer.apply_chat_template(
                        [{"role": "user", "content": x}, {"role": "assistant", "content": y}], tokenize=False
                    )
                    for x, y in zip(batch_prompts, batch_answers)
                ]
                encoded = self.tokenizer(texts, padding=True, truncation=True, max_length=max_length,
                                         return_tensors="pt")
            else:
                encoded = self.tokenizer(batch_prompts, batch_answers, padding=True, truncation=True,
                                         max_length=max_length, return_tensors="pt")
            with torch.no_grad():
                logits = self.model(**encoded.to(self.device)).logits  # (batch, num_labels)
            out.append(logits.float().cpu().numpy().astype(np.float64))
        return np.concatenate(out) if out else np.zeros((0, self.num_labels))


class RewardModelJudge(PreferenceJudge):
    """A reward model (``AutoModelForSequenceClassification`` with one output) from a local folder.

    ``P(a > b | x) = sigmoid(r(x, a) - r(x, b))``. Inputs use the tokenizer's chat template when it
    has one (user turn = prompt, assistant turn = answer), else the (prompt, answer) text pair.
    Nothing is downloaded and ``trust_remote_code`` is off unless you pass it.
    """

    def __init__(self, path: str, *, device: str | None = None, batch_size: int = 16,
                 max_length: int = 1024, trust_remote_code: bool = False) -> None:
        self.classifier = LocalSequenceClassifier.load(path, what="reward model", device=device,
                                                       trust_remote_code=trust_remote_code)
        folder = self.classifier.folder
        if self.classifier.num_labels != 1:
            raise ValueError(f"reward model at {str(folder)!r} has {self.classifier.num_labels} outputs; a reward model has 1")
        self.device, self.model, self.tokenizer = self.classifier.device, self.classifier.model, self.classifier.tokenizer
        self.batch_size = batch_size
        self.max_length = max_length
        self.identity = f"reward_model:{folder.resolve()}"

    def rewards(self, prompts: Sequence[str], answers: Sequence[str]) -> np.ndarray:
        """The scalar reward of each (prompt, answer), float64 of shape ``(len(answers),)``."""
        return self.classifier.logits(prompts, answers, batch_size=self.batch_size, max_length=self.max_length)[:, 0]

    def compare(self, prompts, first, second) -> np.ndarray:
        _check_batch(prompts, first, second)
        n = len(prompts)
        rewards = self.rewards(list(prompts) * 2, list(first) + list(second))
        return 1.0 / (1.0 + np.exp(-(rewards[:n] - rewards[n:])))


def make_preference_judge(name: str, **kwargs) -> PreferenceJudge:
    """Build a preference judge by name: ``"features"`` (embedded default) or ``"reward_model"`` (``path=...``)."""
    return registry.make_judge(name, kwargs, expected=PreferenceJudge)
