"""The off-switch game: the robot's incentive to keep its off switch, E[U * P(allow | U)] - max(E[U], 0),
against its uncertainty (the prior's std) and the human's rationality (Boltzmann beta; inf = rational),
and the beta at which it changes sign (2 mu / sigma^2 for a Gaussian prior).

    python examples/off_switch.py
"""

from aligngames.agents.off_switch import OffSwitchHumanModel
from aligngames.envs.off_switch.priors import GaussianPrior
from aligngames.solvers.exact.off_switch import incentive_grid, values

MEAN = 0.5
STDS = (0.25, 0.5, 1.0, 2.0, 4.0)
BETAS = (None, 10.0, 3.0, 1.0, 0.3, 0.1)

grid = incentive_grid(MEAN, STDS, BETAS)
labels = ["rational" if beta is None else f"beta={beta:g}" for beta in BETAS]
print(f"incentive to defer, U ~ N({MEAN}, std^2)")
print(f"{'std':>6}" + "".join(f"{label:>11}" for label in labels) + f"{'beta*':>9}")
for std, row in zip(STDS, grid):
    crossing = 2 * MEAN / std**2
    check = values(GaussianPrior(MEAN, std), OffSwitchHumanModel("boltzmann", beta=crossing)).incentive
    assert abs(check) < 1e-9
    print(f"{std:>6g}" + "".join(f"{value:>+11.4f}" for value in row) + f"{crossing:>9.3g}")
