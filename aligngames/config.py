"""Typed configs from YAML or the CLI.

One frozen dataclass per entry point; YAML files and command-line flags fill the same dataclass
through :func:`from_mapping`, which checks every key against the dataclass fields and raises a
:class:`ConfigError` naming the file, the key and what was expected.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value is missing, unknown or of the wrong type; the message names file and key."""


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values at the top level, got {type(data).__name__}")
    return data


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return f"a mapping with keys {[f.name for f in dataclasses.fields(tp)]}"
    if origin in (tuple, list):
        return f"a list of {_describe(typing.get_args(tp)[0])}"
    if origin in (dict, Mapping):
        return "a mapping"
    if tp is Any:
        return "any value"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def _convert(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            try:
                return _convert(value, arg, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {_describe(tp)}, got {value!r}")
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{where}: expected null, got {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected {_describe(tp)}, got {value!r}")
        return from_mapping(tp, value, where)
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected {_describe(tp)}, got {value!r}")
        item_type = typing.get_args(tp)[0]
        items = [_convert(item, item_type, f"{where}[{i}]") for i, item in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        key_type, value_type = typing.get_args(tp) or (str, Any)
        return {_convert(k, key_type, f"{where}"): _convert(v, value_type, f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    else:
        raise TypeError(f"unsupported config field type {tp!r} at {where}")
    raise ConfigError(f"{where}: expected {_describe(tp)}, got {value!r}")


def field_default(field: dataclasses.Field) -> Any:
    """A dataclass field's default value (its factory called), or ``dataclasses.MISSING``."""
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def from_mapping(cls: type[T], data: Mapping[str, Any], source: str, *, base: T | None = None) -> T:
    """Build dataclass ``cls`` from ``data``; ``source`` (a file name or ``"--flag"``) prefixes errors.

    Keys ``data`` leaves out take their values from ``base`` (default: the field defaults). A nested
    dataclass field given as a mapping starts from that field's default, so ``trainer: {epochs: 3}``
    keeps the rest of this config's ``trainer`` (which may differ from ``TrainerSettings()``).
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{source}: unknown key {unknown[0]!r}; valid keys: {sorted(fields)}")
    values = {}
    for name, field in fields.items():
        where = f"{source}: key {name!r}" if ":" not in source else f"{source}.{name}"
        if name in data:
            default = (getattr(base, name) if base is not None else field_default(field)) \
                if isinstance(data[name], Mapping) else None
            if dataclasses.is_dataclass(default) and not isinstance(default, type):
                values[name] = from_mapping(type(default), data[name], where, base=default)
            else:
                values[name] = _convert(data[name], hints[name], where)
        elif base is not None:
            values[name] = getattr(base, name)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where} is required ({_describe(hints[name])})")
    try:
        return cls(**values)
    except (ValueError, TypeError) as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(f"{source}: {error}") from error


def to_mapping(config: Any) -> Any:
    """A dataclass config as plain YAML/JSON-serialisable data (tuples become lists)."""
    if dataclasses.is_dataclass(config):
        return {f.name: to_mapping(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, Mapping):
        return {k: to_mapping(v) for k, v in config.items()}
    if isinstance(config, list | tuple):
        return [to_mapping(v) for v in config]
    return config


# --- KEY=VALUE and agent specs on the command line ---------------------------------------------

def parse_assignment(text: str, what: str) -> tuple[str, Any]:
    """``"key=value"`` -> ``("key", yaml value)``."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"{what}: expected KEY=VALUE, got {text!r}")
    try:
        return key, yaml.safe_load(value)
    except yaml.YAMLError as error:
        raise ConfigError(f"{what} {key}: cannot read value {value!r}: {error}") from error


def parse_agent(text: str) -> tuple[str, dict[str, Any]]:
    """``"template:style=concise,foo=1"`` -> ``("template", {"style": "concise", "foo": 1})``.

    Commas inside brackets belong to the value (``mixed:probabilities=[0.5,0.5]``).
    """
    name, _, rest = text.partition(":")
    kwargs: dict[str, Any] = {}
    if rest:
        parts, depth, current = [], 0, ""
        for char in rest:
            depth += char in "[{"
            depth -= char in "]}"
            if char == "," and depth == 0:
                parts.append(current)
                current = ""
            else:
                current += char
        parts.append(current)
        for number, part in enumerate(parts):
            if number and "=" not in part:  # "probabilities=0.5,0.5": the comma split a list
                previous = parts[number - 1].partition("=")
                raise ConfigError(f"--agents {text}: expected KEY=VALUE, got {part!r}; a list value goes in "
                                  f"brackets, e.g. {previous[0]}=[{previous[2]},{part}]")
            key, value = parse_assignment(part, f"--agents {text}")
            kwargs[key] = value
    return name, kwargs


def parse_labelled_agent(text: str, flag: str) -> tuple[str, str, dict[str, Any]]:
    """``"LABEL=NAME[:key=value,...]"`` -> ``(label, name, kwargs)``; errors name ``flag``."""
    label, separator, spec = text.partition("=")
    if not separator or not label:
        raise ConfigError(f"{flag}: expected LABEL=AGENT[:key=value,...], got {text!r}")
    name, kwargs = parse_agent(spec)
    return label, name, kwargs
