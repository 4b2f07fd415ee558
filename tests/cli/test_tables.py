"""krakectl's per-kind data and printing, without a server: every kind has its row,
its command group and its columns; ages, numbers and files read as documented."""

from __future__ import annotations

import pathlib
from datetime import UTC, datetime, timedelta

import click
import pytest

from krake_api import structs
from krake_api.registry import KINDS
from krake_cli import columns, documents, kinds, main, output, special
from krake_testing.examples import example

GENERIC = {"list", "get", "watch", "create", "update", "delete"}


def test_every_kind_has_a_view_and_a_command_group_with_every_verb() -> None:
    assert set(kinds.VIEWS) == set(KINDS)
    assert set(special.COMMANDS) <= set(KINDS)
    ctx = click.Context(main.cli)
    for kind in KINDS.values():
        group = main.cli.get_command(ctx, kind.group)
        assert isinstance(group, click.Group)
        commands = group.get_command(ctx, kinds.command_name(kind))
        assert isinstance(commands, click.Group)
        assert set(commands.commands) >= GENERIC, kind.name
        for word in kinds.aliases(kind):
            assert group.get_command(ctx, word) is commands


def test_aliases_name_one_kind_each() -> None:
    words = [w for k in KINDS.values() for w in (kinds.command_name(k), *kinds.aliases(k))]
    assert len(words) == len(set(words))
    for word, name in {
        "app": "Application",
        "gcloud": "GlobalCloud",
        "gip": "GlobalInfrastructureProvider",
        "ip": "InfrastructureProvider",
        "mp": "MetricsProvider",
        "gmp": "GlobalMetricsProvider",
        "gmetric": "GlobalMetric",
        "metric": "Metric",
        "rolebinding": "RoleBinding",
        "lease": "Lease",
    }.items():
        assert kinds.lookup(word).name == name
    kube = main.cli.get_command(click.Context(main.cli), "kube")
    assert isinstance(kube, click.Group)
    assert set(kube.commands) == {"application", "cluster"}


def test_every_kinds_table_reads_its_example() -> None:
    for kind in KINDS.values():
        obj = example(kind, name="n", namespace="ns")
        for fmt, all_namespaces in (("table", False), ("wide", True)):
            header, row = output.render(
                kind, [obj], fmt, all_namespaces=all_namespaces
            ).splitlines()
            assert header.startswith("NAME") and row.startswith("n ")
            if kind.namespaced and all_namespaces:
                assert header.split()[1] == "NAMESPACE" and row.split()[1] == "ns"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (7199, "119m"),
        (7200, "2h"),
        (47 * 3600, "47h"),
        (3 * 86400, "3d"),
        (800 * 86400, "2y"),
        (-5, "0s"),
    ],
)
def test_ages_are_short(seconds: float, shown: str) -> None:
    assert columns.duration(seconds) == shown


def test_age_column_counts_from_created() -> None:
    obj = example(KINDS["Role"])
    obj.metadata.created.FromDatetime(datetime(2030, 1, 1, tzinfo=UTC))  # type: ignore[attr-defined]
    later = columns.age(
        "metadata.created", now=lambda: datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=5)
    )
    assert later(obj) == "5m"
    assert columns.age("metadata.deleted")(obj) == columns.NONE


def test_json_keeps_snake_case_and_whole_numbers() -> None:
    app = example(KINDS["Application"])
    app.spec.manifest[0]["spec"] = {"replicas": 3, "ratio": 0.5}  # type: ignore[attr-defined]
    app.spec.backoff_limit = 2  # type: ignore[attr-defined]
    data = structs.to_data(app)
    assert data["spec"]["backoff_limit"] == 2
    assert data["spec"]["manifest"][0]["spec"] == {"replicas": 3, "ratio": 0.5}
    assert isinstance(data["spec"]["manifest"][0]["spec"]["replicas"], int)


def test_table_rows_printed_later_line_up(tmp_path: pathlib.Path) -> None:
    table = output.Table([columns.Column("NAME", lambda o: o), columns.Column("X", lambda o: "x")])
    first = table.lines(["a"])
    later = table.lines(["a-much-longer-name"], header=False)
    assert first == ["NAME   x".replace("x", "X"), "a      x"]
    assert later == ["a-much-longer-name   x"]


def test_documents_lists_and_timestamps(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(
        "kind: List\nitems:\n- kind: Role\n  metadata: {name: a, created: 2030-01-01T00:00:00Z}\n"
        "- kind: Role\n  metadata: {name: b}\n---\n---\nkind: Lease\nmetadata: {name: c}\n"
    )
    found = documents.read([str(path)])
    assert [d.source.rsplit(", ", 2)[-2:] for d in found][:2] == [
        ["document 1", "item 1"],
        ["document 1", "item 2"],
    ]
    assert (
        found[0].data["metadata"]["created"] == "2030-01-01T00:00:00Z"
    )  # a string, not a datetime
    kind, obj = documents.parse(found[2], "ns")
    assert (kind.name, obj.metadata.namespace) == ("Lease", "ns")
    with pytest.raises(documents.Unreadable, match="is a Role, not a Lease"):
        documents.parse(found[0], "ns", expected=KINDS["Lease"])
    with pytest.raises(documents.Unreadable, match="a Role has no namespace"):
        documents.parse(
            documents.Document("x", {"kind": "Role", "metadata": {"name": "r", "namespace": "n"}}),
            "",
        )
    with pytest.raises(documents.Unreadable, match="belongs to api 'core', not 'kubernetes'"):
        documents.parse(
            documents.Document(
                "x", {"kind": "Role", "api": "kubernetes", "metadata": {"name": "r"}}
            ),
            "",
        )
