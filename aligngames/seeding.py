"""Seeds derived from one run seed.

Every random decision in a run draws from a generator derived from ``(run_seed, *keys)``, where
the keys name what the randomness is for (``"match", 3, "episode", 7``). Derivation goes through
:class:`numpy.random.SeedSequence`, so the streams are independent, and string keys are hashed
with SHA-256, so they do not depend on ``PYTHONHASHSEED``. No global RNG is read or seeded.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

Key = str | int

_MAX_SEED = 2**63 - 1


def _key_to_int(key: Key) -> int:
    if isinstance(key, bool):
        raise TypeError("seed keys must be str or int, not bool")
    if isinstance(key, int | np.integer):
        if key < 0:
            raise ValueError(f"integer seed keys must be >= 0, got {key}")
        return int(key)
    if isinstance(key, str):
        return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
    raise TypeError(f"seed keys must be str or int, got {type(key).__name__}")


def check_seed(seed: object, what: str = "seed") -> int:
    """Return ``seed`` as an int in ``[0, 2**63)`` or raise a ``ValueError`` naming ``what``."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed <= _MAX_SEED:
        raise ValueError(f"{what} must be an integer in [0, 2**63), got {seed!r}")
    return int(seed)


def derive_seed(seed: int, *keys: Key) -> int:
    """A 63-bit seed for the stream named by ``keys`` under run seed ``seed``."""
    sequence = np.random.SeedSequence(check_seed(seed), spawn_key=tuple(_key_to_int(k) for k in keys))
    low, high = sequence.generate_state(2, dtype=np.uint32)
    return (int(high) << 32 | int(low)) & _MAX_SEED


def make_rng(seed: int, *keys: Key) -> np.random.Generator:
    """A numpy ``Generator`` for the stream named by ``keys``."""
    return np.random.default_rng(derive_seed(seed, *keys))


def make_torch_generator(seed: int, *keys: Key, device: str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` for the stream named by ``keys`` (torch is imported here, lazily)."""
    import torch

    generator = torch.Generator(device=device)
    generator.manual_seed(derive_seed(seed, *keys))
    return generator
