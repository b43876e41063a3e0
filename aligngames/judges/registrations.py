"""The core preference judges."""

from aligngames import registry


def register() -> None:
    """Register the feature judge and the reward-model judge."""
    registry.register_judge("features", "aligngames.judges:FeatureJudge",
                            "embedded preference judge: annotator groups scoring readable answer features (offline, CPU)")
    registry.register_judge("reward_model", "aligngames.judges:RewardModelJudge",
                            "preference from a local HF reward model: sigmoid(r(a) - r(b))")
