"""The games, one module per game (import name ``aligngames.envs``).

Create them through the registry, ``aligngames.make("preference_game_v0", ...)``, or import the
module and call its ``env()`` / ``parallel_env()`` as with any PettingZoo env.
"""
