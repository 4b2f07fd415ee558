"""Every generic verb, for every kind of the registry, against a real krake-api:
one test body, driven by the registry and krake_testing.examples."""

from __future__ import annotations

import json
import pathlib
import signal
from collections.abc import Callable

import pytest

from krake_api.registry import KINDS, Kind
from krake_testing.examples import changed_spec, example

from .conftest import Cli, document, kind_words

NAMESPACE = "verbs"
EVERY_KIND = pytest.mark.parametrize("kind", list(KINDS.values()), ids=lambda k: k.name)
ONE_OF_EACH_SCOPE = pytest.mark.parametrize(
    "kind", [KINDS["Application"], KINDS["GlobalMetric"]], ids=lambda k: k.name
)


def where(kind: Kind) -> list[str]:
    return ["-n", NAMESPACE] if kind.namespaced else []


def subject(kind: Kind, name: str) -> str:
    return f"{kind.name.lower()}/{name}"


@EVERY_KIND
def test_every_verb(cli: Cli, write_yaml: Callable[..., str], kind: Kind) -> None:
    name = f"verbs-{kind.name.lower()}"
    words, ns = kind_words(kind), where(kind)
    obj = example(kind, name=name, namespace=NAMESPACE)
    assert cli.ok("create", "-f", write_yaml(obj)) == f"{subject(kind, name)} created\n"

    header, *rows = cli.ok(*words, "list", *ns).splitlines()
    assert header.split()[0] == "NAME" and header.split()[-1] == "AGE"
    assert [row.split()[0] for row in rows] == [name]

    got = json.loads(cli.ok(*words, "get", name, *ns, "-o", "json"))
    assert (got["api"], got["kind"], got["spec"]) == (kind.group, kind.name, document(obj)["spec"])
    assert got["metadata"]["generation"] == "1"  # int64 in the proto3 JSON mapping

    assert (
        cli.ok(*words, "update", name, *ns, "-l", "tier=gold")
        == f"{subject(kind, name)} configured\n"
    )
    assert (
        cli.ok(*words, "update", name, *ns, "-l", "tier=gold")
        == f"{subject(kind, name)} unchanged\n"
    )
    dry = cli.ok(*words, "update", name, *ns, "-l", "tier=silver", "--dry-run")
    assert dry == f"{subject(kind, name)} configured (dry run)\n"
    selected = cli.ok(*words, "list", *ns, "-l", "tier=gold", "-o", "name")
    assert selected == f"{subject(kind, name)}\n"
    assert cli.ok(*words, "list", *ns, "-l", "tier=silver", "-o", "name") == ""

    changed = example(kind, name=name, namespace=NAMESPACE)
    changed.spec.CopyFrom(changed_spec(kind))  # type: ignore[attr-defined]
    assert cli.ok("apply", "-f", write_yaml(changed)) == f"{subject(kind, name)} configured\n"
    got = json.loads(cli.ok("get", kind.name, name, *ns, "-o", "json"))
    assert got["spec"] == document(changed)["spec"]
    assert got["metadata"]["labels"] == {"tier": "gold"}  # apply keeps what the file omits

    assert cli.ok(*words, "delete", name, *ns) == f"{subject(kind, name)} deleted\n"
    gone = cli(*words, "get", name, *ns)
    assert gone.exit_code == 1
    place = f' in namespace "{NAMESPACE}"' if kind.namespaced else ""
    assert gone.stderr == f'Error: {kind.name} "{name}" not found{place}\n'


@ONE_OF_EACH_SCOPE
def test_watch_prints_each_change_until_interrupted(
    cli: Cli, write_yaml: Callable[..., str], kind: Kind
) -> None:
    name = f"watched-{kind.name.lower()}"
    words, ns = kind_words(kind), where(kind)
    cli.ok("create", "-f", write_yaml(example(kind, name=name, namespace=NAMESPACE)))
    watching = cli.process(*words, "watch", *ns, "-o", "name")
    try:
        watching.expect(lambda line: line == f"ADDED {subject(kind, name)}")
        cli.ok(*words, "update", name, *ns, "-l", "watched=yes")
        watching.expect(lambda line: line == f"UPDATED {subject(kind, name)}")
        cli.ok(*words, "delete", name, *ns)
        watching.expect(lambda line: line == f"DELETED {subject(kind, name)}")
        watching.process.send_signal(signal.SIGINT)
        code, _, errors = watching.finish()
        assert (code, errors) == (0, "")
    finally:
        watching.stop()


def test_list_watch_prints_rows_aligned_under_the_header(
    cli: Cli, write_yaml: Callable[..., str]
) -> None:
    kind = KINDS["Application"]
    name = "rows"
    words, ns = kind_words(kind), where(kind)
    cli.ok("create", "-f", write_yaml(example(kind, name=name, namespace=NAMESPACE)))
    watching = cli.process(*words, "list", *ns, "--watch")
    try:
        header = watching.expect(lambda line: line.startswith("NAME"))
        first = watching.expect(lambda line: line.startswith(name))
        cli.ok(*words, "update", name, *ns, "-l", "rows=yes")
        again = watching.expect(lambda line: line.startswith(name))
        assert (
            header.index("AGE")
            == first.rindex(first.split()[-1])
            == again.rindex(again.split()[-1])
        )
    finally:
        watching.stop()
        cli.ok(*words, "delete", name, *ns)


def test_aliases_name_the_same_commands(cli: Cli, write_yaml: Callable[..., str]) -> None:
    kind = KINDS["GlobalCloud"]
    cli.ok("create", "-f", write_yaml(example(kind, name="aliased")))
    expected = "globalcloud/aliased\n"
    for words in (
        ["infrastructure", "globalcloud", "list"],
        ["infra", "gcloud", "list"],
        ["INFRA", "GlobalClouds", "list"],
        ["get", "gcloud"],
        ["get", "globalclouds", "aliased"],
    ):
        assert cli.ok(*words, "-o", "name") == expected, words
    unknown = cli("get", "nosuchkind")
    assert unknown.exit_code == 2 and "unknown kind 'nosuchkind'" in unknown.stderr
    assert cli.ok("delete", "gcloud", "aliased") == "globalcloud/aliased deleted\n"


def test_generic_create_and_update_take_object_files(cli: Cli, tmp_path: pathlib.Path) -> None:
    """Kinds without handwritten commands (Lease) use the generic create and update."""
    spec = tmp_path / "lease.yaml"
    spec.write_text("metadata: {name: ignored}\nspec: {holder: replica-a, duration: 15s}\n")
    created = cli.ok(
        "core", "lease", "create", "held", "-f", str(spec), "-n", NAMESPACE, "-l", "a=b"
    )
    assert created == "lease/held created\n"
    got = json.loads(cli.ok("get", "lease", "held", "-n", NAMESPACE, "-o", "json"))
    assert (got["spec"], got["metadata"]["labels"]) == (
        {"holder": "replica-a", "duration": "15s"},
        {"a": "b"},
    )
    spec.write_text("kind: Lease\nmetadata: {name: held}\nspec: {holder: replica-b}\n")
    updated = cli.ok(
        "core", "lease", "update", "held", "-f", str(spec), "-n", NAMESPACE, "--remove-label", "a"
    )
    assert updated == "lease/held configured\n"
    got = json.loads(cli.ok("get", "lease", "held", "-n", NAMESPACE, "-o", "json"))
    assert (got["spec"], got["metadata"].get("labels")) == ({"holder": "replica-b"}, None)
    assert got["metadata"]["generation"] == "2"
    wrong = tmp_path / "role.yaml"
    wrong.write_text("kind: Role\nmetadata: {name: r}\n")
    refused = cli("core", "lease", "create", "-f", str(wrong), "-n", NAMESPACE)
    assert refused.exit_code == 1 and "is a Role, not a Lease" in refused.stderr
    cli.ok("core", "lease", "delete", "held", "-n", NAMESPACE)
