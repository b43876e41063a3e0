"""The core preference judges, and the hooks that record and replay judge calls."""

from aligngames import registry
from aligngames.judges import recording


def register() -> None:
    """Register the preference judges (features, reward_model, minilm_reward); install the record / replay hooks."""
    registry.set_judge_hooks(replay=recording.replay_stand_in, record=recording.wrap_for_recording)
    registry.register_judge("features", "aligngames.judges:FeatureJudge",
                            "embedded preference judge: annotator groups scoring readable answer features (offline, CPU)")
    registry.register_judge("reward_model", "aligngames.judges:RewardModelJudge",
                            "preference from a local HF reward model: sigmoid(r(a) - r(b))")
    registry.register_judge("minilm_reward", "aligngames.judges.minilm_reward:MiniLMRewardJudge",
                            "embedded preference judge: a MiniLM cross-encoder reward model trained on written pairs, "
                            "adversarial ones included (offline, CPU)")
