"""The registry: built-ins come from each package's registration hook, plugins from entry points, and
every env imports by its versioned name."""

import importlib
import subprocess
import sys
import textwrap

import pytest

import aligngames
from aligngames import registry


def test_every_package_registered_its_built_ins():
    assert {"preference_game_v0", "cirl_v0", "debate_v0", "red_team_v0", "moral_graph_v0"} <= set(aligngames.list_envs())
    assert {"random", "llm", "assistance_robot"} <= set(aligngames.list_agents())  # agents/ and solvers/
    assert {"features", "embedding_harm", "llm"} <= set(aligngames.list_judges())  # core, envs/ and agents/
    assert {"nash", "psro", "mpo", "social_choice"} <= set(aligngames.list_solvers())  # cli/
    assert all(spec.entry_point.startswith("aligngames.cli.solve.") for spec in registry.SOLVERS.specs())


@pytest.mark.parametrize("name", registry.list_envs())
def test_every_env_imports_by_its_versioned_name(name):
    module = getattr(importlib.import_module("aligngames.envs"), name)
    env = module.env()
    env.reset(seed=0)
    assert env.possible_agents and module is registry.ENVS.spec(name).load()
    with pytest.raises(ImportError):
        exec("from aligngames.envs import no_such_game_v0", {})


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(KeyError, match=r"unknown agent 'randon'. Did you mean 'random'\?"):
        aligngames.make_agent("randon")


def test_a_plugin_entry_point_is_registered_in_every_process(tmp_path):
    """A package with ``[project.entry-points."aligngames.agents"]`` needs no code to register its agent."""
    (tmp_path / "my_plugin.py").write_text(textwrap.dedent('''
        from aligngames.agents.basic import ConstantAgent

        class AlwaysOne(ConstantAgent):
            def __init__(self):
                super().__init__(action=1)
    '''))
    info = tmp_path / "my_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[aligngames.agents]\nalways_one = my_plugin:AlwaysOne\n")
    code = ("import aligngames; agent = aligngames.make_agent('always_one'); "
            "print(type(agent).__name__, aligngames.registry.AGENTS.spec('always_one').description)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(tmp_path), "PATH": ""})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "AlwaysOne (from my-plugin) my_plugin:AlwaysOne"
