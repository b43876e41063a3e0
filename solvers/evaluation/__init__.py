"""Evaluation of agents and protocols: debate judge accuracy, Elo ratings, alpha-rank and Nash averaging (ratings)."""
