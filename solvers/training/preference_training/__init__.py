"""Preference optimisation of language-model policies in ``preference_game_v0``'s language mode:
MPO, with Nash-MD and SPO as baselines, under the one driver :func:`aligngames.solvers.equilibrium.mpo.iterate`.

Papers: Wang, Ma, et al. (2024), "Magnetic Preference Optimization" (arXiv 2410.16714); Munos et al.
(2023), "Nash Learning from Human Feedback" (Nash-MD); Swamy et al. (2024), "A Minimaximalist
Approach to RLHF" (SPO). The policy is a LoRA adapter on a shared base model (or, with
``lora.rank=0``, every weight of a private copy).

One module per concern:

- :mod:`.config`: :class:`~.config.LanguagePreferenceConfig` (composed of the shared
  :mod:`aligngames.solvers.training.settings`) and the schedule it gives ``mpo.iterate``;
- :mod:`.rewards`: self-play and opponent rewards, win rates with confidence intervals;
- :mod:`.mixture`: sampling from the geometric mixture of two policies (Nash-MD);
- :mod:`.policy`: :class:`~.policy.LanguagePolicy`, one MMD step on a language model (its docstring has
  the steps), evaluation and checkpoints;
- :mod:`.loop`: :func:`~.loop.train_policy`, the loop for any magnetic policy (tabular ones too);
- :mod:`.run_folder`: :func:`~.run_folder.run`, a resumable run folder;
- :mod:`.plots`: its plots.

Nash-MD and SPO never reset the magnet: the driver runs them as one regularised game of
``inner_steps * outer_steps`` steps. Every ``inner_steps`` steps (MPO: at the end of each
regularised game, before the magnet moves) the policy is evaluated: its win rate (the mean of
``P(current > other)``, both seat orders averaged) against the initial policy and against the policy
at the previous evaluation point (for MPO: the magnet of the game that just ended), on fixed episodes
with the same sampling seeds for both sides, with 95% confidence intervals.
"""
