"""A language-mode run in a run folder: write it, resume it, summarise it.

``aligngames solve mpo --env preference_game_v0 -e mode=language --out RUN``::

    config.yaml      the env, its settings and every training setting (defaults filled in)
    manifest.json    seed, package versions, git commit, the model's identity (sha256), processes
    metrics.jsonl    one line per step (reward, KL terms, tokens, seconds), evaluation points included;
                     appended and flushed as the run goes
    checkpoints/     after every step: adapters, optimiser state, generator state (see
                     :mod:`aligngames.solvers.training.checkpoints`); a rerun resumes from the latest one
    adapters/policy  the final policy (load it with ``llm:adapter=RUN/adapters/policy``)
    summary.json     the final evaluation, the agent spec of the trained policy, totals
    win_rate.png, training.png
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aligngames.config import ConfigError, load_yaml, to_mapping
from aligngames.runs import CONFIG_FILE, RunFolder, atomic_write_json, forcing_new
from aligngames.solvers.training import checkpoints
from aligngames.solvers.training.distributed import init_from_environment
from aligngames.solvers.training.preference_training.config import (
    LanguagePreferenceConfig,
    iteration_schedule,
)
from aligngames.solvers.training.preference_training.loop import train_policy
from aligngames.solvers.training.preference_training.plots import plot_run
from aligngames.solvers.training.preference_training.policy import LanguagePolicy
from aligngames.solvers.training.settings import describe_flat_keys, flat_keys_in


def _refuse_flat_settings(out: Path) -> None:
    """Run folders from before the settings were nested cannot be resumed; say so in their terms."""
    path = out / CONFIG_FILE
    if not path.is_file():
        return
    flat = flat_keys_in(load_yaml(path).get("settings"))
    if flat:
        raise ConfigError(f"{out} holds a run written by an older aligngames whose model, LoRA, trainer and "
                          f"generation settings were flat keys ({describe_flat_keys(flat)} now); it cannot be "
                          f"resumed: choose a new --out folder")


def run(config: LanguagePreferenceConfig, env_name: str, env_kwargs: Mapping[str, Any], out: str | Path, *,
        stop_after: int | None = None, progress: bool = False) -> dict[str, Any]:
    """Train in ``out`` (resuming what is there); return the summary (also ``summary.json`` once finished)."""
    world = init_from_environment()
    out = Path(out)
    resolved = {"solver": "mpo" if config.algorithm == "mpo" else f"mpo ({config.algorithm} baseline)",
                "env": env_name, "env_kwargs": dict(env_kwargs), "settings": to_mapping(config)}
    run_folder = None
    if world.is_main:
        if not forcing_new():  # --force-new moves such a folder aside
            _refuse_flat_settings(out)
        run_folder = RunFolder.open(out, command="solve mpo", config=resolved, seed=config.seed)
        try:
            checkpoints.latest_checkpoint(out / "checkpoints")  # a damaged checkpoint is named before the model loads
        except BaseException:
            run_folder.close()
            raise
    try:
        world.barrier()
        return _train(config, env_name, env_kwargs, out, run_folder, world, stop_after, progress)
    finally:
        if run_folder is not None:
            run_folder.close()


def _train(config: LanguagePreferenceConfig, env_name: str, env_kwargs: Mapping[str, Any], out: Path,
           run_folder: RunFolder | None, world, stop_after: int | None, progress: bool) -> dict[str, Any]:
    started = time.perf_counter()
    policy = LanguagePolicy(config, env_name, env_kwargs, world=world)
    if run_folder is not None:
        run_folder.update_manifest(solver=config.algorithm, env=env_name, model=policy.handle.describe(),
                                   trainable_parameters=policy.trainer.num_trainable, processes=world.size,
                                   judge=policy.judge.identity)
    lines = train_policy(policy, iteration_schedule(config), out, world=world, stop_after=stop_after,
                         keep_checkpoints=config.keep_checkpoints, progress=progress and world.is_main)
    finished = bool(lines) and lines[-1]["step"] == config.total_steps
    summary: dict[str, Any] = {"algorithm": config.algorithm, "steps": lines[-1]["step"] if lines else 0,
                               "finished": finished, "seconds_this_call": time.perf_counter() - started,
                               "tokens": float(sum(line["tokens"] for line in lines))}
    evaluations = [line for line in lines if "vs_initial" in line]
    if evaluations:
        summary["final"] = {key: evaluations[-1][key] for key in ("step", "vs_initial", "vs_previous", "by_judge")
                            if key in evaluations[-1]}
    if world.is_main and lines:
        plot_run(out, lines, config.algorithm)
    if finished and world.is_main:
        folder = policy.save_policy(out / "adapters" / "policy")
        summary["agent"] = policy.agent_spec(folder)
        atomic_write_json(out / "summary.json", summary)
    world.barrier()
    return summary


__all__ = ["run"]
