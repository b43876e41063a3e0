"""Training LLM agents: the policy-gradient trainer, checkpoints, data parallelism, language-mode preference optimisation, PSRO's LLM oracle."""
