"""Generate the Python code of `proto/` into `generated/` (`make generate`).

Runs grpc_tools.protoc with three include paths: `proto/`, the site directory of
the installed googleapis-common-protos wheel (for `google/api/*.proto`) and
grpc_tools' own `_proto` (for the well-known types). Produces `*_pb2.py`,
`*_pb2_grpc.py` and mypy-protobuf stubs (`*.pyi`, typing the grpc.aio stubs too),
plus the `__init__.py` files that make `krake.<group>.v1` importable.

`python tools/codegen.py [OUT]` writes into OUT (default: `generated/`); the
staleness test generates into a temporary folder and compares.
"""

from __future__ import annotations

import pathlib
import shutil
import sys
import sysconfig

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
GENERATED = ROOT / "generated"
THIRD_PARTY = ("google/api/annotations.proto", "google/api/http.proto")


def googleapis_include() -> pathlib.Path:
    """The site directory holding googleapis-common-protos' `google/api/*.proto`."""
    import google.api.annotations_pb2 as annotations

    return pathlib.Path(annotations.__file__).resolve().parent.parent.parent


def grpc_tools_include() -> pathlib.Path:
    import grpc_tools

    return pathlib.Path(grpc_tools.__file__).resolve().parent / "_proto"


def plugin(name: str) -> str:
    """Path of a protoc plugin installed next to this interpreter."""
    scripts = pathlib.Path(sysconfig.get_path("scripts"))
    found = shutil.which(name, path=str(scripts)) or shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: install the dev extra (pip install -e '.[dev]')")
    return found


def proto_files() -> list[str]:
    return sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))


def generate(out: pathlib.Path) -> None:
    from grpc_tools import protoc

    out.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO}",
        f"-I{googleapis_include()}",
        f"-I{grpc_tools_include()}",
        f"--plugin=protoc-gen-mypy={plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *proto_files(),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for folder in {p.parent for p in out.rglob("*_pb2.py")}:
        while folder != out:
            (folder / "__init__.py").touch()
            folder = folder.parent
    (out / "krake" / "py.typed").touch()


def copy_buf_deps(dest: pathlib.Path) -> None:
    """Copy google/api/*.proto from the installed wheel for `buf lint` (git-ignored)."""
    source = googleapis_include()
    for name in THIRD_PARTY:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, target)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--buf-deps"]:
        copy_buf_deps(ROOT / "build" / "buf-deps")
        return
    out = pathlib.Path(argv[0]) if argv else GENERATED
    if out == GENERATED and out.exists():
        shutil.rmtree(out)
    generate(out)


if __name__ == "__main__":
    main(sys.argv[1:])
