"""Settings: flags over environment over the YAML file over defaults; clear errors."""

from __future__ import annotations

import pathlib

import grpc.aio
import pytest

from krake_api.config import Option, options_of, parse, settings_of
from krake_controllers.main import OPTIONS as CONTROLLER_OPTIONS
from krake_controllers.main import TUNABLES, build
from krake_controllers.runtime.client import Client
from krake_controllers.runtime.metrics import ControllerMetrics

OPTIONS = (
    Option("storage", "sqlite:///./krake.db", "where"),
    Option("grace", "10", "seconds", float),
    Option("log-format", "json", "format", choices=("json", "console")),
)


def settings(argv: list[str], env: dict[str, str] | None = None) -> dict[str, object]:
    return vars(parse("krake-api", "test", OPTIONS, argv, env or {}))


def test_defaults_then_file_then_environment_then_flags(tmp_path: pathlib.Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("storage: etcd://file:2379\ngrace: 3\nlog_format: console\n")
    assert settings([]) == {
        "config": "",
        "storage": "sqlite:///./krake.db",
        "grace": 10.0,
        "log_format": "json",
    }
    from_file = settings(["--config", str(config)])
    assert (from_file["storage"], from_file["grace"], from_file["log_format"]) == (
        "etcd://file:2379",
        3.0,
        "console",
    )
    env = {"KRAKE_CONFIG": str(config), "KRAKE_GRACE": "4"}
    assert settings([], env)["grace"] == 4.0
    assert settings([], env)["storage"] == "etcd://file:2379"
    assert settings(["--grace", "5"], env)["grace"] == 5.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour: blue\n", "unknown setting 'colour'"),
        ("- a\n- b\n", "expected a mapping"),
        ("storage: [a]\n", "storage must be a single value"),
        ("storage: 'a\n", "config file"),
    ],
)
def test_bad_files_are_refused_naming_the_problem(
    tmp_path: pathlib.Path, text: str, message: str
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(text)
    with pytest.raises(SystemExit) as refused:
        settings(["--config", str(config)])
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("env", "flag"),
    [({"KRAKE_GRACE": "soon"}, "--grace"), ({"KRAKE_LOG_FORMAT": "xml"}, "--log-format")],
)
def test_bad_values_name_the_option(
    env: dict[str, str], flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        settings([], env)
    assert flag in capsys.readouterr().err


def test_a_missing_file_is_an_error() -> None:
    with pytest.raises(SystemExit) as refused:
        settings(["--config", "/nonexistent/krake.yaml"])
    assert "/nonexistent/krake.yaml" in str(refused.value)


def changed(option: Option) -> str:
    """A value other than `option`'s default, of its type."""
    if option.type is str:
        return option.default + "-changed"
    return str(option.type(option.default) * 2 + 1)


@pytest.mark.parametrize("name", sorted(TUNABLES))
async def test_each_controller_takes_its_tunables_from_flags_and_environment(name: str) -> None:
    first, *rest = tunables = options_of(TUNABLES[name])
    argv = [arg for option in rest for arg in (f"--{option.name}", changed(option))]
    parsed = parse(
        "krake-controller", name, CONTROLLER_OPTIONS + tunables, argv, {first.env: changed(first)}
    )
    made = settings_of(TUNABLES[name], parsed)
    for option in tunables:
        assert getattr(made, option.name.replace("-", "_")) == option.type(changed(option))
    async with grpc.aio.insecure_channel("127.0.0.1:1") as channel:  # never called
        controller = build(name, Client(channel), parsed, ControllerMetrics())
    assert controller.name == name
