"""`apply|create|delete -f` with multi-document files of several kinds, the `-o yaml`
round trip, bad files (nothing sent), and --dry-run=client."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable

import yaml

from krake_api.registry import KINDS
from krake_testing.examples import example

from .conftest import Cli

NAMESPACE = "applied"
MIXED = ("Application", "GlobalMetric", "MetricsProvider", "Role")


def objects(prefix: str) -> list[object]:
    return [example(KINDS[k], name=f"{prefix}-{k.lower()}", namespace=NAMESPACE) for k in MIXED]


def lines(prefix: str, change: str) -> str:
    return "".join(f"{k.lower()}/{prefix}-{k.lower()} {change}\n" for k in MIXED)


def test_apply_twice_creates_then_leaves_unchanged(
    cli: Cli, write_yaml: Callable[..., str]
) -> None:
    path = write_yaml(*objects("twice"))
    assert cli.ok("apply", "-f", path) == lines("twice", "created")
    assert cli.ok("apply", "-f", path) == lines("twice", "unchanged")
    listed = cli.ok("get", "app", "-n", NAMESPACE, "-o", "name")
    assert "application/twice-application\n" in listed
    assert cli.ok("delete", "-f", path) == lines("twice", "deleted")
    assert cli.ok("get", "roles", "-o", "name") == ""


def test_apply_a_directory_and_stdin(cli: Cli, write_yaml: Callable[..., str]) -> None:
    first, second, *_ = objects("dir")
    path = write_yaml(first, name="a.yaml")
    write_yaml(second, name="b.yaml")
    folder = path.rsplit("/", 1)[0]
    assert cli.ok("apply", "-f", folder) == (
        "application/dir-application created\nglobalmetric/dir-globalmetric created\n"
    )
    piped = pathlib.Path(path).read_text()
    assert cli.ok("apply", "-f", "-", input=piped) == "application/dir-application unchanged\n"
    cli.ok("delete", "-f", folder)


def test_yaml_output_applies_back_unchanged_and_recreates(
    cli: Cli, write_yaml: Callable[..., str]
) -> None:
    cli.ok("apply", "-f", write_yaml(*objects("round")))
    printed = cli.ok("get", "app", "round-application", "-n", NAMESPACE, "-o", "yaml")
    assert yaml.safe_load(printed)["metadata"]["resource_version"]  # server-set fields are in
    assert cli.ok("apply", "-f", "-", input=printed) == "application/round-application unchanged\n"

    edited = printed.replace("name: c\n", "name: edited\n")
    assert edited != printed
    assert cli.ok("apply", "-f", "-", input=edited) == "application/round-application configured\n"
    # the old resource_version and uid in `printed` do not stop a later apply
    assert cli.ok("apply", "-f", "-", input=printed) == "application/round-application configured\n"
    cli.ok("delete", "app", "round-application", "-n", NAMESPACE)
    assert cli.ok("apply", "-f", "-", input=printed) == "application/round-application created\n"

    listed = cli.ok("get", "app", "-n", NAMESPACE, "-o", "yaml")  # several: one document each
    assert cli.ok("apply", "-f", "-", input=listed) == "application/round-application unchanged\n"
    as_json = cli.ok("get", "globalmetric", "-o", "json")
    assert json.loads(as_json)["kind"] in ("GlobalMetric", "List")
    assert "globalmetric/round-globalmetric unchanged" in cli.ok("apply", "-f", "-", input=as_json)
    cli.ok("delete", "-f", write_yaml(*objects("round")))


def test_a_bad_document_stops_everything_before_the_first_write(
    cli: Cli, write_yaml: Callable[..., str]
) -> None:
    good, *_ = objects("bad")
    typo = {"kind": "GlobalMetric", "metadata": {"name": "bad-metric"}, "spec": {"mni": 1}}
    path = write_yaml(good, typo)
    result = cli("apply", "-f", path)
    assert result.exit_code == 1
    assert (
        result.stderr == f"Error: {path}, document 2: unknown field spec.mni (did you mean min?)\n"
    )
    missing = cli("get", "app", "bad-application", "-n", NAMESPACE)
    assert missing.exit_code == 1 and "not found" in missing.stderr

    broken = write_yaml(name="broken.yaml")
    with open(broken, "w") as file:
        file.write("kind: Role\nmetadata: {name: [unclosed\n")
    result = cli("apply", "-f", broken)
    assert result.exit_code == 1 and result.stderr.startswith(f"Error: {broken}: not valid YAML")

    unknown = write_yaml({"kind": "Pod", "metadata": {"name": "p"}}, name="pod.yaml")
    result = cli("apply", "-f", unknown)
    assert result.exit_code == 1 and "unknown kind 'Pod'" in result.stderr


def test_server_side_violations_are_listed_and_other_objects_go_on(
    cli: Cli, write_yaml: Callable[..., str]
) -> None:
    invalid = {
        "kind": "Application",
        "metadata": {"name": "invalid", "namespace": NAMESPACE},
        "spec": {"manifest": [{"kind": "ConfigMap"}]},
    }
    good = example(KINDS["Role"], name="after-invalid")
    result = cli("apply", "-f", write_yaml(invalid, good))
    assert result.exit_code == 1
    assert result.stdout == "role/after-invalid created\n"
    assert result.stderr.splitlines() == [
        f'Error: Application "invalid" in namespace "{NAMESPACE}" is invalid:',
        "  - spec.manifest[0].apiVersion: must be a non-empty string",
        "  - spec.manifest[0].metadata.name: must be a non-empty string",
        "Error: 1 of 2 objects failed",
    ]
    cli.ok("delete", "role", "after-invalid")


def test_dry_run_sends_nothing(cli: Cli, write_yaml: Callable[..., str]) -> None:
    path = write_yaml(*objects("dry"))
    assert cli.ok("apply", "-f", path, "--dry-run=client") == lines("dry", "created (dry run)")
    assert cli.ok("create", "-f", path, "--dry-run") == lines("dry", "created (dry run)")
    assert cli.ok("get", "roles", "-o", "name") == ""
    cli.ok("create", "-f", path)
    assert cli.ok("delete", "-f", path, "--dry-run") == lines("dry", "deleted (dry run)")
    assert cli.ok("get", "role", "dry-role", "-o", "name") == "role/dry-role\n"
    again = cli("create", "-f", path)
    assert again.exit_code == 1
    assert 'Error: Role "dry-role" already exists' in again.stderr
    cli.ok("delete", "-f", path)
