"""PettingZoo's conformance checks, and the checks every env shares, over every registered env.

Each env module lists settings worth trying in ``EXAMPLE_KWARGS``; every one of them must pass
``api_test``, ``seed_test`` and ``performance_benchmark`` (AEC), and, where the settings give a
simultaneous game with a Parallel form, ``parallel_api_test``, ``parallel_seed_test`` and, through
``parallel_to_aec``, ``api_test``, ``seed_test`` and ``performance_benchmark`` again (PettingZoo's
parallel checks skip observation-space membership and stop after one step). Settings without a
Parallel form must say so from ``aligngames.make_parallel``.
"""

from __future__ import annotations

import random
import re
import sys
import types
import warnings

import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, performance_benchmark, seed_test
from pettingzoo.utils.conversions import aec_to_parallel, parallel_to_aec

import aligngames
from aligngames.game import Dynamics
from aligngames.registry import ENVS

_BENCHMARK_MODULE = sys.modules[performance_benchmark.__module__]


def _has_parallel_form(module, kwargs) -> bool:
    return callable(getattr(module, "parallel_env", None)) and \
        module.make_rules(**kwargs).game_info.dynamics is Dynamics.SIMULTANEOUS


def _cases():
    for name in aligngames.list_envs():
        module = ENVS.spec(name).load()
        for index, kwargs in enumerate(getattr(module, "EXAMPLE_KWARGS", ({},))):
            yield pytest.param(module, dict(kwargs), id=f"{name}-{index}")


CASES = list(_cases())
PARALLEL_CASES = [case for case in CASES if _has_parallel_form(*case.values)]
# sequential games (debate, CIRL, red team's language mode) have no Parallel form
SEQUENTIAL_CASES = [case for case in CASES if case not in PARALLEL_CASES]
PARALLELIZABLE_CASES = [case for case in CASES if case.values[0].raw_env.metadata.get("is_parallelizable", False)]


@pytest.fixture(autouse=True)
def _quiet_pettingzoo_warnings():
    with warnings.catch_warnings():
        # api_test warns that text observations are not numpy arrays; that is by design (DESIGN.md)
        warnings.simplefilter("ignore", UserWarning)
        yield


@pytest.fixture
def benchmark(monkeypatch):
    """``performance_benchmark`` with a clock that advances 2 s per reading, so it plays 3 cycles
    (it stops past 5 s; the embedding judge takes seconds per answer on 2 CPU cores), and its own
    seeded ``random`` (it samples masked actions with ``random.choice``)."""

    def run(env) -> None:
        readings = iter(range(10**6))
        monkeypatch.setattr(_BENCHMARK_MODULE, "time", types.SimpleNamespace(time=lambda: 2.0 * next(readings)))
        monkeypatch.setattr(_BENCHMARK_MODULE, "random", random.Random(0))
        performance_benchmark(env)
        assert next(readings) == 5  # start, one reading per cycle (3), end: the benchmark ran its cycles

    return run


@pytest.mark.parametrize(("module", "kwargs"), CASES)
def test_aec_api_and_seed(module, kwargs):
    api_test(module.env(**kwargs), num_cycles=20)
    seed_test(lambda: module.env(**kwargs), num_cycles=20)


@pytest.mark.parametrize(("module", "kwargs"), CASES)
def test_performance_benchmark_plays_only_legal_actions(module, kwargs, benchmark):
    # it picks from observation["action_mask"] where there is one, else samples the whole action space;
    # an illegal action would raise ValueError
    benchmark(module.env(**kwargs))


@pytest.mark.parametrize(("module", "kwargs"), PARALLEL_CASES)
def test_parallel_api_and_seed(module, kwargs, benchmark):
    parallel_api_test(module.parallel_env(**kwargs), num_cycles=20)
    parallel_seed_test(lambda: module.parallel_env(**kwargs))
    api_test(parallel_to_aec(module.parallel_env(**kwargs)), num_cycles=20)
    seed_test(lambda: parallel_to_aec(module.parallel_env(**kwargs)), num_cycles=20)
    benchmark(parallel_to_aec(module.parallel_env(**kwargs)))


@pytest.mark.parametrize(("module", "kwargs"), PARALLELIZABLE_CASES)
def test_is_parallelizable_means_aec_to_parallel_works(module, kwargs):
    parallel_api_test(aec_to_parallel(module.env(**kwargs)), num_cycles=20)


@pytest.mark.parametrize(("module", "kwargs"), SEQUENTIAL_CASES)
def test_make_parallel_without_a_parallel_form_says_so(module, kwargs):
    name = module.raw_env.metadata["name"]
    with pytest.raises(ValueError, match=rf"{name}'? has no Parallel form"):
        aligngames.make_parallel(name, **kwargs)


@pytest.mark.parametrize(("module", "kwargs"), CASES)
def test_action_masks_sit_in_the_observation_and_in_infos(module, kwargs):
    env = module.env(**kwargs)
    if not env.unwrapped.rules.has_action_masks:
        assert "action_mask" not in env.observation_space(env.possible_agents[0]).spaces
        return
    env.reset(seed=3)
    for _ in env.agent_iter(200):
        observation, _, termination, truncation, info = env.last()
        for other in env.agents:
            assert env.observe(other)["action_mask"].dtype == np.int8
            assert env.observation_space(other).contains(env.observe(other))
        if termination or truncation:
            env.step(None)
            continue
        np.testing.assert_array_equal(observation["action_mask"], info["action_mask"])
        legal = np.flatnonzero(observation["action_mask"])
        illegal = np.flatnonzero(observation["action_mask"] == 0)
        if illegal.size:
            with pytest.raises(ValueError, match="masked out"):
                env.step(int(illegal[0]))
        env.step(int(legal[-1]))


@pytest.mark.parametrize(("module", "kwargs"), CASES)
def test_an_unknown_agent_raises_naming_the_agents(module, kwargs):
    env = module.env(**kwargs)
    env.reset(seed=0)
    listed = re.escape(str(env.possible_agents))
    for call in (env.observe, env.observation_space, env.action_space):
        with pytest.raises(ValueError, match=rf"unknown agent 'nobody'; the agents of \w+ are {listed}"):
            call("nobody")


@pytest.mark.parametrize(("module", "kwargs"), CASES)
def test_reset_takes_only_an_int_seed(module, kwargs):
    envs = [module.env(**kwargs), *([module.parallel_env(**kwargs)] if _has_parallel_form(module, kwargs) else [])]
    for env in envs:
        for seed in (True, False, [1, 2], 1.5, "7", -1, 2**64):
            with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*63\)"):
                env.reset(seed=seed)
        env.reset(seed=np.int64(3))
        env.reset(seed=None)


@pytest.mark.parametrize(("module", "kwargs"), PARALLEL_CASES)
def test_parallel_step_takes_a_dict(module, kwargs):
    env = module.parallel_env(**kwargs)
    env.reset(seed=0)
    for actions in (None, 0, [0, 1], "player_0"):
        with pytest.raises(ValueError, match=r"a Parallel step expects a dict \{agent: action\} for the live agents"):
            env.step(actions)


def _legal_action(space, observation, rng: np.random.Generator):
    """A random legal action as plain Python values (int, str, or a dict of ints)."""
    if isinstance(space, spaces.Discrete):
        legal = np.flatnonzero(observation["action_mask"]) if "action_mask" in observation else np.arange(space.n)
        return int(space.start + rng.choice(legal))
    if isinstance(space, spaces.Text):
        return "".join(rng.choice(list(space.character_list), size=int(rng.integers(0, 40))).tolist())
    if isinstance(space, spaces.Box):  # persuasion's signalling scheme: a table of weights
        return rng.uniform(space.low, space.high).astype(space.dtype).tolist()
    return {key: int(rng.integers(part.n)) for key, part in space.spaces.items()}  # moral graph's {"card", "vote"}


def _as_numpy(action):
    if isinstance(action, str):
        return np.str_(action)
    if isinstance(action, int):
        return np.int64(action)
    if isinstance(action, list):  # a Box action: the same numbers as an array
        return np.asarray(action, dtype=np.float32)
    return {key: np.int64(value) for key, value in action.items()}


def _aec_episode(env, choose) -> str:
    env.reset(seed=5)
    for agent in env.agent_iter(100):
        observation, _, termination, truncation, _ = env.last()
        env.step(None if termination or truncation else choose(env.action_space(agent), observation))
    return repr(env.unwrapped.record()) + env.render()


def _parallel_episode(env, choose) -> str:
    observations, _ = env.reset(seed=5)
    while env.agents:
        actions = {agent: choose(env.action_space(agent), observations[agent]) for agent in env.agents}
        observations, *_ = env.step(actions)
    return repr(env.unwrapped.record()) + env.render()


def _plain_then_numpy(make, episode) -> tuple[str, str]:
    """One episode with random legal actions as Python values, then the same actions as numpy scalars."""
    rng, played = np.random.default_rng(0), []

    def choose_plain(space, observation):
        played.append(_legal_action(space, observation, rng))
        return played[-1]

    plain = episode(make(), choose_plain)
    replay = iter(played)
    return plain, episode(make(), lambda space, observation: _as_numpy(next(replay)))


@pytest.mark.parametrize(("module", "kwargs"), CASES)
def test_numpy_scalar_actions_play_as_python_values(module, kwargs):
    forms = [(module.env, _aec_episode)]
    if _has_parallel_form(module, kwargs):
        forms.append((module.parallel_env, _parallel_episode))
    for make, episode in forms:
        plain, with_numpy = _plain_then_numpy(lambda make=make: make(render_mode="ansi", **kwargs), episode)
        assert with_numpy == plain
        assert "np.str_" not in with_numpy and "np.int64" not in with_numpy


@pytest.mark.parametrize(("module", "kwargs"), CASES)
def test_metadata_and_render(module, kwargs):
    env = module.env(render_mode="ansi", **kwargs)
    metadata = env.unwrapped.metadata
    assert metadata["name"] in aligngames.list_envs()
    assert set(metadata["render_modes"]) >= {"human", "ansi"}
    assert isinstance(aligngames.game_info(env), aligngames.GameInfo)
    env.reset(seed=1)
    text = env.render()
    assert isinstance(text, str) and text.strip()


def test_every_registered_env_is_covered():
    covered = {case.values[0].raw_env.metadata["name"] for case in CASES}
    assert covered == set(aligngames.list_envs())
