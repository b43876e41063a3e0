"""Playing games: episodes (rollout), tournaments and their reports."""
