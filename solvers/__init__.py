"""Algorithms that compute equilibria and train agents (import name ``aligngames.solvers``)."""
