"""An agent that plays through an OpenAI-compatible HTTP server (vLLM, SGLang, llama.cpp, ``aligngames serve``).

:class:`HTTPAgent` sends each text turn as a ``/v1/chat/completions`` request (a system prompt and
the env's transcript as the user message; the server applies its chat template). A batch of turns
goes out as concurrent requests (``concurrency`` at a time): servers such as vLLM batch concurrent
requests themselves, and one request per turn lets each carry its own ``seed``, derived like the
in-process agent's from the agent's seed, the seat, a hash of the messages and how often this agent
has seen them, so sampled answers do not depend on what else was in flight (on servers that honour
``seed``). A ``Discrete`` turn asks for one of the action labels and reads the reply strictly: the
reply must be one of the labels (case and surrounding punctuation ignored), else it is an error that
quotes the reply (never a made-up move).

Faults: connection errors, timeouts and HTTP 5xx are retried ``retries`` times with a growing pause;
then, and at once for HTTP 4xx, a ``ConnectionError`` / ``TimeoutError`` / ``ValueError`` names the
server, the model and the seat. Agents on one server, model and decoding settings share batches across
matches (``batch_key``), as in-process LLM agents do.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gymnasium import spaces

from aligngames.agent import Turn, TurnSeededAgent
from aligngames.agents.llm.agent import DEFAULT_SYSTEM_PROMPT, clean_text, transcript_of
from aligngames.agents.llm.generation import GenerationConfig

START_HINT = ("start one (e.g. `aligngames serve embedded --port 8000`, `vllm serve MODEL`, or llama.cpp's "
              "`llama-server -m MODEL.gguf`) or fix base_url")


@dataclasses.dataclass(frozen=True)
class HTTPClient:
    """POSTs JSON to an OpenAI-compatible server.

    Attributes:
        base_url: the server's API root, e.g. ``http://127.0.0.1:8000/v1``.
        model: the model name the server serves.
        timeout: seconds to wait for one response.
        retries: extra attempts after a connection error, a timeout or an HTTP 5xx.
        backoff: seconds before the first retry (doubling after each).
        api_key: sent as a bearer token when given.
    """

    base_url: str
    model: str
    timeout: float = 120.0
    retries: int = 2
    backoff: float = 0.5
    api_key: str | None = None

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {self.base_url!r}")
        if not self.model:
            raise ValueError("model: the name of the model the server serves is required")
        if not self.timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout}")
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, got {self.retries}")

    def post(self, route: str, body: Mapping[str, Any], context: str = "") -> dict[str, Any]:
        url = self.base_url.rstrip("/") + route
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps({"model": self.model, **body}).encode("utf-8")
        where = f"{context}: " if context else ""
        failure = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as error:
                detail = error.read().decode("utf-8", "replace")[:300]
                if error.code < 500:
                    raise ValueError(f"{where}the server at {url} refused the request for model {self.model!r}: "
                                     f"HTTP {error.code}: {detail}") from error
                failure = f"HTTP {error.code}: {detail}"
            except TimeoutError:
                failure = "timeout"
            except urllib.error.URLError as error:
                if isinstance(error.reason, TimeoutError):
                    failure = "timeout"
                else:
                    failure = f"unreachable ({error.reason})"
            except (ConnectionError, http.client.HTTPException) as error:
                failure = f"connection failed ({error})"
        attempts = f"{self.retries + 1} attempt{'s' if self.retries else ''}"
        if failure == "timeout":
            raise TimeoutError(f"{where}the server at {url} did not answer within {self.timeout} s ({attempts}); "
                               f"raise timeout or check the server")
        raise ConnectionError(f"{where}cannot reach an OpenAI-compatible server at {url} for model {self.model!r}: "
                              f"{failure} after {attempts}; {START_HINT}")

    def chat(self, messages: Sequence[Mapping[str, str]], generation: GenerationConfig, seed: int,
             context: str = "") -> tuple[str, str]:
        """``(text, finish_reason)`` of one chat completion."""
        body = {"messages": list(messages), "max_tokens": generation.max_new_tokens, "temperature": generation.temperature,
                "top_p": generation.top_p, "seed": int(seed)}
        if generation.stop:
            body["stop"] = list(generation.stop)
        reply = self.post("/chat/completions", body, context)
        try:
            choice = reply["choices"][0]
            return str(choice["message"]["content"] or ""), str(choice.get("finish_reason"))
        except (KeyError, IndexError, TypeError) as error:
            raise ValueError(f"{context}: the server's reply has no choices[0].message.content: {str(reply)[:200]}") from error


class HTTPAgent(TurnSeededAgent):
    """An LLM served over HTTP as a game agent.

    Args:
        client: the server connection.
        system_prompt: the system prompt for every seat (default the in-process agent's).
        system_prompts: per-seat system prompts; they win over ``system_prompt``.
        generation: decoding settings sent with each request.
        concurrency: the most requests in flight at once.
    """

    turn_salt = "http-turn"

    def __init__(self, client: HTTPClient, *, system_prompt: str | None = None,
                 system_prompts: Mapping[str, str] | None = None, generation: GenerationConfig | None = None,
                 concurrency: int = 16) -> None:
        super().__init__()
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.client = client
        self.system_prompt = DEFAULT_SYSTEM_PROMPT if system_prompt is None else system_prompt
        self.system_prompts = dict(system_prompts or {})
        self.generation = generation or GenerationConfig()
        self.concurrency = concurrency

    def act_batch_detailed(self, turns: Sequence[Turn]) -> list[tuple[Any, dict[str, Any]]]:
        """Actions and, per turn, ``messages``, ``completion`` (the raw reply) and ``finish_reason``."""
        return HTTPAgent.act_together([(self, turns)])[0]

    def batch_key(self) -> tuple[Any, ...]:
        return ("HTTPAgent", self.client, self.generation, self.concurrency)

    def describe(self) -> dict[str, Any]:
        client = dataclasses.asdict(self.client)
        client.pop("api_key")
        return {"class": "HTTPAgent", "client": client, "generation": dataclasses.asdict(self.generation),
                "system_prompt": self.system_prompt, "system_prompts": self.system_prompts,
                "concurrency": self.concurrency}

    def messages(self, turn: Turn) -> list[dict[str, str]]:
        content = transcript_of(turn.observation, turn.agent)
        if isinstance(turn.action_space, spaces.Discrete):
            content = f"{content}\n\nAnswer with one of: {', '.join(self._labels(turn))}"
        elif not isinstance(turn.action_space, spaces.Text):
            raise ValueError(f"agent {turn.agent!r}: HTTPAgent plays Text and Discrete action spaces, not {turn.action_space}")
        system = self.system_prompts.get(turn.agent, self.system_prompt)
        return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": content}]

    def _labels(self, turn: Turn) -> list[str]:
        space = turn.action_space
        labels = (turn.info or {}).get("action_labels")
        labels = [str(label) for label in labels] if labels is not None else [str(space.start + i) for i in range(space.n)]
        if len(labels) != space.n:
            raise ValueError(f"agent {turn.agent!r}: info['action_labels'] has {len(labels)} labels for {space.n} actions")
        return labels

    def _action(self, turn: Turn, text: str) -> Any:
        if isinstance(turn.action_space, spaces.Text):
            return clean_text(text, turn.action_space)
        labels = self._labels(turn)
        mask = (turn.info or {}).get("action_mask")
        wanted = text.strip().strip(".!\"'` ").lower()
        for index, label in enumerate(labels):
            if label.lower() == wanted and (mask is None or mask[index]):
                return int(turn.action_space.start + index)
        legal = [label for index, label in enumerate(labels) if mask is None or mask[index]]
        raise ValueError(f"agent {turn.agent!r}: the model's reply {text!r:.120} is not one of the legal labels {legal}")

    @staticmethod
    def act_together(requests: Sequence[tuple[HTTPAgent, Sequence[Turn]]]) -> list[list[tuple[Any, dict[str, Any]]]]:
        """The turns of several agents with one ``batch_key``, sent as concurrent requests."""
        if not requests:
            return []
        rows = []  # (request, turn index, agent, messages, seed)
        for number, (agent, turns) in enumerate(requests):
            for index, turn in enumerate(turns):
                messages = agent.messages(turn)
                rows.append((number, index, agent, messages, agent.turn_seed(turn.agent, json.dumps(messages, sort_keys=True))))
        first = requests[0][0]

        def send(row):
            number, index, agent, messages, seed = row
            return agent.client.chat(messages, agent.generation, seed, context=f"seat {requests[number][1][index].agent!r}")

        with ThreadPoolExecutor(max_workers=min(first.concurrency, max(len(rows), 1))) as pool:
            replies = list(pool.map(send, rows))
        results: list[list[Any]] = [[None] * len(turns) for _, turns in requests]
        for (number, index, agent, messages, _), (text, finish) in zip(rows, replies):
            turn = requests[number][1][index]
            results[number][index] = (agent._action(turn, text),
                                      {"messages": messages, "completion": text, "finish_reason": finish})
        return results


def http_agent(base_url: str, model: str, *, system_prompt: str | None = None,
               system_prompts: Mapping[str, str] | None = None, max_new_tokens: int = 64, temperature: float = 0.7,
               top_p: float = 1.0, stop: Sequence[str] = (), timeout: float = 120.0, retries: int = 2,
               concurrency: int = 16, api_key: str | None = None) -> HTTPAgent:
    """The registry's ``http_llm`` agent: ``aligngames play preference_game_v0 -e mode=language --agents
    http_llm:base_url=http://127.0.0.1:8000/v1,model=embedded template``."""
    generation = GenerationConfig(max_new_tokens=max_new_tokens, temperature=float(temperature), top_p=float(top_p),
                                  stop=tuple(stop))
    client = HTTPClient(base_url, model, timeout=float(timeout), retries=int(retries), api_key=api_key)
    return HTTPAgent(client, system_prompt=system_prompt, system_prompts=system_prompts, generation=generation,
                     concurrency=concurrency)
