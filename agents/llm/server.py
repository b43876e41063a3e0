"""A small OpenAI-compatible HTTP server for a loaded model (the standard library's ``http.server``).

``aligngames serve MODEL --port 8000`` serves any model :func:`~aligngames.agents.llm.models.load_model`
loads (the embedded SmolLM2 by default), so the HTTP agent (:mod:`aligngames.agents.llm.http_backend`)
and any other OpenAI client can play against it, and the same agent can later point at a vLLM, SGLang
or llama.cpp server, which speak the same protocol. Endpoints:

- ``GET /v1/models``: the served model's name;
- ``POST /v1/chat/completions``: ``messages`` rendered with the tokenizer's chat template;
- ``POST /v1/completions``: ``prompt`` as a string or a list of strings (one choice per prompt).

Request fields read: ``model`` (must be the served name), ``max_tokens``, ``temperature``, ``top_p``,
``stop``, ``seed``. Decoding is :func:`~aligngames.agents.llm.generation.generate`, so a request with
a ``seed`` gets the text the in-process agent would sample with that seed; without one it is seeded 0.
One request is decoded at a time (a lock around the model); this server is for tests and small runs,
not a replacement for vLLM's continuous batching.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import torch

from aligngames.agents.llm.agent import render_chat
from aligngames.agents.llm.generation import GenerationConfig, generate
from aligngames.agents.llm.lora import load_adapter
from aligngames.agents.llm.models import LoadedModel, load_model

log = logging.getLogger(__name__)


class RequestError(ValueError):
    """A request the server refuses (HTTP 400 or 404), with the reason."""

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status


def generation_config(body: Mapping[str, Any]) -> GenerationConfig:
    """The decoding settings of an OpenAI request body (``max_tokens`` default 64, ``temperature`` default 1)."""
    stop = body.get("stop") or ()
    stop = (stop,) if isinstance(stop, str) else tuple(stop)
    try:
        return GenerationConfig(max_new_tokens=int(body.get("max_tokens") or 64),
                                temperature=float(body.get("temperature", 1.0)),
                                top_p=float(body.get("top_p", 1.0)), stop=stop)
    except (TypeError, ValueError) as error:
        raise RequestError(f"bad decoding settings: {error}") from error


class ModelServer:
    """Answers OpenAI-style requests with one loaded model.

    Args:
        handle: the model.
        name: the model name clients must send (``model`` field).
        adapter: a LoRA adapter loaded on ``handle`` to serve instead of the base model.
    """

    def __init__(self, handle: LoadedModel, name: str, adapter: str | None = None) -> None:
        self.handle, self.name, self.adapter = handle, name, adapter
        self._lock = threading.Lock()

    def complete(self, prompts: list[str], body: Mapping[str, Any]) -> list[dict[str, Any]]:
        if body.get("model") != self.name:
            raise RequestError(f"model {body.get('model')!r} is not served here; this server serves {self.name!r}",
                               HTTPStatus.NOT_FOUND)
        config = generation_config(body)
        seed = body.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise RequestError(f"seed must be an integer, got {seed!r}")
        with self._lock:
            generators = None if config.greedy else [
                torch.Generator(device=self.handle.device).manual_seed(seed) for _ in prompts]
            completions = generate(self.handle, prompts, config, generators, adapter=self.adapter)
        return [{"text": completion.text, "finish_reason": "stop" if completion.finish_reason in ("eos", "stop") else "length",
                 "completion_tokens": len(completion.token_ids)} for completion in completions]

    def chat(self, body: Mapping[str, Any]) -> dict[str, Any]:
        messages = body.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) and "role" in m and "content" in m for m in messages):
            raise RequestError("messages must be a list of {role, content} objects")
        (choice,) = self.complete([render_chat(self.handle.tokenizer, messages)], body)
        return self._response("chat.completion", [{"index": 0, "finish_reason": choice["finish_reason"],
                                                   "message": {"role": "assistant", "content": choice["text"]}}],
                              choice["completion_tokens"])

    def completions(self, body: Mapping[str, Any]) -> dict[str, Any]:
        prompt = body.get("prompt")
        prompts = [prompt] if isinstance(prompt, str) else prompt
        if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
            raise RequestError("prompt must be a string or a non-empty list of strings")
        choices = self.complete(prompts, body)
        return self._response("text_completion", [{"index": i, "text": c["text"], "finish_reason": c["finish_reason"]}
                                                  for i, c in enumerate(choices)],
                              sum(c["completion_tokens"] for c in choices))

    def _response(self, kind: str, choices: list[dict[str, Any]], tokens: int) -> dict[str, Any]:
        return {"object": kind, "created": int(time.time()), "model": self.name, "choices": choices,
                "usage": {"completion_tokens": tokens}}

    def make_handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s %s", self.address_string(), format % args)

            def _send(self, status: HTTPStatus, data: Mapping[str, Any]) -> None:
                payload = json.dumps(data).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    self._send(HTTPStatus.OK, {"object": "list", "data": [{"id": server.name, "object": "model"}]})
                else:
                    self._send(HTTPStatus.NOT_FOUND, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:
                routes = {"/v1/chat/completions": server.chat, "/v1/completions": server.completions}
                route = routes.get(self.path.rstrip("/"))
                try:
                    length = int(self.headers.get("Content-Length", 0))
                    body = json.loads(self.rfile.read(length) or b"{}")
                    if route is None:
                        raise RequestError(f"no route {self.path}", HTTPStatus.NOT_FOUND)
                    if not isinstance(body, dict):
                        raise RequestError("the request body must be a JSON object")
                    self._send(HTTPStatus.OK, route(body))
                except json.JSONDecodeError as error:
                    self._send(HTTPStatus.BAD_REQUEST, {"error": {"message": f"the body is not JSON: {error}"}})
                except RequestError as error:
                    self._send(error.status, {"error": {"message": str(error)}})

        return Handler


def start_server(handle: LoadedModel, name: str, *, host: str = "127.0.0.1", port: int = 0,
                 adapter: str | None = None) -> ThreadingHTTPServer:
    """Serve ``handle`` as ``name`` on ``host:port`` (0: a free port) in a background thread; the server's
    ``server_address`` says where. Stop it with ``shutdown()`` and ``server_close()``."""
    if adapter is not None and adapter not in handle.adapters:
        raise ValueError(f"adapter {adapter!r} is not loaded on the model; loaded: {sorted(handle.adapters)}")
    httpd = ThreadingHTTPServer((host, port), ModelServer(handle, name, adapter).make_handler())
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, name=f"aligngames-serve-{name}", daemon=True).start()
    return httpd


def serve_model(model: str, *, name: str | None = None, adapter: str | None = None, host: str = "127.0.0.1",
                port: int = 8000, trust_remote_code: bool = False) -> ThreadingHTTPServer:
    """What ``aligngames serve`` runs: load ``model`` (and the LoRA ``adapter`` folder) and serve it as
    ``name`` (default ``model``) with :func:`start_server`."""
    handle = load_model(model, trust_remote_code=trust_remote_code)
    adapter_name = load_adapter(handle, adapter) if adapter else None
    if handle.is_peft:
        handle.model.eval()  # peft picks the adapter per request row in eval mode
    return start_server(handle, name or model, host=host, port=port, adapter=adapter_name)
