"""The ``aligngames`` command line.

    aligngames list
    aligngames play ENV --agents A B [--seed N] [--env-arg KEY=VALUE ...]
    aligngames tournament CONFIG.yaml --out RUN_DIR [--seed N] [--workers N]
    aligngames report RUN_DIR
    aligngames serve [MODEL] [--port 8000]     (an OpenAI-compatible server for http_llm agents)
    aligngames solve SOLVER [solver options]   (aligngames solve SOLVER --help)

Agents on the command line are registry names with optional keyword arguments:
``template:style=concise`` or ``mixed:probabilities=[0.5,0.2,0.3]`` (values are read as YAML).
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import logging
import os
import sys
import time
import types
from collections.abc import Sequence
from pathlib import Path

from aligngames import registry
from aligngames.config import ConfigError, parse_agent, parse_assignment
from aligngames.judges import recording
from aligngames.play.report import write_report
from aligngames.play.rollout import play_episodes
from aligngames.play.tournament import TournamentConfig, run_tournament
from aligngames.runs import force_new_runs
from aligngames.seeding import check_seed, derive_seed


def _listing(title: str, entries, keywords=None, seats=None) -> str:
    """``title:`` and one ``name  description`` line per registry entry, with the keywords that
    ``keywords(loaded entry)`` finds on a second line (where it finds them), and for envs the seats."""
    lines = []
    for spec in entries.specs():
        lines.append(f"  {spec.name:<24} {spec.description}")
        names = keywords(spec.load()) if keywords is not None else None
        if names:
            lines.append(f"  {'':<24}   keywords: {', '.join(names)}")
        found = seats(spec.load()) if seats is not None else None
        if found:
            where = ", ".join(f"{key}={value}" for key, value in found[1].items())
            lines.append(f"  {'':<24}   seats: {', '.join(found[0])}" + (f" (with {where})" if where else ""))
    return "\n".join([f"{title}:", *(lines or ["  (none yet)"])])


def _cmd_list(args: argparse.Namespace) -> int:
    sections = [("envs", registry.ENVS, registry.env_keywords, registry.env_seats),
                ("agents", registry.AGENTS, registry.keywords, None),
                ("judges", registry.JUDGES, registry.keywords, None), ("solvers", registry.SOLVERS, None, None)]
    for title, entries, keywords, seats in sections:
        print(_listing(title, entries, keywords, seats))
    return 0


def _cmd_play(args: argparse.Namespace) -> int:
    seed = check_seed(args.seed, "--seed")
    env_kwargs = dict(parse_assignment(item, "--env-arg") for item in args.env_arg)
    probe = registry.make(args.env, **env_kwargs)
    seats = list(probe.possible_agents)
    probe.close()
    if len(args.agents) != len(seats):
        raise ConfigError(f"--agents: {args.env} has {len(seats)} seats {seats}; got {len(args.agents)} agents")
    seat_agents = {}
    for seat, text in zip(seats, args.agents):
        name, kwargs = parse_agent(text)
        agent = registry.make_agent(name, **kwargs)
        agent.reset(derive_seed(seed, "agent", seat))
        seat_agents[seat] = agent
    envs = []

    def make_env():
        env = registry.make(args.env, render_mode="ansi", **env_kwargs)
        envs.append(env)
        return env

    (episode,) = play_episodes(make_env, seat_agents, [derive_seed(seed, "episode", 0)])
    print("seats: " + ", ".join(f"{seat} = {text}" for seat, text in zip(seats, args.agents)))
    rendered = envs[0].unwrapped.render().rstrip("\n").split("\n")
    if rendered[-1].startswith("returns:"):  # some renders end with the returns (red_team_v0); ours name the agents
        rendered.pop()
    print("\n".join(rendered))
    print("returns: " + ", ".join(f"{seat} ({text}) {episode.returns[seat]:+.4f}" for seat, text in zip(seats, args.agents)))
    return 0


def add_force_new_argument(parser: argparse.ArgumentParser) -> None:
    """``--force-new``, for every command that writes a run folder (its command runs inside
    :func:`aligngames.runs.force_new_runs`, so :meth:`aligngames.runs.RunFolder.open` sees it)."""
    parser.add_argument("--force-new", action="store_true",
                        help="start afresh: move an existing run folder at --out aside to OUT.replaced-N "
                             "(nothing is deleted) instead of resuming it")


def _judge_calls(args: argparse.Namespace) -> contextlib.AbstractContextManager:
    """Record the run's judge calls into ``--out`` (``--record-judges``), or answer them from ``--replay-judges RUN``."""
    if args.record_judges and args.replay_judges:
        raise ConfigError("--record-judges and --replay-judges exclude each other")
    if args.replay_judges:
        if not Path(args.replay_judges).is_dir():
            raise ConfigError(f"--replay-judges {args.replay_judges}: no such run folder")
        return recording.replaying(args.replay_judges)
    if args.record_judges:
        return recording.recording(args.out)
    return contextlib.nullcontext()


def _cmd_tournament(args: argparse.Namespace) -> int:
    config = TournamentConfig.from_yaml(args.config, seed=args.seed, backend=args.backend)
    with force_new_runs(args.force_new), _judge_calls(args):
        out = run_tournament(config, args.out, workers=args.workers, progress=not args.quiet)
    print(f"report: {out / 'report.md'}")
    return 0


SOLVE_USAGE = "usage: aligngames solve SOLVER [solver options]   (aligngames solve SOLVER --help for its options)"


def solve_parser(solver: str, argv: Sequence[str] = ()) -> tuple[types.ModuleType, argparse.ArgumentParser]:
    """The module of ``aligngames solve SOLVER`` and its parser.

    A module whose flags depend on the game its arguments name (mpo: tabular or language mode, each with
    its own defaults) defines ``add_arguments(parser, argv)`` and is given the command's arguments.
    """
    spec = registry.SOLVERS.spec(solver)
    module = spec.load()
    parser = argparse.ArgumentParser(prog=f"aligngames solve {solver}", description=spec.description)
    if "argv" in inspect.signature(module.add_arguments).parameters:
        module.add_arguments(parser, argv=argv)
    else:
        module.add_arguments(parser)
    return module, parser


def _cmd_solve(args: argparse.Namespace) -> int:
    """Hand the remaining arguments to the solve command's own parser; without a solver, list them.

    A module registered with ``register_solver`` (see :mod:`aligngames.cli.solve`) defines
    ``add_arguments(parser)`` and ``run(args) -> int``.
    """
    if args.solver is None:
        print(f"{SOLVE_USAGE}\n\n{_listing('solvers', registry.SOLVERS)}")
        return 0
    solver_args = ["--help", *args.solver_args] if args.help else args.solver_args
    module, parser = solve_parser(args.solver, solver_args)
    solver_namespace = parser.parse_args(solver_args)
    with force_new_runs(getattr(solver_namespace, "force_new", False)):
        return module.run(solver_namespace)


#: ``aligngames evaluate MEASURE AGENT``: measures that evaluate one agent, and the solve command behind each.
MEASURES = {"svo": "svo"}


def _cmd_evaluate(args: argparse.Namespace) -> int:
    """``aligngames evaluate svo AGENT [options]`` is ``aligngames solve svo --agent AGENT [options]``."""
    if args.agent in ("-h", "--help") or any(arg in ("-h", "--help") for arg in args.measure_args):
        args.help, args.agent = True, None if args.agent in ("-h", "--help") else args.agent
    if args.measure is None:
        if not args.help:
            raise ConfigError(f"aligngames evaluate needs a MEASURE: one of {sorted(MEASURES)}")
        args.evaluate_parser.print_help()
        return 0
    if args.agent is None and not args.help:
        raise ConfigError(f"aligngames evaluate {args.measure} needs an AGENT, a registered agent NAME[:key=value,...] "
                          f"(e.g. svo_ideal:kind=prosocial; aligngames list shows them)")
    solver_args = [*args.measure_args, "--help"] if args.help else ["--agent", args.agent, *args.measure_args]
    module, parser = solve_parser(MEASURES[args.measure], solver_args)
    parser.prog = f"aligngames evaluate {args.measure} AGENT"
    return module.run(parser.parse_args(solver_args))


def _cmd_judge_eval(args: argparse.Namespace) -> int:
    """``aligngames judge-eval JUDGE --data FILE [options]`` is ``aligngames solve judge_eval --judge JUDGE ...``."""
    rest = list(args.judge_args)
    if args.judge in ("-h", "--help") or any(arg in ("-h", "--help") for arg in rest):
        rest, args.judge = ["--help"], None
    solver_args = rest if args.judge is None else ["--judge", args.judge, *rest]
    module, parser = solve_parser("judge_eval", solver_args)
    parser.prog = "aligngames judge-eval JUDGE"
    return module.run(parser.parse_args(solver_args))


def _cmd_serve(args: argparse.Namespace) -> int:
    # the server module needs torch and transformers: loaded when the command runs, like the agents
    serve_model = registry.Spec("serve", "aligngames.agents.llm.server:serve_model", "").load()
    httpd = serve_model(args.model, name=args.name, adapter=args.adapter, host=args.host, port=args.port,
                        trust_remote_code=args.trust_remote_code)
    host, port = httpd.server_address[:2]
    print(f"serving {args.name or args.model!r} at http://{host}:{port}/v1 (Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        httpd.shutdown()
        httpd.server_close()


def _cmd_report(args: argparse.Namespace) -> int:
    print(f"report: {write_report(args.run_dir)}")
    return 0


GLOBAL_FLAGS = {"-v": "verbose", "--verbose": "verbose", "--trust-remote-code": "trust_remote_code"}


def _common(in_subcommand: bool) -> argparse.ArgumentParser:
    """The flags every command takes, before or after its name (``aligngames -v play ...`` = ``play -v``)."""
    common = argparse.ArgumentParser(add_help=False)
    default = argparse.SUPPRESS if in_subcommand else False  # a subcommand must not reset what the top level set
    common.add_argument("-v", "--verbose", action="store_true", default=default, help="log progress details")
    common.add_argument("--trust-remote-code", action="store_true", default=default,
                        help="let configs and agent/judge arguments set trust_remote_code=True (runs code shipped with a model)")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aligngames", description=__doc__.split("\n")[0], parents=[_common(False)])
    commands = parser.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("list", parents=[_common(True)], help="list envs, agents, judges and solvers")
    listing.set_defaults(run=_cmd_list)

    play = commands.add_parser("play", parents=[_common(True)], help="play one episode and print the transcript")
    play.add_argument("env", help="env name, e.g. preference_game_v0")
    play.add_argument("--agents", nargs="+", required=True, help="one agent per seat: NAME[:key=value,...]")
    play.add_argument("--seed", type=int, default=0)
    play.add_argument("--env-arg", "-e", action="append", default=[], metavar="KEY=VALUE",
                      help="env keyword argument (repeatable), e.g. -e mode=tabular -e scenario=food")
    play.set_defaults(run=_cmd_play)

    tournament = commands.add_parser("tournament", parents=[_common(True)], help="play every pairing of an agent pool (resumable)")
    tournament.add_argument("config", help="tournament YAML, e.g. examples/preference_tournament.yaml")
    tournament.add_argument("--out", required=True, help="run folder (an existing one is resumed)")
    tournament.add_argument("--seed", type=int, default=None, help="override the config's seed")
    tournament.add_argument("--workers", type=int, default=1, help="local worker processes (results do not depend on it)")
    tournament.add_argument("--backend", choices=["local", "ray"], default=None,
                            help="override the config's backend (results are the same)")
    tournament.add_argument("--quiet", action="store_true", help="no progress bar")
    tournament.add_argument("--record-judges", action="store_true",
                            help="append every judge call (identity, input hash, output) to OUT/judge_calls/")
    tournament.add_argument("--replay-judges", metavar="RUN", default=None,
                            help="answer judge calls from RUN's recorded calls instead of loading the judges")
    add_force_new_argument(tournament)
    tournament.set_defaults(run=_cmd_tournament)

    solve = commands.add_parser("solve", help="run a solver: aligngames solve SOLVER --help for its options",
                                add_help=False)  # --help after SOLVER belongs to the solver's parser
    solve.add_argument("-h", "--help", action="store_true", help="list the solvers")
    solve.add_argument("solver", nargs="?", help="solver name (without one: the list of solvers)")
    solve.add_argument("solver_args", nargs=argparse.REMAINDER, help="the solver's own options")
    solve.set_defaults(run=_cmd_solve)

    evaluate = commands.add_parser("evaluate", parents=[_common(True)], add_help=False,
                                   help="measure one agent: aligngames evaluate svo AGENT (the SVO Slider Measure)")
    evaluate.add_argument("-h", "--help", action="store_true", help="the measure's options")
    evaluate.add_argument("measure", nargs="?", choices=sorted(MEASURES), help="what to measure")
    evaluate.add_argument("agent", nargs="?", default=None, help="a registered agent, NAME[:key=value,...]")
    evaluate.add_argument("measure_args", nargs=argparse.REMAINDER, help="the measure's options (see --help)")
    evaluate.set_defaults(run=_cmd_evaluate, evaluate_parser=evaluate)

    judge_eval = commands.add_parser("judge-eval", parents=[_common(True)], add_help=False,
                                     help="evaluate a judge on labelled data: aligngames judge-eval JUDGE --data FILE.jsonl")
    judge_eval.set_defaults(run=_cmd_judge_eval, judge=None, judge_args=[])  # main() hands it the raw arguments

    serve = commands.add_parser("serve", parents=[_common(True)],
                                help="serve a model over an OpenAI-compatible HTTP API (for http_llm agents and other clients)")
    serve.add_argument("model", nargs="?", default="embedded", help="a local model folder, or 'embedded' (the default)")
    serve.add_argument("--name", default=None, help="the model name clients send (default: MODEL as given)")
    serve.add_argument("--adapter", default=None, help="a LoRA adapter folder to serve on top of the model")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(run=_cmd_serve)

    report = commands.add_parser("report", parents=[_common(True)], help="re-draw the report of a run folder")
    report.add_argument("run_dir")
    report.set_defaults(run=_cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    raw: list[str] | None = None
    if "judge-eval" in argv:  # everything after the command belongs to solve judge_eval's own parser
        index = argv.index("judge-eval")
        argv, raw = argv[:index + 1], argv[index + 1:]
    args = build_parser().parse_args(argv)
    if raw is not None:
        args.judge, args.judge_args = (raw[0], raw[1:]) if raw and not raw[0].startswith("-") else (None, raw)
        for flag in [a for a in args.judge_args if a in GLOBAL_FLAGS]:
            setattr(args, GLOBAL_FLAGS[flag], True)
        args.judge_args = [a for a in args.judge_args if a not in GLOBAL_FLAGS]
    if args.command == "solve":  # the solver's own arguments may carry the global flags too
        for flag in [a for a in args.solver_args if a in GLOBAL_FLAGS]:
            setattr(args, GLOBAL_FLAGS[flag], True)
        args.solver_args = [a for a in args.solver_args if a not in GLOBAL_FLAGS]
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.trust_remote_code:
        registry.allow_remote_code()
    try:
        return args.run(args)
    except BrokenPipeError:  # the reader went away (`aligngames list | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print(f"aligngames {args.command}: interrupted; what was recorded is kept (rerun the same command on the "
              f"same run folder to resume)", file=sys.stderr)
        return 130
    except (ConfigError, KeyError, ValueError, FileNotFoundError, TypeError, PermissionError) as error:
        if args.verbose:
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
        print(f"aligngames {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
