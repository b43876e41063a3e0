"""Exact solvers of small games with their own structure: assistance games (CIRL) and sparse-evidence debate."""
