"""The OpenAI-compatible HTTP backend against a real server on a local socket (``aligngames serve``'s
server, on a tiny model): replies equal in-process decoding with the same seed, agents play envs and
tournaments through it, and a server that is missing, silent or refusing gives a clear error."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request

import pytest
import torch
from gymnasium import spaces

import aligngames
from aligngames.agent import AgentSpec, Turn
from aligngames.agents.basic import ConstantAgent
from aligngames.agents.llm import GenerationConfig, generate, render_chat
from aligngames.agents.llm.http_backend import HTTPAgent, HTTPClient, http_agent
from aligngames.agents.llm.server import start_server
from aligngames.agents.llm.testing import save_tiny_model, tiny_handle
from aligngames.play.rollout import MatchJob, play_episodes, play_matches


@pytest.fixture(scope="module")
def served():
    handle = tiny_handle(seed=6)
    httpd = start_server(handle, "tiny")
    host, port = httpd.server_address[:2]
    yield handle, f"http://{host}:{port}/v1"
    httpd.shutdown()
    httpd.server_close()


def _post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_server_replies_are_in_process_decoding_with_the_request_seed(served):
    handle, url = served
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour."}]
    config = GenerationConfig(max_new_tokens=12, temperature=1.0)
    reply = _post(url + "/chat/completions", {"model": "tiny", "messages": messages, "max_tokens": 12,
                                             "temperature": 1.0, "seed": 42})
    (local,) = generate(handle, [render_chat(handle.tokenizer, messages)], config, [torch.Generator().manual_seed(42)])
    assert reply["choices"][0]["message"]["content"] == local.text
    other = _post(url + "/chat/completions", {"model": "tiny", "messages": messages, "max_tokens": 12,
                                             "temperature": 1.0, "seed": 43})
    assert other["choices"][0]["message"]["content"] != local.text
    batch = _post(url + "/completions", {"model": "tiny", "prompt": ["abc", "xyz"], "max_tokens": 5, "temperature": 0})
    greedy = generate(handle, ["abc", "xyz"], GenerationConfig(max_new_tokens=5, temperature=0))
    assert [choice["text"] for choice in batch["choices"]] == [completion.text for completion in greedy]
    with urllib.request.urlopen(url + "/models", timeout=30) as response:
        assert json.loads(response.read())["data"][0]["id"] == "tiny"


def test_http_agents_play_episodes_deterministically_and_batch_across_matches(served):
    _, url = served

    def agents(seed):
        agent = http_agent(url, "tiny", max_new_tokens=8, temperature=1.0, concurrency=4)
        agent.reset(seed)
        return agent

    def make_env():
        return aligngames.make("preference_game_v0", mode="language", max_answer_length=30)

    first = play_episodes(make_env, {"player_0": agents(1), "player_1": ConstantAgent("Yes.")}, [3, 4, 5])
    again = play_episodes(make_env, {"player_0": agents(1), "player_1": ConstantAgent("Yes.")}, [3, 4, 5])
    other = play_episodes(make_env, {"player_0": agents(2), "player_1": ConstantAgent("Yes.")}, [3, 4, 5])
    answers = [episode.record["answers"]["player_0"] for episode in first]
    assert answers == [episode.record["answers"]["player_0"] for episode in again]
    assert answers != [episode.record["answers"]["player_0"] for episode in other]
    # two matches in one engine: both HTTP agents' turns go out together, with the same results
    jobs = [MatchJob(make_env, {"player_0": agents(seed), "player_1": ConstantAgent("Yes.")}, [3, 4, 5]) for seed in (1, 2)]
    together = dict(play_matches(jobs))
    assert [e.record["answers"]["player_0"] for e in together[0]] == answers
    assert [e.record["answers"]["player_0"] for e in together[1]] == [e.record["answers"]["player_0"] for e in other]


def test_discrete_turns_need_a_label_reply(served):
    _, url = served
    agent = HTTPAgent(HTTPClient(url, "tiny"), generation=GenerationConfig(max_new_tokens=4, temperature=0))
    agent.reset(0)
    turn = Turn({"transcript": "Pick"}, "player_0", spaces.Discrete(2), {"action_labels": ["left", "right"]})
    with pytest.raises(ValueError, match=r"player_0.*not one of the legal labels \['left', 'right'\]"):
        agent.act_batch([turn])  # the random tiny model does not answer with a label: an error, never a move
    assert agent._action(turn, " Right.") == 1
    masked = turn._replace(info={"action_labels": ["left", "right"], "action_mask": [1, 0]})
    with pytest.raises(ValueError, match=r"legal labels \['left'\]"):
        agent._action(masked, "right")


def test_faults_name_the_server_the_model_and_the_seat(served):
    _, url = served
    turn = Turn({"transcript": "Hi"}, "blue", spaces.Text(20), {})
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    agent = HTTPAgent(HTTPClient(f"http://127.0.0.1:{closed}/v1", "tiny", retries=1, backoff=0.01))
    with pytest.raises(ConnectionError, match=rf"seat 'blue': cannot reach .*127.0.0.1:{closed}/v1.*'tiny'.*2 attempts.*aligngames serve"):
        agent.act_batch([turn])
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        agent = HTTPAgent(HTTPClient(f"http://127.0.0.1:{port}/v1", "tiny", timeout=0.3, retries=0))
        with pytest.raises(TimeoutError, match=r"did not answer within 0.3 s"):
            agent.act_batch([turn])
    agent = HTTPAgent(HTTPClient(url, "not-served"))
    with pytest.raises(ValueError, match=r"refused the request for model 'not-served': HTTP 404.*serves 'tiny'"):
        agent.act_batch([turn])
    with pytest.raises(ValueError, match="base_url must start with http"):
        HTTPClient("localhost:8000", "tiny")


def test_aligngames_serve_command_serves_a_model_folder_to_a_tournament(tmp_path):
    """The CLI server in its own process, and a tournament of http_llm agents against it."""
    model = save_tiny_model(tmp_path / "model", seed=6)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "aligngames.cli", "serve", str(model), "--name", "tiny",
                               "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        assert f"http://127.0.0.1:{port}/v1" in line, server.stderr.read() if server.poll() is not None else line
        from aligngames.play.tournament import TournamentConfig, run_tournament

        kwargs = {"base_url": f"http://127.0.0.1:{port}/v1", "model": "tiny", "max_new_tokens": 6, "temperature": 1.0}
        config = TournamentConfig("preference_game_v0", {"a": AgentSpec("http_llm", kwargs),
                                                         "b": AgentSpec("http_llm", {**kwargs, "temperature": 0.0})},
                                  {"mode": "language", "max_answer_length": 30}, episodes=2, seed=1)
        run = run_tournament(config, tmp_path / "run", progress=False)
        lines = (run / "matches.jsonl").read_text().splitlines()
        assert len(lines) == 4
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["agents"]["a"]["client"]["base_url"] == kwargs["base_url"]
    finally:
        server.terminate()
        server.wait(timeout=30)
