"""The agents that play an exact solver's policy."""

from aligngames import registry


def register() -> None:
    """Register the agents built on the exact assistance solver."""
    registry.register_agent("assistance_robot", "aligngames.solvers.exact.assistance:AssistanceRobot",
                            "cirl_v0 robot that plays the exact solver's optimal policy for its scenario")
    registry.register_agent("strategic_human", "aligngames.solvers.exact.assistance:StrategicHuman",
                            "cirl_v0 human that best-responds to the exact solver's robot (answers to maximise the shared return)")
