"""Policies that play the games (import name ``aligngames.agents``)."""

from aligngames.agents.base import Agent, Turn

__all__ = ["Agent", "Turn"]
