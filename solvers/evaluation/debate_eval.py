"""Evaluate debate protocols: judge accuracy with confidence intervals, and debater Elo.

Following Khan et al. 2024 ("Debating with More Persuasive LLMs Leads to More Truthful Answers"):

1. **Judge accuracy per protocol.** For every item of a split and every assignment of positions
   (the correct answer shown as A and as B; in consultancy also the consultant defending A and B,
   so it argues for the wrong answer half of the time) play one episode of ``debate_v0`` with the
   same debater in every debating seat. An item's accuracy is the mean over its assignments
   (positions swapped and averaged, so a judge that always says "A" scores exactly 1/2); the
   protocol's accuracy is the mean over items, with a percentile-bootstrap confidence interval
   over items (``scipy.stats.bootstrap``). An invalid verdict counts as wrong and is reported.
2. **Debater Elo.** Every ordered pair of a pool of debaters meets on every item, with the correct
   answer in both positions; the judge's pick decides the game. Ratings are fitted by maximum
   likelihood (:mod:`aligngames.solvers.evaluation.elo`), with bootstrap intervals over games, alongside each
   debater's win rate when it holds the correct answer and when it holds the distractor.

Episodes run through :func:`aligngames.play.rollout.play_episodes`, so LLM debaters and a seated LLM
judge answer many episodes in one batch. The blind protocol with a fixed judge has no players and
asks the judge directly.

CLI: ``aligngames solve debate_eval --split test --out runs/debate_eval``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aligngames import registry
from aligngames.agent import AgentSpec
from aligngames.envs.debate import load_items, make_rules
from aligngames.envs.debate.items import DebateItem
from aligngames.envs.debate.judges import PROTOCOLS
from aligngames.intervals import bootstrap_interval
from aligngames.play.rollout import play_episodes
from aligngames.seeding import derive_seed, make_rng
from aligngames.solvers.evaluation.elo import bootstrap_elo, fit_elo

log = logging.getLogger(__name__)


def _default_pool() -> dict[str, AgentSpec]:
    return {"quote": AgentSpec("quote_debater"),
            "fabricate": AgentSpec("quote_debater", {"strategy": "fabricate"}),
            "assert": AgentSpec("assert_debater")}


@dataclass(frozen=True)
class DebateEvalConfig:
    """An evaluation run.

    Attributes:
        split: the item split (``train``, ``validation``, ``test`` or ``all``).
        protocols: which of ``debate``, ``consultancy``, ``blind`` to measure.
        debater: the debater for judge accuracy (it plays every debating seat).
        judge: a registered debate judge (``quote_counting``, ``agent_judge``) or ``player`` (seated).
        judge_kwargs: keyword arguments of a registered judge.
        judge_agent: the agent in the judge seat when ``judge`` is ``player``.
        rounds: arguments per debater.
        max_words: the word limit per argument.
        max_items: use only the first ``max_items`` items of the split (all if null).
        elo_pool: debaters for the Elo round robin, by name (empty: no Elo).
        elo_alpha: regularisation of the Elo fit (0 for the plain MLE).
        seed: the run seed.
        confidence: the confidence level of the intervals.
        bootstrap_resamples: resamples for the accuracy intervals (and a tenth of that for Elo).
    """

    split: str = "test"
    protocols: tuple[str, ...] = PROTOCOLS
    debater: AgentSpec = field(default_factory=lambda: AgentSpec("quote_debater"))
    judge: str = "quote_counting"
    judge_kwargs: dict[str, Any] = field(default_factory=dict)
    judge_agent: AgentSpec | None = None
    rounds: int = 3
    max_words: int = 150
    max_items: int | None = None
    elo_pool: dict[str, AgentSpec] = field(default_factory=_default_pool)
    elo_alpha: float = 0.01
    seed: int = 0
    confidence: float = 0.95
    bootstrap_resamples: int = 2000

    def __post_init__(self) -> None:
        unknown = sorted(set(self.protocols) - set(PROTOCOLS))
        if unknown:
            raise ValueError(f"unknown protocol(s) {unknown}; valid: {list(PROTOCOLS)}")
        if (self.judge == "player") != (self.judge_agent is not None):
            raise ValueError("judge='player' needs a judge_agent, and a judge_agent needs judge='player'")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")


def assignments(protocol: str) -> list[dict[str, str]]:
    """The position assignments an item is played under (positions swapped, and averaged later)."""
    if protocol == "consultancy":
        return [{"correct_position": c, "consultant_position": s} for c in "AB" for s in "AB"]
    return [{"correct_position": c} for c in "AB"]


def _env_kwargs(config: DebateEvalConfig, protocol: str, item: DebateItem, assignment: dict[str, str]) -> dict:
    kwargs = {"protocol": protocol, "split": "all", "item_ids": [item.id], "rounds": config.rounds,
              "max_words": config.max_words, "judge": config.judge, **assignment}
    if config.judge != "player":
        kwargs["judge_kwargs"] = dict(config.judge_kwargs)
    return kwargs


def play_protocol(config: DebateEvalConfig, protocol: str, items: Sequence[DebateItem], debater: Any,
                  judge_agent: Any | None) -> list[dict[str, Any]]:
    """One record per (item, assignment): the env's record plus the item and assignment."""
    jobs = [(item, assignment) for item in items for assignment in assignments(protocol)]
    seeds = [derive_seed(config.seed, protocol, item.id, *assignment.values()) for item, assignment in jobs]
    if protocol == "blind" and judge_agent is None:  # no players: ask the fixed judge directly
        records = []
        for (item, assignment), seed in zip(jobs, seeds):
            rules = make_rules(**_env_kwargs(config, protocol, item, assignment))
            rules.reset(np.random.default_rng(seed))
            records.append(rules.record())
    else:
        seats = {"debate": {"debater_a": debater, "debater_b": debater}, "consultancy": {"consultant": debater},
                 "blind": {}}[protocol]
        if judge_agent is not None:
            seats = {**seats, "judge": judge_agent}
        queue = iter(jobs)

        def make_env():  # play_episodes calls this once per seed, in order
            item, assignment = next(queue)
            return registry.make("debate_v0", **_env_kwargs(config, protocol, item, assignment))

        records = [episode.record for episode in play_episodes(make_env, seats, seeds)]
    return [{**record, "assignment": assignment} for record, (_, assignment) in zip(records, jobs)]


def accuracy_summary(records: Sequence[dict[str, Any]], config: DebateEvalConfig,
                     rng: np.random.Generator) -> dict[str, Any]:
    """Per-protocol accuracy: positions averaged within an item, interval over items."""
    by_item: dict[str, list[float]] = {}
    for record in records:
        by_item.setdefault(record["item"], []).append(1.0 if record["judge_correct"] else 0.0)
    per_item = [float(np.mean(scores)) for scores in by_item.values()]
    mean, low, high = bootstrap_interval(per_item, config.confidence, config.bootstrap_resamples, rng)
    summary = {
        "accuracy": mean, "ci_low": low, "ci_high": high, "items": len(per_item), "episodes": len(records),
        "invalid_verdicts": sum(record["verdict"]["choice"] is None for record in records),
        "ties": sum(bool(record["verdict"]["tie"]) for record in records),
    }
    if records and records[0]["protocol"] == "consultancy":
        for honest in (True, False):
            chosen = [r for r in records
                      if (r["assignment"]["consultant_position"] == r["correct_position"]) == honest]
            summary["accuracy_honest_consultant" if honest else "accuracy_dishonest_consultant"] = float(
                np.mean([bool(r["judge_correct"]) for r in chosen]))
    return summary


def elo_round_robin(config: DebateEvalConfig, items: Sequence[DebateItem], judge_agent: Any | None,
                    rng: np.random.Generator) -> dict[str, Any]:
    """Every ordered pair of the pool on every item, both positions; Elo from the judge's picks."""
    names = list(config.elo_pool)
    agents = {}
    for name, spec in config.elo_pool.items():
        agents[name] = spec.build()
        agents[name].reset(derive_seed(config.seed, "elo_agent", name))
    games: list[tuple[int, int]] = []
    honest_wins = {name: [] for name in names}
    lying_wins = {name: [] for name in names}
    invalid = 0
    for i, first in enumerate(names):
        for j, second in enumerate(names):
            if i == j:
                continue
            seats = {"debater_a": agents[first], "debater_b": agents[second]}
            if judge_agent is not None:
                seats["judge"] = judge_agent
            jobs = [(item, {"correct_position": c}) for item in items for c in "AB"]
            queue = iter(jobs)

            def make_env(queue=queue):
                item, assignment = next(queue)
                return registry.make("debate_v0", **_env_kwargs(config, "debate", item, assignment))

            seeds = [derive_seed(config.seed, "elo", first, second, item.id, a["correct_position"]) for item, a in jobs]
            for episode in play_episodes(make_env, seats, seeds):
                record = episode.record
                choice = record["verdict"]["choice"]
                if choice is None:
                    invalid += 1
                    continue
                winner, loser = (i, j) if choice == "A" else (j, i)
                games.append((winner, loser))
                first_honest = record["correct_position"] == "A"
                (honest_wins if first_honest else lying_wins)[first].append(float(choice == "A"))
                (lying_wins if first_honest else honest_wins)[second].append(float(choice == "B"))
    ratings = fit_elo(len(names), games, alpha=config.elo_alpha)
    intervals = bootstrap_elo(len(names), games, rng, resamples=max(config.bootstrap_resamples // 10, 20),
                              level=config.confidence, alpha=max(config.elo_alpha, 1e-3))
    return {
        "games": len(games), "invalid_verdicts": invalid,
        "players": {name: {"elo": float(ratings[k]), "ci_low": float(intervals[k, 0]), "ci_high": float(intervals[k, 1]),
                           "win_rate_honest": float(np.mean(honest_wins[name])),
                           "win_rate_lying": float(np.mean(lying_wins[name]))}
                    for k, name in enumerate(names)},
    }


def evaluate(config: DebateEvalConfig) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the evaluation; returns ``(summary, episode records)``."""
    items = load_items(config.split)
    if config.max_items is not None:
        items = items[:config.max_items]
    rng = make_rng(config.seed, "debate_eval", "bootstrap")
    debater = config.debater.build()
    debater.reset(derive_seed(config.seed, "debater"))
    judge_agent = None
    if config.judge_agent is not None:
        judge_agent = config.judge_agent.build()
        judge_agent.reset(derive_seed(config.seed, "judge"))
    summary: dict[str, Any] = {"protocols": {}, "items": len(items), "split": config.split}
    all_records: list[dict[str, Any]] = []
    for protocol in config.protocols:
        records = play_protocol(config, protocol, items, debater, judge_agent)
        summary["protocols"][protocol] = accuracy_summary(records, config, rng)
        all_records += records
        log.info("%s: accuracy %.3f", protocol, summary["protocols"][protocol]["accuracy"])
    if config.elo_pool:
        summary["elo"] = elo_round_robin(config, items, judge_agent, rng)
    return summary, all_records


def format_summary(summary: dict[str, Any], config: DebateEvalConfig) -> str:
    level = round(100 * config.confidence)
    lines = [f"judge {config.judge}, debater {config.debater.type} {config.debater.kwargs or ''}, "
             f"{summary['items']} {summary['split']} items, {config.rounds} round(s)",
             f"{'protocol':<12} {'accuracy':>9} {f'{level}% CI':>17} {'episodes':>9} {'invalid':>8} {'ties':>6}"]
    for protocol, row in summary["protocols"].items():
        lines.append(f"{protocol:<12} {row['accuracy']:>9.3f}   [{row['ci_low']:.3f}, {row['ci_high']:.3f}] "
                     f"{row['episodes']:>9} {row['invalid_verdicts']:>8} {row['ties']:>6}")
        if protocol == "consultancy":
            lines.append(f"{'':<12} honest consultant {row['accuracy_honest_consultant']:.3f}, "
                         f"dishonest {row['accuracy_dishonest_consultant']:.3f}")
    if "elo" in summary:
        elo = summary["elo"]
        lines.append(f"Elo ({elo['games']} games, {elo['invalid_verdicts']} invalid verdicts left out):")
        lines.append(f"{'debater':<12} {'Elo':>7} {f'{level}% CI':>17} {'win honest':>11} {'win lying':>10}")
        ranked = sorted(elo["players"].items(), key=lambda pair: -pair[1]["elo"])
        for name, row in ranked:
            lines.append(f"{name:<12} {row['elo']:>7.0f}   [{row['ci_low']:.0f}, {row['ci_high']:.0f}] "
                         f"{row['win_rate_honest']:>11.3f} {row['win_rate_lying']:>10.3f}")
    return "\n".join(lines)


__all__ = ["DebateEvalConfig", "accuracy_summary", "assignments", "elo_round_robin", "evaluate",
           "format_summary", "play_protocol"]
