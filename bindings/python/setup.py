"""The build step that makes the package whole: building a wheel (or ``pip install
bindings/python``) from a source checkout runs ``cargo build --release --lib`` on the crate
holding this directory and bundles the shared library inside the package, where
``softadastra_sync`` looks for it first after ``$SOFTADASTRA_SYNC_LIB``.

The metadata is in pyproject.toml; this file only adds that step. The wheel is tagged
``py3-none-<platform>``: it holds a native library, but one loaded with ctypes, so it does not
depend on the Python version or ABI.

Cargo's own rules apply: ``CARGO_TARGET_DIR`` (or a ``.cargo/config.toml``) chooses where it
builds, so an already-built release library is reused, not compiled again. An editable install
(``pip install -e``) builds nothing: the package then finds the checkout's ``target/``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# The package's own discovery code (pure Python, no library needed to import it) says what
# the library file is called and where the crate is: one definition for both.
sys.path.insert(0, str(HERE))
from softadastra_sync._native import (  # noqa: E402
    CRATE_NAME,
    SA_SYNC_VERSION_MAJOR,
    SA_SYNC_VERSION_MINOR,
    SA_SYNC_VERSION_PATCH,
    find_checkout,
    library_file_name,
)

PACKAGE = "softadastra_sync"
LIB_TARGET = "softadastra_sync"


def cargo_build_library(manifest: Path) -> Path:
    """Runs cargo and returns the path of the cdylib it built (from cargo's JSON messages, so
    the target directory is whatever cargo chose)."""
    command = [
        "cargo", "build", "--release", "--lib", "--manifest-path", str(manifest),
        "--message-format=json-render-diagnostics",
    ]
    try:
        result = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    except FileNotFoundError:
        raise SystemExit(
            f"{CRATE_NAME}: building the Python package runs cargo, which is not on PATH "
            "(install Rust: https://rustup.rs)"
        ) from None
    if result.returncode != 0:
        raise SystemExit(f"{CRATE_NAME}: `{' '.join(command)}` failed ({result.returncode})")
    name = library_file_name()
    for line in result.stdout.splitlines():
        message = json.loads(line) if line.startswith("{") else {}
        if message.get("reason") != "compiler-artifact":
            continue
        if message.get("target", {}).get("name") != LIB_TARGET:
            continue
        for filename in message.get("filenames", []):
            if Path(filename).name == name:
                return Path(filename)
    raise SystemExit(f"{CRATE_NAME}: cargo built no {name} (is `cdylib` a crate-type?)")


class BuildPyWithLibrary(build_py):
    """``build_py``, then the cdylib copied into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        checkout = find_checkout(HERE)
        if checkout is None:
            raise SystemExit(
                f"{CRATE_NAME}: no Cargo.toml of {CRATE_NAME} at or above {HERE}: build the "
                "package from a source checkout"
            )
        library = cargo_build_library(checkout / "Cargo.toml")
        self.copy_file(str(library), str(Path(self.build_lib) / PACKAGE / library.name))


class NativeDistribution(Distribution):
    """A distribution that holds a native library: installed to platlib, wheel not pure."""

    def has_ext_modules(self) -> bool:
        return True


class PlatformWheel(bdist_wheel):
    """A wheel for one platform (it holds a native library), any Python 3."""

    def get_tag(self) -> "tuple[str, str, str]":
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(
    # The package's version is the library's, from the constants checked against the header.
    version=f"{SA_SYNC_VERSION_MAJOR}.{SA_SYNC_VERSION_MINOR}.{SA_SYNC_VERSION_PATCH}",
    distclass=NativeDistribution,
    cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel},
)
