"""Social choice: voting rules and RLCHF, generative social choice, moral graphs."""
