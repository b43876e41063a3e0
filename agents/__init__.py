"""Policies that play the games (import name ``aligngames.agents``)."""

from aligngames.agent import Agent, Turn

__all__ = ["Agent", "Turn"]
