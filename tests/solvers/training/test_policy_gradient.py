"""The policy-gradient loss, advantages, schedule and trainer against hand-computed values and the
closed-form tabular updates (MMD / MPO, Nash-MD, SPO) that the LLM loss must reproduce."""

from __future__ import annotations

import math

import _training
import numpy as np
import pytest
import torch

from aligngames.solvers.equilibrium.nash_md import nash_md_step
from aligngames.solvers.equilibrium.simplex import geometric_mixture, mirror_step
from aligngames.solvers.equilibrium.spo import spo_step, win_rate_rewards
from aligngames.solvers.training.checkpoints import (
    load_optimizer_state,
    numpy_generator_state,
    optimizer_state,
    restore_numpy_generator,
    restore_torch_generators,
    torch_generator_states,
)
from aligngames.solvers.training.policy_gradient import (
    PolicyGradientTrainer,
    PolicyRef,
    RegularizerWeights,
    Rollouts,
    group_advantages,
    kl_estimate,
    learning_rate,
    policy_gradient_loss,
)
from aligngames.solvers.training.preference_training.policy import regularizer_weights
from aligngames.solvers.training.settings import TrainerSettings

# shared fixtures and helpers of the training tests (tests/_training.py)
one_thread = _training.one_thread


def test_group_advantages_by_hand():
    rewards = torch.tensor([1.0, 3.0, 0.0, 0.0, 6.0, 0.0])
    assert torch.allclose(group_advantages(rewards, 2), torch.tensor([-1.0, 1.0, 0.0, 0.0, 3.0, -3.0]))
    assert torch.allclose(group_advantages(rewards, 6), rewards - 10.0 / 6)  # one group: the batch-mean baseline
    scaled = group_advantages(torch.tensor([1.0, 3.0, 2.0, 2.0]), 2, scale=True, epsilon=0.0)
    # group (1, 3): deviations (-1, 1), sample std sqrt(2); group (2, 2): zeros (std 0 -> 0/0 guarded by epsilon)
    assert torch.allclose(scaled[:2], torch.tensor([-1.0, 1.0]) / math.sqrt(2.0))
    with pytest.raises(ValueError, match="groups of 4"):
        group_advantages(rewards, 4)


def test_kl_estimate_by_hand():
    # r = exp(-0.1 - (-0.3)) = e^0.2;  k = r (log pi - log q) - (r - 1)
    logprobs, old, target = torch.tensor([[-0.1]]), torch.tensor([[-0.3]]), torch.tensor([[-0.7]])
    ratio = math.exp(0.2)
    assert float(kl_estimate(logprobs, old, target)) == pytest.approx(ratio * 0.6 - (ratio - 1.0), abs=1e-7)
    # against pi_old itself: r log r - r + 1 >= 0, zero only at r = 1
    values = kl_estimate(torch.tensor([[-2.0, -0.5, -1.0]]), torch.tensor([[-1.0, -1.0, -1.0]]),
                         torch.tensor([[-1.0, -1.0, -1.0]]))
    assert torch.all(values[0, :2] > 0) and float(values[0, 2]) == 0.0


def test_loss_terms_by_hand_with_padding_and_weights():
    """Two sequences (3 and 2 tokens), every term computed by hand."""
    logprobs = torch.tensor([[-1.0, -0.5, -2.0], [-0.2, -0.4, 0.0]])
    old = torch.tensor([[-1.2, -0.5, -1.5], [-0.3, -0.4, 0.0]])
    magnet = torch.tensor([[-1.0, -1.0, -1.0], [-0.5, -0.5, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    advantages = torch.tensor([0.5, -1.0])
    weights = torch.tensor([0.25, 0.75])
    terms = policy_gradient_loss(logprobs, old, advantages, mask, weights=RegularizerWeights(magnet=0.2, proximal=0.5),
                                 magnet_logprobs=magnet, sequence_weights=weights)
    expected = {"reward": 0.0, "magnet": 0.0, "proximal": 0.0}
    for row, length in ((0, 3), (1, 2)):
        reward = magnet_kl = proximal_kl = 0.0
        for t in range(length):
            lp, lo, lm = float(logprobs[row, t]), float(old[row, t]), float(magnet[row, t])
            r = math.exp(lp - lo)
            reward += r * float(advantages[row])
            magnet_kl += r * (lp - lm) - (r - 1)
            proximal_kl += r * (lp - lo) - (r - 1)
        for key, value in (("reward", reward), ("magnet", magnet_kl), ("proximal", proximal_kl)):
            expected[key] += float(weights[row]) * value
    assert float(terms.reward) == pytest.approx(expected["reward"], abs=1e-6)
    assert float(terms.kl_magnet) == pytest.approx(expected["magnet"], abs=1e-6)
    assert float(terms.kl_proximal) == pytest.approx(expected["proximal"], abs=1e-6)
    assert terms.kl_reference is None
    assert float(terms.loss) == pytest.approx(-(expected["reward"] - 0.2 * expected["magnet"] - 0.5 * expected["proximal"]), abs=1e-6)
    with pytest.raises(ValueError, match="magnet_logprobs"):
        policy_gradient_loss(logprobs, old, advantages, mask, weights=RegularizerWeights(magnet=0.1))


def _minimise(loss_of_logits, start: np.ndarray) -> np.ndarray:
    theta = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([theta], lr=1.0, max_iter=500, tolerance_grad=1e-14, tolerance_change=1e-16,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = loss_of_logits(torch.log_softmax(theta, 0)[:, None])
        loss.backward()
        return loss

    for _ in range(5):
        optimizer.step(closure)
    return torch.softmax(theta, 0).detach().numpy()


def _exact_loss(pi_old, values, weights, magnet=None):
    """The loss with every action 'sampled' in proportion to pi_old (exact expectations), one token each."""
    old = torch.tensor(np.log(pi_old))[:, None]
    target = None if magnet is None else torch.tensor(np.log(magnet))[:, None]
    return lambda logprobs: policy_gradient_loss(
        logprobs, old, torch.tensor(values), torch.ones(len(pi_old), 1, dtype=torch.float64), weights=weights,
        magnet_logprobs=target, sequence_weights=torch.tensor(pi_old)).loss


def test_minimiser_is_the_closed_form_mpo_step():
    """For a categorical policy the loss's minimiser is MMD's closed form (what MPO's inner step does)."""
    rng = np.random.default_rng(0)
    pi_old, magnet = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
    payoffs = rng.uniform(-0.5, 0.5, (5, 5))
    payoffs = (payoffs - payoffs.T) / 2  # G = P - 1/2, skew-symmetric
    values = payoffs @ pi_old  # q(y) = P(y > pi_old) - 1/2, self-play
    alpha, eta = 0.3, 2.0
    found = _minimise(_exact_loss(pi_old, values, regularizer_weights("mpo", alpha, eta), magnet), np.log(pi_old))
    assert np.allclose(found, mirror_step(pi_old, values, eta=eta, alpha=alpha, magnet=magnet), atol=1e-9)


def test_minimiser_is_the_nash_md_step():
    """Nash-MD's weights (magnet tau, proximal (1 - eta tau)/eta) with rewards against the geometric
    mixture give exactly ``nash_md_step``."""
    rng = np.random.default_rng(1)
    pi_old, reference = rng.dirichlet(np.ones(4)), rng.dirichlet(np.ones(4))
    payoffs = rng.uniform(-0.5, 0.5, (4, 4))
    payoffs = (payoffs - payoffs.T) / 2
    tau, eta = 0.2, 1.5
    mixture = geometric_mixture(pi_old, reference, eta * tau)
    found = _minimise(_exact_loss(pi_old, payoffs @ mixture, regularizer_weights("nash_md", tau, eta), reference),
                      np.log(pi_old))
    assert np.allclose(found, nash_md_step(pi_old, payoffs, reference, eta=eta, tau=tau), atol=1e-9)


def test_one_sgd_step_on_the_spo_loss_is_the_tabular_spo_step():
    """SPO's weights, one pass: the gradient is REINFORCE with the batch-mean baseline, so plain
    gradient descent with step eta on the logits reproduces ``spo.spo_step`` (same samples)."""
    preferences = np.array([[0.5, 0.8, 0.3], [0.2, 0.5, 0.9], [0.7, 0.1, 0.5]])
    logits = np.array([0.1, -0.3, 0.2])
    eta, count = 0.7, 6
    expected = spo_step(logits, preferences, eta=eta, num_samples=count, rng=np.random.default_rng(5))
    policy = np.exp(logits) / np.exp(logits).sum()
    samples = np.random.default_rng(5).choice(3, size=count, p=policy)  # the draws spo_step made
    advantages = group_advantages(torch.tensor(win_rate_rewards(preferences, samples)), count)
    theta = torch.tensor(logits, requires_grad=True)
    logprobs = torch.log_softmax(theta, 0)[torch.tensor(samples)][:, None]
    loss = policy_gradient_loss(logprobs, logprobs.detach(), advantages, torch.ones(count, 1, dtype=torch.float64),
                                weights=regularizer_weights("spo", 1.0, eta)).loss
    loss.backward()
    assert np.allclose(logits - eta * theta.grad.numpy(), expected, atol=1e-12)


def test_learning_rate_schedules():
    assert [learning_rate(u, base=1.0, warmup_steps=4) for u in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert learning_rate(2, base=2.0, warmup_steps=2, total_steps=6, schedule="linear") == 2.0
    assert learning_rate(4, base=2.0, warmup_steps=2, total_steps=6, schedule="linear") == pytest.approx(1.0)
    assert learning_rate(6, base=2.0, warmup_steps=2, total_steps=6, schedule="linear") == 0.0
    assert learning_rate(5, base=1.0, total_steps=10, schedule="cosine") == pytest.approx(0.5)
    assert learning_rate(10, base=1.0, total_steps=10, schedule="cosine") == pytest.approx(0.0)
    with pytest.raises(ValueError, match="total_steps"):
        learning_rate(3, base=1.0, schedule="cosine")


# --- the trainer on a tiny model -------------------------------------------------------------------------

def _trainer(micro_batch_size: int, epochs: int = 2, seed: int = 3):
    from aligngames.agents.llm import lora
    from aligngames.agents.llm.testing import tiny_handle

    handle = tiny_handle(seed=seed)
    lora.add_adapter(handle, "policy", rank=4, seed=1, init="random")
    lora.add_adapter(handle, "magnet", rank=4, seed=2, init="random")
    settings = TrainerSettings(learning_rate=0.05, epochs=epochs, micro_batch_size=micro_batch_size,
                               schedule="linear", warmup_steps=1)
    return handle, PolicyGradientTrainer(PolicyRef(handle, "policy"), settings, total_updates=6)


def _rollouts(handle) -> Rollouts:
    from aligngames.agents.llm import GenerationConfig, generate

    prompts = ["ab", "hello there", "xyz", "ab", "q", "hello there"]
    generators = [torch.Generator().manual_seed(i) for i in range(len(prompts))]
    completions = generate(handle, prompts, GenerationConfig(max_new_tokens=5, temperature=1.0), generators, adapter="policy")
    return Rollouts(prompts, [c.token_ids for c in completions], [c.token_logprobs for c in completions],
                    torch.tensor([0.5, -0.2, 0.1, -0.4, 0.3, -0.3]))


def test_gradient_accumulation_matches_one_batch():
    """Micro-batches of 2 (accumulated) and one batch of 6 take the same optimiser steps."""
    from aligngames.agents.llm import lora

    results = []
    for micro in (2, 6):
        handle, trainer = _trainer(micro)
        metrics = trainer.update(_rollouts(handle), RegularizerWeights(magnet=0.3, proximal=1.0),
                                 magnet=PolicyRef(handle, "magnet"))
        results.append((lora.adapter_state(handle, "policy"), metrics))
    (first, first_metrics), (second, second_metrics) = results
    assert all(torch.allclose(first[key], second[key], atol=1e-6) for key in first)
    assert first_metrics["loss"] == pytest.approx(second_metrics["loss"], rel=1e-5)
    assert first_metrics["learning_rate"] == 0.05  # second update: warm-up (1 step) is over, decay has not started
    assert first_metrics["kl_proximal"] > 0  # the last pass sees the policy moved by the first
    # only the trained adapter changed
    untouched = lora.adapter_state(*_trainer(2)[:1], "magnet")
    handle, _ = _trainer(2)
    assert all(torch.equal(untouched[key], value) for key, value in lora.adapter_state(handle, "magnet").items())


def test_optimizer_state_round_trip_continues_identically():
    """Save the optimiser's state as safetensors + JSON, load it into a fresh trainer on the saved
    weights: the next update is identical to the uninterrupted one."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load, save

    from aligngames.agents.llm import lora

    handle, trainer = _trainer(3, epochs=1)
    rollouts = _rollouts(handle)
    weights = RegularizerWeights(proximal=0.5)
    trainer.update(rollouts, weights)
    tensors, meta = trainer.state()
    saved_weights = {k: v.clone() for k, v in lora.adapter_state(handle, "policy").items()}
    import json

    meta = json.loads(json.dumps(meta))  # through JSON, as in a checkpoint
    tensors = load(save(tensors))
    trainer.update(rollouts, weights)
    expected = lora.adapter_state(handle, "policy")

    other_handle, other = _trainer(3, epochs=1)
    set_peft_model_state_dict(other_handle.model, saved_weights, adapter_name="policy")
    other.load_state(tensors, meta)
    assert other.updates == 1
    other.update(rollouts, weights)
    assert all(torch.equal(expected[key], value) for key, value in lora.adapter_state(other_handle, "policy").items())


def test_optimizer_and_generator_states_as_tensors_and_json():
    import json

    parameter = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    optimizer = torch.optim.AdamW([parameter], lr=0.1, betas=(0.8, 0.9))
    for _ in range(3):
        optimizer.zero_grad()
        (parameter ** 2).sum().backward()
        optimizer.step()
    tensors, meta = optimizer_state(optimizer)
    assert set(tensors) == {"optimizer.0.step", "optimizer.0.exp_avg", "optimizer.0.exp_avg_sq"}
    restored = torch.optim.AdamW([torch.nn.Parameter(parameter.detach().clone())], lr=0.5)
    load_optimizer_state(restored, tensors, json.loads(json.dumps(meta)))
    assert restored.param_groups[0]["betas"] == (0.8, 0.9) and restored.param_groups[0]["lr"] == 0.1
    assert torch.equal(restored.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])

    rng = np.random.default_rng(7)
    rng.integers(10, size=5)
    copy = restore_numpy_generator(json.loads(json.dumps(numpy_generator_state(rng))))
    assert np.array_equal(rng.integers(1 << 62, size=4), copy.integers(1 << 62, size=4))
    generator = torch.Generator().manual_seed(3)
    torch.rand(4, generator=generator)
    states = torch_generator_states({"sampling": generator})
    expected = torch.rand(3, generator=generator)
    fresh = torch.Generator()
    restore_torch_generators({"sampling": fresh}, states)
    assert torch.equal(torch.rand(3, generator=fresh), expected)
