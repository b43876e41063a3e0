"""Data-parallel training across processes started by ``torchrun`` (one process per GPU, or CPU processes).

``torchrun --nproc_per_node=N -m aligngames.cli solve mpo ...`` starts ``N`` copies of a run; each
finds its rank in the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``), joins the process group
(NCCL on CUDA, gloo on the CPU), samples and trains on its own share of each step's prompts, and the
gradients are averaged by PyTorch's ``DistributedDataParallel``. Rank 0 evaluates and writes the run
folder; the others wait at a barrier. A plain ``python``/``aligngames`` start is a world of one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class World:
    """This process's place among the data-parallel processes.

    Attributes:
        rank: this process's index, 0 to ``size - 1``.
        size: how many processes train together.
        local_rank: the index on this machine (which GPU to use).
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, count: int, what: str = "items") -> slice:
        """This process's contiguous share of ``count`` items (``count`` must divide evenly)."""
        if count % self.size:
            raise ValueError(f"{count} {what} cannot be shared evenly among {self.size} processes")
        share = count // self.size
        return slice(self.rank * share, (self.rank + 1) * share)

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed

            torch.distributed.barrier()

    def mean(self, values: Mapping[str, float]) -> dict[str, float]:
        """The mean of each value over the processes (every process gets the result)."""
        if not self.distributed:
            return dict(values)
        import torch
        import torch.distributed

        keys = sorted(values)
        tensor = torch.tensor([float(values[key]) for key in keys], dtype=torch.float64)
        torch.distributed.all_reduce(tensor)
        return {key: float(value) / self.size for key, value in zip(keys, tensor.tolist())}


#: The world of a process that was not started by torchrun.
SINGLE_PROCESS = World()


def init_from_environment() -> World:
    """The :class:`World` that ``torchrun`` described in the environment, joining its process group
    (a world of one when the process was not started by ``torchrun``)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return SINGLE_PROCESS
    import torch
    import torch.distributed

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        torch.distributed.init_process_group(backend=backend)
    return World(torch.distributed.get_rank(), torch.distributed.get_world_size(), local_rank)


def device_for(world: World, requested: str | None) -> str | None:
    """Each process's device: ``cuda:LOCAL_RANK`` when CUDA is asked for (or the default on a GPU machine)."""
    import torch

    if world.distributed and (requested in (None, "cuda")) and torch.cuda.is_available():
        return f"cuda:{world.local_rank}"
    return requested


__all__ = ["SINGLE_PROCESS", "World", "device_for", "init_from_environment"]
