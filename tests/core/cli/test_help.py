"""``aligngames solve SOLVER --help`` shows the defaults the run really uses: for every registered solve command
(mpo in both modes) each flag's shown default is read from the help text and compared with its dataclass's
default; nested settings become dotted flags that fill the same dataclass as a YAML file."""

from __future__ import annotations

import argparse
import functools
import re

import pytest
import yaml

from aligngames import registry
from aligngames.cli import driver, main, solve_parser
from aligngames.solvers.training.llm_oracle import OracleSettings
from aligngames.solvers.training.preference_training.config import LanguagePreferenceConfig

#: The arguments each command's parser is built for; mpo's flags and defaults depend on the game's mode.
MODES = {"mpo": [["--env", "preference_game_v0", "-e", "mode=tabular"], ["--env", "preference_game_v0", "-e", "mode=language"]]}

COMMANDS = [(name, argv) for name in registry.SOLVERS.names() for argv in MODES.get(name, [[]])]


def shown_defaults(text: str) -> dict[str, str]:
    """``{option string: the default its help shows}`` from an argparse help text (one option per block)."""
    blocks: dict[tuple[str, ...], str] = {}
    current: tuple[str, ...] | None = None
    for line in text.splitlines():
        match = re.match(r"^  (-\S.*?)(?: {2,}(.*))?$", line)
        if match:  # "  --flag VALUE    help" or "  --flag VALUE" with the help on the next lines
            current = tuple(part.split(" ")[0] for part in match.group(1).split(", "))
            blocks[current] = match.group(2) or ""
        elif current is not None and line.startswith("      "):
            blocks[current] += " " + line.strip()
        else:
            current = None
    shown = {}
    for options, help_text in blocks.items():
        found = re.findall(r"\(default: ([^()]*)\)", help_text)
        if found:
            for option in options:
                shown[option] = found[-1]
    return shown


def help_text(parser: argparse.ArgumentParser, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "2000")  # one line per help text (argparse reads the width from COLUMNS)
    return parser.format_help()


@pytest.mark.parametrize(("solver", "argv"), COMMANDS, ids=[" ".join([name, *argv]) for name, argv in COMMANDS])
def test_every_shown_default_is_the_dataclass_default(solver, argv, monkeypatch):
    _, parser = solve_parser(solver, argv)
    shown = shown_defaults(help_text(parser, monkeypatch))
    checked = 0
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        option = action.option_strings[0]
        config_class = getattr(action, "config_class", None)
        if config_class is not None:  # a generated flag: the default of the field its dotted name reaches
            expected = functools.reduce(getattr, action.dest.split("."), config_class())
            assert option in shown, f"{solver}: {option} shows no default"
        elif option in shown and isinstance(action.default, int | float | str):
            expected = action.default  # a hand-written flag that states its value (None or [] may be told in words)
        else:
            continue
        assert shown[option] == str(expected), f"{solver} {' '.join(argv)}: {option} shows {shown[option]}, uses {expected}"
        checked += 1
    generated = [a for a in parser._actions if getattr(a, "config_class", None) is not None]
    assert checked >= len(generated)


def test_mpo_help_shows_the_defaults_of_each_mode(monkeypatch):
    """The issue's measurement: language mode's --help showed the tabular 0.25 / 2.0 / 2000."""
    expected = {"mode=tabular": {"--alpha": "0.25", "--eta": "2.0", "--outer-steps": "2000"},
                "mode=language": {"--alpha": "0.1", "--eta": "1.0", "--outer-steps": "4", "--trainer.epochs": "2",
                                  "--trainer.learning-rate": "0.0001", "--generation.max-new-tokens": "32"}}
    for mode, defaults in expected.items():
        _, parser = solve_parser("mpo", ["--env", "preference_game_v0", "-e", mode])
        shown = shown_defaults(help_text(parser, monkeypatch))
        assert {flag: shown[flag] for flag in defaults} == defaults
    # the env's default mode (language) counts as well
    _, parser = solve_parser("mpo", ["--env", "preference_game_v0"])
    assert shown_defaults(help_text(parser, monkeypatch))["--alpha"] == "0.1"


def test_the_command_line_prints_the_language_defaults(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "2000")
    with pytest.raises(SystemExit) as exit_info:
        main(["solve", "mpo", "--env", "preference_game_v0", "-e", "mode=language", "--help"])
    assert exit_info.value.code == 0
    shown = shown_defaults(capsys.readouterr().out)
    assert (shown["--alpha"], shown["--eta"], shown["--outer-steps"]) == ("0.1", "1.0", "4")


def test_psro_shows_the_oracle_defaults_not_the_shared_class_defaults(monkeypatch):
    _, parser = solve_parser("psro")
    shown = shown_defaults(help_text(parser, monkeypatch))
    oracle = OracleSettings()
    assert shown["--trainer.learning-rate"] == str(oracle.trainer.learning_rate) == "0.0005"
    assert shown["--generation.max-new-tokens"] == "48" and shown["--lora.rank"] == "8" and shown["--steps"] == "8"


def test_dotted_flags_and_nested_yaml_fill_the_same_dataclass(tmp_path):
    """A nested mapping or flag keeps the rest of that field's defaults in this config (epochs 2 for language MPO)."""
    parser = argparse.ArgumentParser()
    driver.add_config_arguments(parser, LanguagePreferenceConfig)
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump({"alpha": 0.2, "trainer": {"learning_rate": 5e-4}, "lora": {"rank": 4}}))
    args = parser.parse_args(["--config", str(path), "--trainer.micro-batch-size", "2", "--lora.rank", "2",
                              "--no-trainer.autocast", "--model.name", "/models/x"])
    config = driver.config_from_args(LanguagePreferenceConfig, args)
    assert config.alpha == 0.2 and config.eta == 1.0
    assert (config.trainer.learning_rate, config.trainer.micro_batch_size, config.trainer.epochs) == (5e-4, 2, 2)
    assert config.trainer.autocast is False and config.lora.rank == 2 and config.lora.alpha == 16.0
    assert config.model.name == "/models/x" and config.generation.max_new_tokens == 32
    assert driver.config_flags_given(LanguagePreferenceConfig, args) == ["model.name", "lora.rank",
                                                                         "trainer.micro_batch_size", "trainer.autocast"]


def test_old_flat_settings_are_refused_with_their_new_names(tmp_path):
    from aligngames.solvers.training.llm_grts import load_config

    old = tmp_path / "old.yaml"
    old.write_text(yaml.safe_dump({"lora_rank": 4, "learning_rate": 0.01}))
    assert main(["solve", "mpo", "--env", "preference_game_v0", "-e", "mode=language", "--config", str(old),
                 "--out", str(tmp_path / "run")]) == 2
    grts_file = tmp_path / "grts.yaml"
    grts_file.write_text(yaml.safe_dump({"oracle": "llm", "llm": {"model": "embedded", "max_new_tokens": 8}}))
    with pytest.raises(ValueError, match="model -> model.name, max_new_tokens -> generation.max_new_tokens"):
        load_config(grts_file)


def test_the_example_training_configs_load():
    from pathlib import Path

    from aligngames.config import from_mapping, load_yaml
    from aligngames.solvers.training import llm_grts

    examples = Path(__file__).resolve().parents[3] / "examples"
    language = from_mapping(LanguagePreferenceConfig, load_yaml(examples / "mpo_language.yaml"), "mpo_language.yaml")
    assert (language.trainer.learning_rate, language.trainer.epochs, language.eval_episodes) == (5e-4, 2, 48)
    grts_llm = llm_grts.load_config(examples / "red_team_grts_llm.yaml", iterations=1)
    assert isinstance(grts_llm, llm_grts.LLMGRTSConfig) and grts_llm.settings.iterations == 1
    assert (grts_llm.llm.steps, grts_llm.llm.trainer.learning_rate, grts_llm.llm.generation.max_new_tokens) == (6, 5e-4, 40)
    assert grts_llm.llm.trainer.epochs == OracleSettings().trainer.epochs  # left out: the oracle's default
    assert not isinstance(llm_grts.load_config(examples / "red_team_grts.yaml"), llm_grts.LLMGRTSConfig)
