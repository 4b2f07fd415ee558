"""krakectl's configuration file: named contexts and the current one.

The file is `$KRAKECONFIG`, else `$XDG_CONFIG_HOME/krake/config.yaml`, else
`~/.config/krake/config.yaml` (`--config` overrides all three)::

    current-context: prod
    contexts:
      prod:
        api: krake.example:50051
        namespace: web
        ca: /etc/krake/ca.pem           # TLS; with cert and key: mutual TLS
        cert: /etc/krake/client.pem
        key: /etc/krake/client-key.pem
        token-file: ~/.krake-token      # or `token: ...`

A missing file is an empty configuration. An unknown key is an error that names
it, so a typo never silently falls back to a default. The file is written with
mode 0600, since it may hold a token.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import click
import yaml

DEFAULT_API: Final = "127.0.0.1:50051"
DEFAULT_NAMESPACE: Final = "default"


class BadConfig(click.ClickException):
    """The configuration file cannot be read or used (exit code 1)."""


@dataclass(slots=True)
class Context:
    api: str = ""
    namespace: str = ""
    ca: str = ""
    cert: str = ""
    key: str = ""
    token: str = ""
    token_file: str = ""

    @classmethod
    def from_yaml(cls, data: Any, where: str) -> Context:
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise BadConfig(f"{where}: must be a mapping")
        known = {f.name.replace("_", "-"): f.name for f in dataclasses.fields(cls)}
        values: dict[str, str] = {}
        for key, value in data.items():
            if key not in known:
                raise BadConfig(f"{where}: unknown key {key!r}; keys: {', '.join(known)}")
            values[known[key]] = "" if value is None else str(value)
        return cls(**values)

    def to_yaml(self) -> dict[str, str]:
        return {
            f.name.replace("_", "-"): getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name)
        }


@dataclass(slots=True)
class Config:
    path: pathlib.Path
    current: str = ""
    contexts: dict[str, Context] = field(default_factory=dict)

    def context(self, name: str | None = None) -> Context:
        """The context `name` (default: the current one; none set: an empty one)."""
        chosen = name if name is not None else self.current
        if not chosen:
            return Context()
        if chosen not in self.contexts:
            known = ", ".join(sorted(self.contexts)) or "none"
            raise BadConfig(f"no context {chosen!r} in {self.path} (contexts: {known})")
        return self.contexts[chosen]

    def to_yaml(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.current:
            data["current-context"] = self.current
        data["contexts"] = {name: ctx.to_yaml() for name, ctx in sorted(self.contexts.items())}
        return data

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(self.to_yaml(), sort_keys=False)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(text)


def location(explicit: str | None = None, env: Mapping[str, str] | None = None) -> pathlib.Path:
    """Where the configuration file is (whether or not it exists)."""
    env = os.environ if env is None else env
    if explicit:
        return pathlib.Path(explicit).expanduser()
    if env.get("KRAKECONFIG"):
        return pathlib.Path(env["KRAKECONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(pathlib.Path("~/.config").expanduser())
    return pathlib.Path(base) / "krake" / "config.yaml"


def load(path: pathlib.Path) -> Config:
    """The configuration in `path`; an empty one when the file does not exist."""
    if not path.exists():
        return Config(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise BadConfig(f"{path}: {' '.join(str(err).split())}") from None
    if not isinstance(data, dict):
        raise BadConfig(f"{path}: must be a mapping")
    unknown = set(data) - {"current-context", "contexts"}
    if unknown:
        raise BadConfig(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    contexts = data.get("contexts") or {}
    if not isinstance(contexts, dict):
        raise BadConfig(f"{path}: `contexts` must map names to contexts")
    return Config(
        path,
        str(data.get("current-context") or ""),
        {
            str(name): Context.from_yaml(body, f"{path}: context {name!r}")
            for name, body in contexts.items()
        },
    )
