"""generated/ is fresh, buf accepts proto/, and the wheel ships `krake`."""

from __future__ import annotations

import filecmp
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import codegen  # noqa: E402

BUF = shutil.which("buf", path=sysconfig.get_path("scripts"))


def differences(left: pathlib.Path, right: pathlib.Path) -> list[str]:
    """Files that differ, or exist on one side only, below two folders."""
    found: list[str] = []
    compared = filecmp.dircmp(left, right, ignore=["__pycache__"])
    found += [f"only in {left}: {n}" for n in compared.left_only]
    found += [f"only in {right}: {n}" for n in compared.right_only]
    found += [str(left / n) for n in compared.diff_files + compared.funny_files]
    for name in compared.common_dirs:
        found += differences(left / name, right / name)
    return found


def test_generated_code_is_fresh(tmp_path: pathlib.Path) -> None:
    codegen.generate(tmp_path)
    stale = differences(codegen.GENERATED, tmp_path)
    assert stale == [], "generated/ is stale: run `make generate` and commit\n" + "\n".join(stale)


@pytest.fixture(scope="module")
def buf() -> str:
    if BUF is None:
        pytest.fail("buf not installed: the dev extra brings it (buf-bin)")
    codegen.copy_buf_deps(ROOT / "build" / "buf-deps")
    return BUF


def test_buf_lint_passes(buf: str) -> None:
    result = subprocess.run([buf, "lint"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_format_leaves_protos_unchanged(buf: str) -> None:
    result = subprocess.run(
        [buf, "format", "--diff", "--exit-code", "proto"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_wheel_ships_generated_code_as_krake(tmp_path: pathlib.Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("krake-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "krake/kubernetes/v1/kubernetes_pb2.py" in names
    assert "krake/kubernetes/v1/kubernetes_service_pb2_grpc.pyi" in names
    assert "krake_api/__init__.py" in names
    assert not any(n.startswith(("generated/", "google/")) for n in names)
    # Import from the wheel alone: drop the editable install's paths to this checkout.
    probe = """if True:
        import sys
        sys.path = [p for p in sys.path if p not in sys.argv[2:]]
        sys.path.insert(0, sys.argv[1])
        from krake.kubernetes.v1 import kubernetes_pb2
        assert kubernetes_pb2.__file__.startswith(sys.argv[1]), kubernetes_pb2.__file__
        print(kubernetes_pb2.Application.Status.State.Name(3))
    """
    command = [sys.executable, "-c", probe, str(wheel), str(ROOT), str(ROOT / "generated")]
    out = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert (out.returncode, out.stdout.strip()) == (0, "RUNNING"), out.stderr
