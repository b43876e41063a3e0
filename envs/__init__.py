"""The games, one module per game (import name ``aligngames.envs``).

Create them through the registry, ``aligngames.make("preference_game_v0", ...)``, or import them
by their versioned name as with PettingZoo (``from pettingzoo.classic import rps_v2``)::

    from aligngames.envs import red_team_v0

    env = red_team_v0.env(mode="tabular")

Every registered env, plugins included, is importable this way; the module is loaded on first use.
"""

from aligngames import registry


def __getattr__(name: str):
    if name in registry.ENVS:
        return registry.ENVS.spec(name).load()
    raise AttributeError(f"module 'aligngames.envs' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *registry.list_envs()])
