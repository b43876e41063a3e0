"""Equilibrium solvers for normal-form games: Nash LP, MMD, MPO, Nash-MD, SPO, and their shared simplex math."""
