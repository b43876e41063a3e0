"""Evaluation of agents and protocols: debate judge accuracy, Elo ratings."""
