"""aligngames: AI-alignment problems as multi-agent games, with game-theoretic solvers.

The core package holds the shared vocabulary (text spaces, seeding, game metadata, judges, the
registry, tournaments). Games live in ``aligngames.envs``, agents in ``aligngames.agents`` and
solvers in ``aligngames.solvers``; they are imported when first used, so ``import aligngames``
stays light.
"""

import os

# aligngames loads models from local folders only; tell huggingface_hub before it is imported, or it
# looks names up on the network even with local_files_only=True. Set HF_HUB_OFFLINE=0 to override.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from aligngames.game import Dynamics, GameInfo, MatrixGame, Utility
from aligngames.registry import (
    list_agents,
    list_envs,
    list_judges,
    list_solvers,
    make,
    make_agent,
    make_parallel,
    register_agent,
    register_env,
    register_judge,
    register_solver,
)

__version__ = "0.1.0"


def game_info(env) -> GameInfo:
    """The :class:`GameInfo` of any aligngames env, wrapped or not."""
    return env.unwrapped.game_info


__all__ = [
    "Dynamics",
    "GameInfo",
    "MatrixGame",
    "Utility",
    "__version__",
    "game_info",
    "list_agents",
    "list_envs",
    "list_judges",
    "list_solvers",
    "make",
    "make_agent",
    "make_parallel",
    "register_agent",
    "register_env",
    "register_judge",
    "register_solver",
]
