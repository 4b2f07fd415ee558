"""Settings from flags, environment and a YAML file, in that order of precedence.

Each `Option` is one flag (`--grpc-address`), one environment variable
(`KRAKE_GRPC_ADDRESS`) and one key of the YAML file given by `--config` or
`KRAKE_CONFIG` (`grpc-address:` or `grpc_address:`). A key the program does not
know, or a value of the wrong type, stops the program with a message naming it.
"""

from __future__ import annotations

import argparse
import os
import pathlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Option:
    name: str  # the flag without dashes: "grpc-address"
    default: str
    help: str
    type: Callable[[str], Any] = str
    choices: Sequence[str] | None = None

    @property
    def env(self) -> str:
        return "KRAKE_" + self.name.upper().replace("-", "_")


def tunable(default: Any, help: str) -> Any:
    """A dataclass field that is also a setting (see `options_of`)."""
    return field(default=default, metadata={"help": help})


def options_of(cls: type) -> tuple[Option, ...]:
    """An `Option` per `tunable` field of dataclass `cls`: `metrics_ttl` is the flag
    `--metrics-ttl`, of the default's type."""
    return tuple(
        Option(f.name.replace("_", "-"), str(f.default), f.metadata["help"], type(f.default))
        for f in fields(cls)
        if "help" in f.metadata
    )


def settings_of(cls: type[T], args: argparse.Namespace) -> T:
    """An instance of `cls` from the parsed `options_of(cls)`."""
    names = (o.name.replace("-", "_") for o in options_of(cls))
    return cls(**{name: getattr(args, name) for name in names})


def load(path: str, options: Sequence[Option]) -> dict[str, str]:
    """The YAML file's settings by option name; unknown keys are errors."""
    try:
        data = yaml.safe_load(pathlib.Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise SystemExit(f"config file {path}: {err}") from None
    if not isinstance(data, Mapping):
        raise SystemExit(f"config file {path}: expected a mapping of settings")
    known = {o.name for o in options}
    settings = {}
    for key, value in data.items():
        name = str(key).replace("_", "-")
        if name not in known:
            raise SystemExit(
                f"config file {path}: unknown setting {key!r}; known: {', '.join(sorted(known))}"
            )
        if isinstance(value, Mapping | list) or value is None:
            raise SystemExit(f"config file {path}: {key} must be a single value")
        settings[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return settings


def parse(
    prog: str,
    description: str,
    options: Sequence[Option],
    argv: Sequence[str],
    environ: Mapping[str, str] = os.environ,
) -> argparse.Namespace:
    """Parse `argv` with defaults from `environ`, then the config file, then `options`."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--config", default=environ.get("KRAKE_CONFIG", ""))
    path = early.parse_known_args(argv)[0].config
    from_file = load(path, options) if path else {}
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", default=path, help="a YAML file of settings (env KRAKE_CONFIG)")
    for option in options:
        default = environ.get(option.env, from_file.get(option.name, option.default))
        parser.add_argument(
            f"--{option.name}",
            type=option.type,
            choices=option.choices,
            default=default,
            help=f"{option.help} (env {option.env}; default {option.default})",
        )
    args = parser.parse_args(argv)
    for option in options:  # argparse checks choices on flags only, not on defaults
        value = getattr(args, option.name.replace("-", "_"))
        if option.choices and value not in option.choices:
            parser.error(f"--{option.name}: {value!r} is not one of {', '.join(option.choices)}")
    return args
