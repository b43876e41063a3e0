"""``LLMAgent``: a language model that plays any language-mode env of the library.

Each turn becomes a chat: a system prompt (one per seat, or one for all) and the env's transcript
as the user message; the tokenizer's chat template turns it into the prompt string. Text action
spaces are answered by generation (:func:`~aligngames.agents.llm.generation.generate`, one batch
for all the turns an agent gets at once), and the text is cleaned into the space's charset and
length with :func:`aligngames.text.sanitize`. ``Discrete`` spaces are answered by scoring each
legal option's label (``"0"``, ``"1"``, ... or ``info["action_labels"]``) with the model's
log-probabilities (:func:`~aligngames.agents.llm.generation.choose_options`): the argmax when
greedy, a draw from ``softmax(logprob / temperature)`` otherwise. A text turn whose env lists
its legal moves in ``info["legal_texts"]`` (a CIRL robot's commands, a moral-graph vote, a 0-4
rating) is answered the same way, by choosing one of those strings, so a small model still makes
a legal move; ``choose_legal_texts=False`` makes the agent write free text there too.
Any other space is a clear error; a model error is raised, never turned into a move.

Randomness: every sampled turn draws from its own ``torch.Generator``, seeded from the agent's
seed, the seat, a hash of the prompt and how often this agent has seen that prompt since
:meth:`reset`. So sampled answers do not depend on how many env copies are batched together.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium
import torch
from gymnasium import spaces

from aligngames.agent import Turn, TurnSeededAgent
from aligngames.agents.llm.generation import (
    Completion,
    GenerationConfig,
    choose_options,
    generate,
    sequence_logprobs,
)
from aligngames.agents.llm.lora import load_adapter
from aligngames.agents.llm.models import EMBEDDED, LoadedModel, load_model
from aligngames.agents.llm.vllm_backend import VLLMGenerator, adapter_rank
from aligngames.text import sanitize

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Reply to the message below with your answer only."
BACKENDS = ("transformers", "vllm")


def render_chat(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> str:
    """The prompt string for ``messages``: the tokenizer's chat template with the assistant turn
    opened, or, for a tokenizer without one, ``"System: ...\\n\\nUser: ...\\n\\nAssistant:"``."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
    lines = [f"{message['role'].capitalize()}: {message['content']}" for message in messages]
    return "\n\n".join([*lines, "Assistant:"])


def transcript_of(observation: Any, agent: str) -> str:
    """The dialogue text of an observation (``observation["transcript"]``, or a bare string)."""
    if isinstance(observation, str):
        return observation
    if isinstance(observation, Mapping) and isinstance(observation.get("transcript"), str):
        return observation["transcript"]
    raise ValueError(
        f"agent {agent!r}: an LLM agent reads text observations (a dict with a 'transcript' string, or a "
        f"string), got {type(observation).__name__}; is the env in language mode?"
    )


def clean_text(text: str, space: spaces.Text) -> str:
    """``text`` as a member of ``space``: stripped, mapped into the library's charset
    (:func:`~aligngames.text.sanitize`), characters outside a narrower space charset dropped, cut to length."""
    text = sanitize(text.strip(), 3 * len(text))  # a character becomes at most 3 ("\u2026" -> "...")
    allowed = space.character_set
    return "".join(char for char in text if char in allowed)[: space.max_length]


class LLMAgent(TurnSeededAgent):
    """A causal LM as a game agent.

    Each turn's randomness comes from its own seed (:meth:`~aligngames.agent.TurnSeededAgent.turn_seed`).

    Args:
        handle: the (shared) model, from :func:`~aligngames.agents.llm.models.load_model`.
        system_prompt: the system prompt for every seat (default :data:`DEFAULT_SYSTEM_PROMPT`).
        system_prompts: per-seat system prompts (``{"red_0": "...", "blue": "..."}``); they win over
            ``system_prompt`` for their seats.
        generation: decoding settings (recorded by :meth:`describe`).
        adapter: the name of a LoRA adapter loaded on ``handle`` (None: the base model).
        max_batch_size: the most prompts decoded together (more are split into several batches).
        backend: ``"transformers"``, or ``"vllm"`` to generate text with vLLM (GPU, extra ``vllm``; adapters
            loaded from folders run as vLLM multi-LoRA requests, a row each);
            log-probability scoring always uses the transformers model.
        choose_legal_texts: answer a text turn whose ``info["legal_texts"]`` lists its legal moves
            by choosing one of them by log-probability (True), or by writing free text (False).
    """

    turn_salt = "llm-turn"

    def __init__(self, handle: LoadedModel, *, system_prompt: str | None = None,
                 system_prompts: Mapping[str, str] | None = None, generation: GenerationConfig | None = None,
                 adapter: str | None = None, max_batch_size: int = 16, backend: str = "transformers",
                 choose_legal_texts: bool = True) -> None:
        super().__init__()
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        if adapter is not None and adapter not in handle.adapters:
            raise ValueError(f"adapter {adapter!r} is not loaded on the model; loaded: {sorted(handle.adapters)}")
        self.handle = handle
        self.system_prompt = DEFAULT_SYSTEM_PROMPT if system_prompt is None else system_prompt
        self.system_prompts = dict(system_prompts or {})
        self.generation = generation or GenerationConfig()
        self.adapter = adapter
        self.max_batch_size = max_batch_size
        self.backend = backend
        self.choose_legal_texts = bool(choose_legal_texts)
        self._vllm = None

    @classmethod
    def from_pretrained(cls, name_or_path: str = EMBEDDED, *, system_prompt: str | None = None,
                        system_prompts: Mapping[str, str] | None = None, generation: GenerationConfig | None = None,
                        device: str | None = None, dtype: str | None = None, adapter: str | None = None,
                        max_batch_size: int = 16, backend: str = "transformers",
                        trust_remote_code: bool = False, choose_legal_texts: bool = True) -> LLMAgent:
        """An agent on a model loaded once per process (see :func:`~aligngames.agents.llm.models.load_model`).

        ``adapter`` is a LoRA adapter folder (written by :func:`~aligngames.agents.llm.lora.save_adapter`);
        it is loaded onto the shared model and this agent plays with it. An adapter with the same files
        that is loaded already is reused (see :func:`~aligngames.agents.llm.lora.load_adapter`), so building
        several agents from one folder, or from two runs' ``adapters/policy``, works in one process.
        """
        handle = load_model(name_or_path, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
        adapter_name = None
        if adapter is not None:
            adapter_name = load_adapter(handle, adapter)
        return cls(handle, system_prompt=system_prompt, system_prompts=system_prompts, generation=generation,
                   adapter=adapter_name, max_batch_size=max_batch_size, backend=backend,
                   choose_legal_texts=choose_legal_texts)

    # --- the agent protocol ---------------------------------------------------------------------
    def act_batch_detailed(self, turns: Sequence[Turn]) -> list[tuple[Any, dict[str, Any]]]:
        """Actions plus what produced them, one ``(action, data)`` per turn.

        ``data`` for a text turn: ``prompt`` (the full prompt string), ``completion`` (the raw text),
        ``completion_ids`` and ``token_logprobs`` (every generated token and its log-probability),
        ``finish_reason``. For a discrete turn, or a text turn chosen from ``info["legal_texts"]``:
        ``prompt``, ``options`` (the labels or texts scored), ``option_logprobs`` and ``choice``
        (the index into ``options``).
        """
        return LLMAgent.act_together([(self, turns)])[0]

    def batch_key(self) -> tuple[Any, ...] | None:
        """Agents with equal keys can share one forward pass (:meth:`act_together`): the same loaded
        model, backend, decoding settings and batch size; their adapters may differ (vLLM: multi-LoRA)."""
        return ("LLMAgent", id(self.handle), self.backend, self.generation, self.max_batch_size)

    @staticmethod
    def act_together(requests: Sequence[tuple[LLMAgent, Sequence[Turn]]]) -> list[list[tuple[Any, dict[str, Any]]]]:
        """:meth:`act_batch_detailed` for several agents with one :meth:`batch_key` at once.

        Every agent builds its prompts and draws its turn seeds exactly as it would alone (text turns
        first, then choice turns, in order); then all text turns are decoded in shared batches of
        ``max_batch_size`` rows and all choice turns scored together, each row with its agent's adapter.
        A row's result depends on its prompt, seed and adapter only, not on the other rows.
        """
        if not requests:
            return []
        if len({agent.batch_key() for agent, _ in requests}) > 1:
            raise ValueError("act_together needs agents with one batch_key (same model, decoding settings and batch size)")
        results: list[list[Any]] = [[None] * len(turns) for _, turns in requests]
        writes: list[tuple[int, int, LLMAgent, str, int]] = []  # (request, turn, agent, prompt, seed)
        picks: list[tuple[int, int, LLMAgent, str, int, list[str], list[Any]]] = []  # ... options, actions
        for number, (agent, turns) in enumerate(requests):
            text_turns, choice_turns = agent._split(turns)
            for index in text_turns:
                prompt = agent.prompt(turns[index].observation, turns[index].agent)
                writes.append((number, index, agent, prompt, agent.turn_seed(turns[index].agent, prompt)))
            prepared = [agent._options(turns[index]) for index in choice_turns]
            for index, (options, actions) in zip(choice_turns, prepared):
                prompt = agent.prompt(turns[index].observation, turns[index].agent, "Answer with one of: " + ", ".join(options))
                picks.append((number, index, agent, prompt, agent.turn_seed(turns[index].agent, prompt), options, actions))
        first = requests[0][0]
        for start in range(0, len(writes), first.max_batch_size):
            chunk = writes[start:start + first.max_batch_size]
            completions = first._generate([prompt for *_, prompt, _ in chunk], [seed for *_, seed in chunk],
                                          [agent.adapter for _, _, agent, _, _ in chunk])
            for (number, index, _, prompt, _), completion in zip(chunk, completions):
                turn = requests[number][1][index]
                results[number][index] = (clean_text(completion.text, turn.action_space), {
                    "prompt": prompt,
                    "completion": completion.text,
                    "completion_ids": completion.token_ids,
                    "token_logprobs": completion.token_logprobs,
                    "finish_reason": completion.finish_reason,
                })
        if picks:
            chosen = choose_options(first.handle, [pick[3] for pick in picks], [pick[5] for pick in picks],
                                    first.generation, [pick[4] for pick in picks],
                                    adapter=[pick[2].adapter for pick in picks], batch_size=first.max_batch_size)
            for (number, index, _, prompt, _, options, actions), choice in zip(picks, chosen):
                results[number][index] = (actions[choice.index], {
                    "prompt": prompt, "options": options, "option_logprobs": choice.logprobs, "choice": choice.index})
        return results

    def _split(self, turns: Sequence[Turn]) -> tuple[list[int], list[int]]:
        """The indices of the turns answered by writing text, and of those answered by choosing an option."""
        text_turns, choice_turns = [], []
        for index, turn in enumerate(turns):
            if isinstance(turn.action_space, spaces.Text):
                legal = self.choose_legal_texts and (turn.info or {}).get("legal_texts") is not None
                (choice_turns if legal else text_turns).append(index)
            elif isinstance(turn.action_space, spaces.Discrete):
                choice_turns.append(index)
            else:
                raise ValueError(
                    f"agent {turn.agent!r}: LLMAgent plays Text and Discrete action spaces, not {turn.action_space}"
                )
        return text_turns, choice_turns

    def describe(self) -> dict[str, Any]:
        return {
            "class": "LLMAgent",
            "model": self.handle.describe(),
            "adapter": self.adapter,
            "adapter_source": self.handle.adapters.get(self.adapter) if self.adapter else None,
            "generation": dataclasses.asdict(self.generation),
            "system_prompt": self.system_prompt,
            "system_prompts": self.system_prompts,
            "backend": self.backend,
            "max_batch_size": self.max_batch_size,
            "choose_legal_texts": self.choose_legal_texts,
        }

    # --- prompts and randomness -----------------------------------------------------------------
    def prompt(self, observation: Any, agent: str, instruction: str | None = None) -> str:
        """The full prompt string for a turn of seat ``agent``."""
        content = transcript_of(observation, agent)
        if instruction:
            content = f"{content}\n\n{instruction}"
        system = self.system_prompts.get(agent, self.system_prompt)
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": content}]
        return render_chat(self.handle.tokenizer, messages)

    def _generator(self, seed: int) -> torch.Generator:
        return torch.Generator(device=self.handle.device).manual_seed(seed)

    # --- text turns ---------------------------------------------------------------------------
    def _generate(self, prompts: list[str], seeds: list[int], adapters: list[str | None]) -> list[Completion]:
        if self.backend == "vllm":
            return self._vllm_generate(prompts, seeds, adapters)
        generators = None if self.generation.greedy else [self._generator(seed) for seed in seeds]
        return generate(self.handle, prompts, self.generation, generators, adapter=adapters)

    def _vllm_generate(self, prompts: list[str], seeds: list[int], adapters: list[str | None]) -> list[Completion]:
        """vLLM with multi-LoRA: each row's adapter is the folder it was loaded from (one engine per model,
        LoRA enabled up to the largest rank among the model's loaded adapter folders)."""
        folders = {}
        for name in sorted({adapter for adapter in adapters if adapter is not None}):
            source = self.handle.adapters.get(name, "")
            if not Path(source).is_dir():
                raise ValueError(f"adapter {name!r} has no folder ({source!r}); the vLLM backend runs adapters "
                                 f"saved with save_adapter and loaded from their folder")
            folders[name] = source
        if self._vllm is None:
            saved = [source for source in self.handle.adapters.values() if Path(source).is_dir()]
            self._vllm = VLLMGenerator.for_model(self.handle, max_lora_rank=max(map(adapter_rank, saved), default=None))
        lora = [None if adapter is None else self._vllm.lora_for(adapter, folders[adapter]) for adapter in adapters]
        return self._vllm.generate(prompts, self.generation, seeds, lora=lora if folders else None)

    # --- choice turns: discrete actions and listed legal texts ---------------------------------------
    def _options(self, turn: Turn) -> tuple[list[str], list[Any]]:
        """The option strings to score for a choice turn and the action each one plays."""
        info = turn.info or {}
        if isinstance(turn.action_space, spaces.Text):
            texts = info["legal_texts"]
            if not isinstance(texts, (list, tuple)) or not texts or not all(isinstance(text, str) for text in texts):
                raise ValueError(f"agent {turn.agent!r}: info['legal_texts'] must be a non-empty list of strings, got {texts!r:.120}")
            for text in texts:
                if clean_text(text, turn.action_space) != text:
                    raise ValueError(f"agent {turn.agent!r}: info['legal_texts'] entry {text!r:.80} is not a member of the "
                                     f"action space (charset or max_length {turn.action_space.max_length})")
            return list(texts), list(texts)
        space: gymnasium.spaces.Discrete = turn.action_space
        labels = info.get("action_labels")
        labels = [str(label) for label in labels] if labels is not None else [str(space.start + i) for i in range(space.n)]
        if len(labels) != space.n:
            raise ValueError(f"agent {turn.agent!r}: info['action_labels'] has {len(labels)} labels for {space.n} actions")
        mask = info.get("action_mask")
        legal = [i for i in range(space.n) if mask is None or mask[i]]
        if not legal:
            raise ValueError(f"agent {turn.agent!r} has no legal action")
        return [labels[i] for i in legal], [int(space.start + i) for i in legal]

    # --- training helpers -------------------------------------------------------------------------
    def sequence_logprobs(self, prompts: Sequence[str], completions: Sequence[str | Sequence[int]]):
        """Per-token and summed log-probabilities of ``completions`` under this agent's policy (with gradients)."""
        return sequence_logprobs(self.handle, prompts, completions, adapter=self.adapter)


def llm_agent(model: str = EMBEDDED, *, system_prompt: str | None = None, system_prompts: Mapping[str, str] | None = None,
              max_new_tokens: int = 64, temperature: float = 0.7, top_p: float = 1.0,
              stop: Sequence[str] = (), adapter: str | None = None, device: str | None = None,
              dtype: str | None = None, max_batch_size: int = 16, backend: str = "transformers",
              choose_legal_texts: bool = True) -> LLMAgent:
    """The registry's ``llm`` agent: :meth:`LLMAgent.from_pretrained` with plain keyword arguments.

    ``aligngames play preference_game_v0 --agents llm:temperature=0 llm:max_new_tokens=40``, or in a
    tournament config ``{type: llm, kwargs: {model: embedded, temperature: 0.7}}``.
    """
    generation = GenerationConfig(max_new_tokens=max_new_tokens, temperature=float(temperature), top_p=float(top_p),
                                  stop=tuple(stop))
    return LLMAgent.from_pretrained(model, system_prompt=system_prompt, system_prompts=system_prompts,
                                    generation=generation, device=device, dtype=dtype, adapter=adapter,
                                    max_batch_size=max_batch_size, backend=backend,
                                    choose_legal_texts=choose_legal_texts)
