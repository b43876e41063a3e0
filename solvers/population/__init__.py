"""Population methods: PSRO and GRTS (PSRO with a diversity bonus for red teaming)."""
