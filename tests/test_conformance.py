"""PettingZoo's conformance checks over every registered env.

Each env module lists settings worth trying in ``EXAMPLE_KWARGS``; every one of them must pass
``api_test`` and ``seed_test`` (AEC), and, for parallelizable envs, ``parallel_api_test``,
``parallel_seed_test`` and, through ``parallel_to_aec``, ``api_test`` and ``seed_test`` again
(PettingZoo's parallel checks skip observation-space membership and stop after one step).
"""

from __future__ import annotations

import warnings

import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test
from pettingzoo.utils.conversions import parallel_to_aec

import aligngames
from aligngames.registry import ENVS


def _cases():
    for name in aligngames.list_envs():
        module = ENVS.spec(name).load()
        for index, kwargs in enumerate(getattr(module, "EXAMPLE_KWARGS", ({},))):
            yield pytest.param(module, dict(kwargs), id=f"{name}-{index}")


CASES = list(_cases())
# sequential games (red team, debate, CIRL) have no parallel version: nothing to check there
PARALLEL_CASES = [case for case in CASES if case.values[0].raw_env.metadata.get("is_parallelizable", False)]


@pytest.fixture(autouse=True)
def _quiet_pettingzoo_warnings():
    with warnings.catch_warnings():
        # api_test warns that text observations are not numpy arrays; that is by design (DESIGN.md)
        warnings.simplefilter("ignore", UserWarning)
        yield


@pytest.mark.parametrize(("module", "kwargs"), CASES)
def test_aec_api_and_seed(module, kwargs):
    api_test(module.env(**kwargs), num_cycles=20)
    seed_test(lambda: module.env(**kwargs), num_cycles=20)


@pytest.mark.parametrize(("module", "kwargs"), PARALLEL_CASES)
def test_parallel_api_and_seed(module, kwargs):
    parallel_api_test(module.parallel_env(**kwargs), num_cycles=20)
    parallel_seed_test(lambda: module.parallel_env(**kwargs))
    api_test(parallel_to_aec(module.parallel_env(**kwargs)), num_cycles=20)
    seed_test(lambda: parallel_to_aec(module.parallel_env(**kwargs)), num_cycles=20)


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
