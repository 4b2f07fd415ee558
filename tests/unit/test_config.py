"""Settings: flags over environment over the YAML file over defaults; clear errors."""

from __future__ import annotations

import pathlib

import pytest

from krake_api.config import Option, parse

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
