"""The configuration file: where it is, named contexts, flags over contexts."""

from __future__ import annotations

import pathlib
import stat

import pytest
import yaml
from click.testing import CliRunner

from krake_cli import config, main, session

from .conftest import Cli


def test_location_honours_krakeconfig_then_xdg_then_home(tmp_path: pathlib.Path) -> None:
    assert config.location(env={"KRAKECONFIG": "/a/b.yaml", "XDG_CONFIG_HOME": "/x"}) == (
        pathlib.Path("/a/b.yaml")
    )
    assert config.location(env={"XDG_CONFIG_HOME": "/x"}) == pathlib.Path("/x/krake/config.yaml")
    home = pathlib.Path("~/.config/krake/config.yaml").expanduser()
    assert config.location(env={}) == home
    assert config.location("/flag.yaml", env={"KRAKECONFIG": "/a"}) == pathlib.Path("/flag.yaml")


def test_contexts_are_set_listed_used_and_viewed(cli: Cli) -> None:
    assert cli.ok("config", "set-context", "local", "--api", cli.api, "--namespace", "ctx-ns") == (
        f'Context "local" set in {cli.config}.\n'
    )
    cli.ok("config", "set-context", "far", "--api", "127.0.0.1:1", "--token", "s3cret")
    assert stat.S_IMODE(cli.config.stat().st_mode) == 0o600
    listed = cli.ok("config", "get-contexts").splitlines()
    assert [line.split() for line in listed] == [
        ["CURRENT", "NAME", "API", "NAMESPACE"],
        ["far", "127.0.0.1:1", "default"],
        ["*", "local", cli.api, "ctx-ns"],
    ]
    assert cli.ok("config", "use-context", "far") == 'Switched to context "far".\n'
    assert cli.ok("config", "current-context") == "far\n"
    viewed = cli.ok("config", "view")
    assert "s3cret" not in viewed and "REDACTED" in viewed
    assert yaml.safe_load(cli.ok("config", "view", "--raw"))["contexts"]["far"]["token"] == "s3cret"
    unknown = cli("config", "use-context", "nowhere")
    assert unknown.exit_code == 1 and "no context 'nowhere'" in unknown.stderr
    assert "far, local" in unknown.stderr


def test_the_context_gives_api_and_namespace_and_flags_win(cli: Cli) -> None:
    cli.ok("config", "set-context", "local", "--api", cli.api, "--namespace", "ctx-ns")
    cli.ok("config", "set-context", "dead", "--api", "127.0.0.1:1", "--current")
    cli.ok("--api", cli.api, "core", "lease", "create", "in-ctx-ns", "-n", "ctx-ns")
    dead = cli("core", "lease", "list", api=False)
    assert dead.exit_code == 1 and "cannot reach the Krake API at 127.0.0.1:1" in dead.stderr
    chosen = cli("--context", "local", "core", "lease", "list", "-o", "name", api=False)
    assert (chosen.exit_code, chosen.stdout) == (0, "lease/in-ctx-ns\n")  # the context's namespace
    overridden = cli(
        "--context", "local", "--api", "127.0.0.1:2", "core", "lease", "list", api=False
    )
    assert "at 127.0.0.1:2" in overridden.stderr
    other_namespace = cli("--context", "local", "core", "lease", "list", "-n", "x", api=False)
    assert (
        other_namespace.exit_code == 0
        and other_namespace.stderr == "No Leases found in namespace x.\n"
    )
    cli.ok("core", "lease", "delete", "in-ctx-ns", "-n", "ctx-ns")


def test_xdg_config_home_is_used_without_krakeconfig(tmp_path: pathlib.Path) -> None:
    env = {"KRAKECONFIG": None, "XDG_CONFIG_HOME": str(tmp_path)}
    result = CliRunner().invoke(main.cli, ["config", "set-context", "x", "--api", "h:1"], env=env)
    assert result.exit_code == 0, result.output
    written = yaml.safe_load((tmp_path / "krake" / "config.yaml").read_text())
    assert written == {"current-context": "x", "contexts": {"x": {"api": "h:1"}}}


def test_token_comes_from_flag_then_token_file(tmp_path: pathlib.Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump({"current-context": "c", "contexts": {"c": {"token-file": str(token_file)}}})
    )
    assert session.resolve({"config": str(path)}).token == "from-file"
    assert session.resolve({"config": str(path), "token": "flag"}).token == "flag"
    typo = tmp_path / "typo.yaml"
    typo.write_text(yaml.safe_dump({"contexts": {"c": {"tokne": "x"}}}))
    with pytest.raises(config.BadConfig, match="unknown key 'tokne'"):
        session.resolve({"config": str(typo), "context": "c"})
