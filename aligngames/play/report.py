"""The report of a tournament run folder: ``report.md``, a payoff heat map ``payoffs.png`` and ``ratings.png``.

Besides the mean payoff, the report rates the pool with Nash averaging (the maximum-entropy Nash equilibrium of
the antisymmetric part of the symmetric meta-game, Balduzzi et al. 2018) and alpha-rank (Omidshafiei et al.
2019; one population for a symmetric game, one per seat otherwise), from
:mod:`aligngames.solvers.evaluation.ratings`, and, for two-seat symmetric games, Elo (Bradley-Terry on the decisive
episodes, :mod:`aligngames.solvers.evaluation.elo`). Alpha-rank's selection intensity is scaled to the table:
``alpha = ALPHA_RANK_SCALE / max |payoff|``, so a payoff gap as large as the table's largest entry weighs
``exp(10)``.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import networkx as nx
import numpy as np

from aligngames.runs import atomic_write_text
from aligngames.solvers.evaluation.elo import bootstrap_elo, episode_results, fit_elo
from aligngames.solvers.evaluation.ratings import alpha_rank, nash_averaging

#: alpha-rank's selection intensity times the table's largest absolute payoff.
ALPHA_RANK_SCALE = 10.0
#: alpha-rank's population size.
ALPHA_RANK_POPULATION = 50
#: choix's regularisation for the Elo fit (a weak prior: finite ratings when an agent never loses).
ELO_PRIOR = 0.01
#: bootstrap resamples for the Elo intervals.
ELO_RESAMPLES = 200


def _md(name: str) -> str:
    """An agent or seat name safe inside a Markdown table cell: control characters as escapes, pipes escaped."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(name))
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*")


def _cell(mean: float | None, ci: float | None) -> str:
    if mean is None:
        return "-"
    return f"{mean:+.3f}" + ("" if ci is None else f" ± {ci:.3f}")


def _matrix_table(rows: list[str], cols: list[str], mean, ci=None, corner: str = "") -> list[str]:
    lines = [f"| {corner} | " + " | ".join(map(_md, cols)) + " |", "|---|" + "---|" * len(cols)]
    for i, row in enumerate(rows):
        cells = [_cell(mean[i][j], None if ci is None else ci[i][j]) for j in range(len(cols))]
        lines.append(f"| **{_md(row)}** | " + " | ".join(cells) + " |")
    return lines


def write_report(run_dir: str | Path) -> Path:
    """(Re)write ``report.md`` and ``payoffs.png`` from ``payoffs.json``; return the report's path."""
    run_dir = Path(run_dir)
    payoffs_path = run_dir / "payoffs.json"
    if not (run_dir / "manifest.json").exists():
        raise FileNotFoundError(f"{run_dir} is not a tournament run folder (it has no manifest.json)")
    if not payoffs_path.exists():
        raise FileNotFoundError(f"{payoffs_path} not found: finish (or resume) the run before drawing its report")
    data = json.loads(payoffs_path.read_text())
    manifest_path = run_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    seats, pools = data["seats"], data["pools"]
    env_name = manifest.get("env", {}).get("name", "?")
    lines = [
        f"# Tournament report: {env_name}",
        "",
        f"- episodes per match: {data['episodes']}; seed: {manifest.get('seed', '?')}",
        f"- game: {data['game_info']['num_players']} players, {data['game_info']['utility']}, "
        f"{data['game_info']['dynamics']}" + (", symmetric" if data["game_info"]["symmetric"] else ""),
        "- cells: mean return ± half-width of a 95% t-interval over episodes",
        "",
    ]
    if "symmetric" in data:
        names, table = data["symmetric"]["names"], np.array(data["symmetric"]["mean"], dtype=float)
        field = table.mean(axis=1)
        order = np.argsort(-field, kind="stable")
        lines += ["## Meta-game (row agent's payoff against column agent, both seatings averaged)", ""]
        lines += _matrix_table(names, names, table.tolist(), corner="row vs column")
        lines += ["", "## Ranking by mean payoff against the whole pool", ""]
        lines += ["| rank | agent | mean payoff | beats |", "|---|---|---|---|"]
        for rank, i in enumerate(order, 1):
            beaten = [_md(names[j]) for j in range(len(names)) if table[i, j] > 1e-12]
            lines.append(f"| {rank} | {_md(names[i])} | {field[i]:+.3f} | {', '.join(beaten) or '-'} |")
        cycle = _find_cycle(table)
        if cycle:
            lines += ["", "Non-transitive: " + " > ".join(_md(names[i]) for i in [*cycle, cycle[0]])
                      + " (each beats the next on average)."]
        lines += ["", *_symmetric_ratings(run_dir, names, table, field)]
        lines.append("")
    for seat in seats:
        lines += [f"## Return of {_md(seat)}", ""]
        if len(seats) == 2:
            lines += _matrix_table(pools[seats[0]], pools[seats[1]], data["mean"][seat], data["ci95"][seat],
                                   corner=f"{_md(seats[0])} \\ {_md(seats[1])}")
        else:
            lines += ["| seating | return |", "|---|---|"]
            for position in itertools.product(*(range(len(pools[s])) for s in seats)):
                seating = ", ".join(f"{_md(s)}={_md(pools[s][k])}" for s, k in zip(seats, position))
                mean, ci = data["mean"][seat], data["ci95"][seat]
                for k in position:
                    mean, ci = mean[k], ci[k]
                lines.append(f"| {seating} | {_cell(mean, ci)} |")
        lines.append("")
    if "symmetric" not in data and len(seats) == 2:
        lines += _seat_ratings(data)
    figure = _draw_heatmap(run_dir, data)
    if figure:
        lines += ["## Heat map", "", f"![payoffs]({figure.name})", ""]
    lines += ["Files: `config.yaml` (resolved config), `manifest.json` (seed, versions, commit), "
              "`matches.jsonl` (one line per match), `transcripts/`, `payoffs.json`.", ""]
    report = run_dir / "report.md"
    atomic_write_text(report, "\n".join(lines))
    return report


def _alpha(table: np.ndarray) -> float:
    scale = float(np.abs(table).max())
    return ALPHA_RANK_SCALE / scale if scale > 0 else 1.0


def _symmetric_ratings(run_dir: Path, names: list[str], table: np.ndarray, field: np.ndarray) -> list[str]:
    """Mean payoff, Nash averaging and alpha-rank side by side, and ``ratings.png``."""
    if not np.isfinite(table).all():
        return ["Ratings: skipped (the meta-game has missing cells)."]
    average = nash_averaging(table, antisymmetrize=True)
    alpha = _alpha(table)
    ranked = alpha_rank(table, alpha=alpha, population_size=ALPHA_RANK_POPULATION)
    elo, elo_note = _elo(run_dir, names)
    lines = ["## Ratings", "",
             f"Nash averaging: the maximum-entropy Nash of `(M - M^T) / 2` and each agent's payoff against it (0 in "
             f"its support). Alpha-rank: stationary mass, alpha {alpha:.4g}, population {ALPHA_RANK_POPULATION}. "
             f"Elo: {elo_note}", "",
             "| agent | mean payoff | Nash mass | Nash average | alpha-rank mass | Elo [95% CI] |", "|---|---|---|---|---|---|"]
    for i in np.argsort(-ranked.stationary, kind="stable"):
        rating = 0.0 if abs(average.ratings[i]) < 5e-4 else float(average.ratings[i])  # no "-0.000"
        lines.append(f"| {_md(names[i])} | {field[i]:+.3f} | {average.nash[i]:.3f} | {rating:+.3f} | "
                     f"{ranked.stationary[i]:.3f} | {elo[i]} |")
    figure = _draw_ratings(run_dir, names, {"Nash averaging mass": average.nash, "alpha-rank mass": ranked.stationary})
    return [*lines, "", f"![ratings]({figure.name})"]


def _elo(run_dir: Path, names: list[str]) -> tuple[list[str], str]:
    """Each agent's Elo cell and the note on how it was fitted: Bradley-Terry on the decisive episodes between
    different agents (MAP with choix's weak prior ``ELO_PRIOR``, so an unbeaten agent stays finite), with
    bootstrap percentile intervals over episodes (seeded: the report is the same every time)."""
    path = run_dir / "matches.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    results, draws = episode_results(lines, names)
    if not results:
        return ["-"] * len(names), "no decisive episodes between different agents."
    ratings = fit_elo(len(names), results, alpha=ELO_PRIOR)
    intervals = bootstrap_elo(len(names), results, np.random.default_rng(0), resamples=ELO_RESAMPLES, alpha=ELO_PRIOR)
    cells = [f"{rating:.0f} [{low:.0f}, {high:.0f}]" for rating, (low, high) in zip(ratings, intervals)]
    return cells, (f"Bradley-Terry on {len(results)} decisive episodes ({draws} draws left out), mean 1000, "
                   f"{ELO_RESAMPLES} bootstrap resamples.")


def _seat_ratings(data: dict) -> list[str]:
    """Two-population alpha-rank over the seats' pools (each seat's returns are its population's payoffs)."""
    seats, pools = data["seats"], data["pools"]
    tables = [np.array(data["mean"][seat], dtype=float) for seat in seats]
    if not all(np.isfinite(t).all() for t in tables):
        return ["Ratings: skipped (missing cells)."]
    alpha = _alpha(np.stack(tables))
    ranked = alpha_rank(tables, alpha=alpha, population_size=ALPHA_RANK_POPULATION)
    lines = ["## Ratings (alpha-rank, one population per seat)", "",
             f"Each seat's pool is a population whose fitness is that seat's return; alpha {alpha:.4g}, population "
             f"{ALPHA_RANK_POPULATION}. Mass of each agent (summed over the other seat's agents):", ""]
    for seat, marginal in zip(seats, ranked.marginals):
        lines += [f"| {_md(seat)} agent | alpha-rank mass |", "|---|---|"]
        for k in np.argsort(-marginal, kind="stable"):
            lines.append(f"| {_md(pools[seat][k])} | {marginal[k]:.3f} |")
        lines.append("")
    top = ranked.profiles[ranked.ranking[0]]
    lines += ["Top profile: " + ", ".join(f"{_md(seat)}={_md(pools[seat][k])}" for seat, k in zip(seats, top))
              + f" (mass {ranked.stationary[ranked.ranking[0]]:.3f}).", ""]
    return lines


def _draw_ratings(run_dir: Path, names: list[str], masses: dict[str, np.ndarray]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    positions = np.arange(len(names))
    width = 0.8 / len(masses)
    figure, axes = plt.subplots(figsize=(max(5.0, 0.8 * len(names) + 2), 3.8))
    for k, (label, values) in enumerate(masses.items()):
        axes.bar(positions + (k - (len(masses) - 1) / 2) * width, values, width, label=label)
    axes.set_xticks(positions, names, rotation=45, ha="right")
    axes.set_ylabel("mass")
    axes.set_ylim(0, 1.05)
    axes.set_title("ratings of the pool")
    axes.legend()
    figure.tight_layout()
    path = run_dir / "ratings.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _find_cycle(table: np.ndarray) -> list[int] | None:
    """A shortest cycle of the 'beats on average' relation, if any (3 <= length <= n)."""
    graph = nx.DiGraph()
    n = len(table)
    graph.add_nodes_from(range(n))
    graph.add_edges_from((i, j) for i in range(n) for j in range(n) if i != j and table[i, j] > 1e-12)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return None
    return [edge[0] for edge in cycle]


def _draw_heatmap(run_dir: Path, data: dict) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seats = data["seats"]
    if "symmetric" in data:
        rows = cols = data["symmetric"]["names"]
        table = np.array(data["symmetric"]["mean"], dtype=float)
        title = "payoff of row agent against column agent"
    elif len(seats) == 2:
        rows, cols = data["pools"][seats[0]], data["pools"][seats[1]]
        table = np.array(data["mean"][seats[0]], dtype=float)
        title = f"return of {seats[0]} (rows) against {seats[1]} (columns)"
    else:
        return None
    size = max(4.0, 0.9 * max(len(rows), len(cols)) + 2)
    figure, axes = plt.subplots(figsize=(size + 1, size))
    limit = float(np.nanmax(np.abs(table))) or 1.0
    image = axes.imshow(table, cmap="RdBu", vmin=-limit, vmax=limit)
    axes.set_xticks(range(len(cols)), cols, rotation=45, ha="right")
    axes.set_yticks(range(len(rows)), rows)
    for i, j in itertools.product(range(len(rows)), range(len(cols))):
        if not np.isnan(table[i, j]):
            color = "white" if abs(table[i, j]) > 0.6 * limit else "black"  # readable on dark cells
            axes.text(j, i, f"{table[i, j]:+.2f}", ha="center", va="center", fontsize=8, color=color)
    axes.set_title(title)
    figure.colorbar(image, ax=axes, shrink=0.8)
    figure.tight_layout()
    path = run_dir / "payoffs.png"
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
