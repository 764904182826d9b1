"""The ctypes mirror against the C header (names, types, layout), and library discovery."""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

import softadastra_sync as sa
from softadastra_sync import _native as N

PYTHON_DIR = Path(__file__).resolve().parents[1]


def find_header() -> Optional[Path]:
    for directory in [PYTHON_DIR, *PYTHON_DIR.parents]:
        header = directory / "include" / "softadastra" / "sync.h"
        if header.is_file():
            return header
    return None


HEADER = find_header()
needs_header = pytest.mark.skipif(HEADER is None, reason="not in a source checkout")


def header_text() -> str:
    assert HEADER is not None
    text = HEADER.read_text(encoding="utf-8")
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


SCALARS: Dict[str, Any] = {
    "sa_status": ctypes.c_int32,
    "int32_t": ctypes.c_int32,
    "uint8_t": ctypes.c_uint8,
    "uint32_t": ctypes.c_uint32,
    "uint64_t": ctypes.c_uint64,
    "size_t": ctypes.c_size_t,
    "bool": ctypes.c_bool,
}


def ctype_of(c_type: str) -> Any:
    """The ctypes type for a C type of the header."""
    c_type = " ".join(c_type.replace("*", " * ").split())
    stars = c_type.count("*")
    base = c_type.replace("*", "").replace("const ", "").replace("struct ", "").strip()
    if base == "void" and stars == 0:
        return None
    if base == "char" and stars >= 1:
        result, stars = ctypes.c_char_p, stars - 1
    elif base in SCALARS:
        result = SCALARS[base]
    else:
        result = getattr(N, base)
    for _ in range(stars):
        result = ctypes.POINTER(result)
    return result


def same_ctype(mine: Any, theirs: Any) -> bool:
    if mine is theirs:
        return True
    # const uint8_t * arguments use a subclass of POINTER(c_uint8) that also takes bytes.
    return isinstance(mine, type) and isinstance(theirs, type) and issubclass(mine, theirs) and (
        getattr(mine, "_type_", None) is getattr(theirs, "_type_", 0)
    )


def header_functions() -> Dict[str, Tuple[Any, List[Any]]]:
    text = header_text()
    functions = {}
    pattern = re.compile(r"^([A-Za-z][\w \*]*?[\s\*])(sa_\w+)\(([^)]*)\);", re.M)
    for ret, name, params in pattern.findall(text):
        args = []
        params = " ".join(params.split())
        if params != "void":
            for param in params.split(","):
                param = param.strip()
                c_type = re.sub(r"\w+$", "", param).strip()  # drop the parameter name
                args.append(ctype_of(c_type))
        functions[name] = (ctype_of(ret), args)
    return functions


def header_structs() -> Dict[str, List[Tuple[str, Any]]]:
    text = header_text()
    structs = {}
    for name, body, alias in re.findall(r"typedef struct (\w+) \{(.*?)\} (\w+);", text, re.S):
        assert name == alias
        fields = []
        for line in body.split(";"):
            line = " ".join(line.split())
            if not line:
                continue
            array = re.match(r"(.+?) (\w+)\[(\w+)\]$", line)
            if array:
                c_type, field, size = array.groups()
                length = int(size) if size.isdigit() else getattr(N, size)
                fields.append((field, ctypes.c_char * length if c_type == "char" else None))
            else:
                c_type, field = re.match(r"(.+?)(\w+)$", line).groups()
                fields.append((field, ctype_of(c_type)))
        structs[name] = fields
    return structs


@needs_header
def test_every_header_function_is_declared_exactly() -> None:
    functions = header_functions()
    assert len(functions) >= 50
    assert set(functions) == set(N._PROTOTYPES), "header and bindings differ"
    for name, (ret, args) in functions.items():
        my_ret, my_args = N._PROTOTYPES[name]
        assert same_ctype(my_ret, ret) or my_ret is ret, name
        assert len(my_args) == len(args), name
        for mine, theirs in zip(my_args, args):
            assert same_ctype(mine, theirs), f"{name}: {mine} != {theirs}"
        # ...and the loaded library has them installed.
        function = getattr(N.load(), name)
        assert function.restype is my_ret and list(function.argtypes) == my_args


@needs_header
def test_every_header_struct_is_mirrored_field_by_field() -> None:
    structs = header_structs()
    assert {"sa_sync_config", "sa_envelope_view", "sa_remote_op", "sa_apply_result",
            "sa_sync_state_info", "sa_tick_result", "sa_submitted", "sa_resolution",
            "sa_replay_report", "sa_str", "sa_bytes"} <= set(structs)
    for name, fields in structs.items():
        mine = getattr(N, name)._fields_
        assert [f for f, _ in mine] == [f for f, _ in fields], name
        for (field, my_type), (_, c_type) in zip(mine, fields):
            if hasattr(c_type, "_length_"):
                assert my_type._length_ == c_type._length_ and my_type._type_ is c_type._type_
            else:
                assert same_ctype(my_type, c_type), f"{name}.{field}"


@needs_header
def test_every_header_constant_matches() -> None:
    text = header_text()
    constants = dict(re.findall(r"#define (SA_\w+) (-?\d+)", text))
    # The C enums: every member of every `enum sa_x { ... }` block.
    enums_in_header = {
        name: dict((m, int(v)) for m, v in re.findall(r"(SA_\w+) = (-?\d+)", body))
        for name, body in re.findall(r"enum (sa_\w+)[^{;]*\{(.*?)\}", text, re.S)
    }
    assert set(enums_in_header) == {"sa_status", "sa_op_type", "sa_durability",
                                    "sa_conflict_policy", "sa_outbox_status", "sa_outcome",
                                    "sa_ack_outcome", "sa_reason"}
    for members in enums_in_header.values():
        constants.update(members)
    assert len(constants) > 40
    for name, value in constants.items():
        assert getattr(N, name) == int(value), name
    enums = [(sa.OpType, "SA_OP_", "sa_op_type"), (sa.Durability, "SA_", "sa_durability"),
             (sa.SyncStatus, "SA_STATUS_", "sa_outbox_status"), (sa.Outcome, "SA_", "sa_outcome"),
             (sa.AckOutcome, "SA_ACK_", "sa_ack_outcome"), (sa.Reason, "SA_REASON_", "sa_reason"),
             (sa.ConflictPolicy, "SA_POLICY_", "sa_conflict_policy")]
    for enum, prefix, c_enum in enums:
        # Exactly the header's members, with the header's numbers.
        assert {prefix + m.name: int(m) for m in enum} == enums_in_header[c_enum], c_enum
    assert {s.c_name: int(s) for s in sa.Status} == enums_in_header["sa_status"]


@needs_header
@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_struct_layouts_match_the_c_compiler(tmp_path: Path) -> None:
    lines = []
    for name in header_structs():
        struct = getattr(N, name)
        lines.append(f'printf("{name} sizeof %zu\\n", sizeof({name}));')
        for field, _ in struct._fields_:
            lines.append(f'printf("{name} {field} %zu\\n", offsetof({name}, {field}));')
    source = tmp_path / "layout.c"
    source.write_text(
        "#include <stddef.h>\n#include <stdio.h>\n#include <softadastra/sync.h>\n"
        "int main(void) {\n" + "\n".join(lines) + "\nreturn 0;\n}\n"
    )
    program = tmp_path / "layout"
    subprocess.run(
        ["cc", "-std=c11", f"-I{HEADER.parents[1]}", str(source), "-o", str(program)],  # type: ignore[union-attr]
        check=True,
    )
    output = subprocess.run([str(program)], check=True, capture_output=True, text=True).stdout
    for line in output.splitlines():
        name, what, value = line.split()
        struct = getattr(N, name)
        if what == "sizeof":
            assert ctypes.sizeof(struct) == int(value), name
        else:
            assert getattr(struct, what).offset == int(value), f"{name}.{what}"


# --- discovery --------------------------------------------------------------------------------


def fake_checkout(root: Path, crate: str = "softadastra-sync") -> Path:
    (root / "Cargo.toml").write_text(f'[package]\nname = "{crate}"\nversion = "0.1.0"\n')
    package = root / "bindings" / "python" / "softadastra_sync"
    package.mkdir(parents=True)
    return package


@pytest.fixture
def no_system_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither pkg-config nor the system's loader knows the library."""
    monkeypatch.setattr(N, "pkg_config_libdir", lambda: (None, "pkg-config is not installed"))
    monkeypatch.setattr(N.ctypes.util, "find_library", lambda name: None)


NO_SYSTEM_INSTALL = [
    "pkg-config softadastra-sync (pkg-config is not installed)",
    "ctypes.util.find_library('softadastra_sync') (not found)",
]


def test_env_var_is_the_explicit_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    library = tmp_path / "custom.so"
    library.write_bytes(b"")
    monkeypatch.setenv(N.ENV_VAR, str(library))
    assert N.find_library(tmp_path) == str(library)


def test_env_var_to_a_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nope.so"
    monkeypatch.setenv(N.ENV_VAR, str(missing))
    package = fake_checkout(tmp_path)
    with pytest.raises(sa.LibraryNotFoundError) as info:
        N.find_library(package)
    assert str(missing) in str(info.value)
    assert info.value.tried == [f"${N.ENV_VAR}={missing} (no such file)"]


@pytest.mark.usefixtures("no_system_install")
def test_error_names_every_place_tried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(N.ENV_VAR, raising=False)
    package = fake_checkout(tmp_path)
    name = N.library_file_name()
    with pytest.raises(sa.LibraryNotFoundError) as info:
        N.find_library(package)
    expected = [
        f"${N.ENV_VAR} (not set)",
        f"{package / name} (no such file)",
        f"{tmp_path / 'target' / 'release' / name} (no such file)",
        f"{tmp_path / 'target' / 'debug' / name} (no such file)",
        *NO_SYSTEM_INSTALL,
    ]
    assert info.value.tried == expected
    message = str(info.value)
    for place in expected:
        assert place in message
    assert "cargo build" in message
    assert isinstance(info.value, OSError)


def test_order_of_discovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(N.ENV_VAR, raising=False)
    package = fake_checkout(tmp_path)
    name = N.library_file_name()
    # A system install is the last resort, pkg-config's libdir before the loader's search.
    monkeypatch.setattr(N, "pkg_config_libdir", lambda: (None, "pkg-config is not installed"))
    monkeypatch.setattr(N.ctypes.util, "find_library", lambda lib: "libsoftadastra_sync.so.0")
    assert N.find_library(package) == "libsoftadastra_sync.so.0"
    libdir = tmp_path / "prefix" / "lib"
    libdir.mkdir(parents=True)
    monkeypatch.setattr(N, "pkg_config_libdir", lambda: (str(libdir), ""))
    assert N.find_library(package) == "libsoftadastra_sync.so.0"  # the .pc has no library
    (libdir / name).write_bytes(b"")
    assert N.find_library(package) == str(libdir / name)
    debug = tmp_path / "target" / "debug" / name
    release = tmp_path / "target" / "release" / name
    for path in (debug, release):
        path.parent.mkdir(parents=True)
    debug.write_bytes(b"")
    assert N.find_library(package) == str(debug)
    release.write_bytes(b"")
    assert N.find_library(package) == str(release)
    (package / name).write_bytes(b"")
    assert N.find_library(package) == str(package / name)
    explicit = tmp_path / "explicit.so"
    explicit.write_bytes(b"")
    monkeypatch.setenv(N.ENV_VAR, str(explicit))
    assert N.find_library(package) == str(explicit)


def test_system_places_are_not_searched_when_an_earlier_place_has_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(N.ENV_VAR, raising=False)
    package = fake_checkout(tmp_path)
    (package / N.library_file_name()).write_bytes(b"")

    def must_not_run(*args: object) -> None:
        raise AssertionError("a system search ran")

    monkeypatch.setattr(N, "pkg_config_libdir", must_not_run)
    monkeypatch.setattr(N.ctypes.util, "find_library", must_not_run)
    assert N.find_library(package) == str(package / N.library_file_name())
    monkeypatch.setenv(N.ENV_VAR, str(tmp_path / "missing.so"))
    with pytest.raises(sa.LibraryNotFoundError):
        N.find_library(package)  # an explicit path is the only place: no system search


@pytest.mark.skipif(shutil.which("pkg-config") is None, reason="no pkg-config")
def test_pkg_config_libdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PKG_CONFIG_LIBDIR", str(tmp_path))
    assert N.pkg_config_libdir() == (None, "no softadastra-sync.pc on the pkg-config search path")
    (tmp_path / "softadastra-sync.pc").write_text(
        "prefix=/opt/sa\nlibdir=${prefix}/lib64\n\nName: softadastra-sync\n"
        "Description: test\nVersion: 0.1.0\nLibs: -L${libdir} -lsoftadastra_sync\n"
    )
    assert N.pkg_config_libdir() == ("/opt/sa/lib64", "")
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    assert N.pkg_config_libdir() == (None, "pkg-config is not installed")


@pytest.mark.usefixtures("no_system_install")
def test_other_crates_are_not_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(N.ENV_VAR, raising=False)
    package = fake_checkout(tmp_path, crate="something-else")
    (tmp_path / "target" / "release").mkdir(parents=True)
    (tmp_path / "target" / "release" / N.library_file_name()).write_bytes(b"")
    with pytest.raises(sa.LibraryNotFoundError) as info:
        N.find_library(package)
    assert any("no Cargo.toml of softadastra-sync" in place for place in info.value.tried)


def test_the_real_checkout_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(N.ENV_VAR, raising=False)
    if (PYTHON_DIR / "softadastra_sync" / N.library_file_name()).exists():
        pytest.skip("a copy in the package directory takes precedence")
    if N.find_checkout(PYTHON_DIR) is None:
        pytest.skip("not in a source checkout")
    found = Path(N.find_library())
    assert found.parent.parent.name == "target"
    assert found.parent.name in ("release", "debug")


def run_python(code: str, env: Dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, env=env, cwd=cwd,
    )


def isolated_package(tmp_path: Path) -> Tuple[Path, Dict[str, str]]:
    """A copy of the package outside any checkout, and an environment importing it."""
    site = tmp_path / "site"
    shutil.copytree(
        PYTHON_DIR / "softadastra_sync", site / "softadastra_sync",
        ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.dylib", "*.dll"),
    )
    env = {k: v for k, v in os.environ.items() if k != N.ENV_VAR}
    env["PYTHONPATH"] = str(site)
    # pkg-config searches only this (empty) directory: no system install is found through it.
    (tmp_path / "pkgconfig").mkdir()
    env["PKG_CONFIG_LIBDIR"] = str(tmp_path / "pkgconfig")
    return site, env


def test_not_found_end_to_end(tmp_path: Path) -> None:
    site, env = isolated_package(tmp_path)
    result = run_python(
        """
        import softadastra_sync as sa          # importing never needs the library
        try:
            sa.Store.memory()
        except sa.LibraryNotFoundError as error:
            print(error)
            print(len(error.tried))
        """,
        env, tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "cannot find the shared library" in result.stdout
    assert f"${N.ENV_VAR} (not set)" in result.stdout
    assert str(site / "softadastra_sync" / N.library_file_name()) in result.stdout
    assert "no Cargo.toml of softadastra-sync" in result.stdout
    assert "no softadastra-sync.pc on the pkg-config search path" in result.stdout
    assert "ctypes.util.find_library('softadastra_sync')" in result.stdout
    assert result.stdout.strip().endswith("5")


def test_env_var_and_package_copy_end_to_end(tmp_path: Path) -> None:
    site, env = isolated_package(tmp_path)
    real = sa.library_path()
    code = """
        import softadastra_sync as sa
        with sa.Store.memory() as s, sa.SyncEngine(s, sa.SyncConfig.fast("n")) as e:
            e.submit_put("k", b"v")
        print(sa.library_path())
        """
    result = run_python(code, dict(env, **{N.ENV_VAR: real}), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == os.path.abspath(real)

    copy = site / "softadastra_sync" / N.library_file_name()
    shutil.copy(real, copy)
    result = run_python(code, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(copy)


@pytest.mark.skipif(shutil.which("pkg-config") is None, reason="no pkg-config")
def test_pkg_config_install_end_to_end(tmp_path: Path) -> None:
    """A package outside any checkout, without a copy, uses the library of a prefix that
    pkg-config knows (as scripts/install.sh lays it out)."""
    site, env = isolated_package(tmp_path)
    prefix = tmp_path / "prefix"
    (prefix / "lib").mkdir(parents=True)
    library = prefix / "lib" / N.library_file_name()
    shutil.copy(sa.library_path(), library)
    (tmp_path / "pkgconfig" / "softadastra-sync.pc").write_text(
        f"prefix={prefix}\nlibdir=${{prefix}}/lib\n\nName: softadastra-sync\n"
        "Description: test\nVersion: 0.1.0\nLibs: -L${libdir} -lsoftadastra_sync\n"
    )
    result = run_python(
        """
        import softadastra_sync as sa
        with sa.Store.memory() as s, sa.SyncEngine(s, sa.SyncConfig.fast("n")) as e:
            e.submit_put("k", b"v")
        print(sa.library_path())
        """,
        env, tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(library)


def test_not_a_library_end_to_end(tmp_path: Path) -> None:
    site, env = isolated_package(tmp_path)
    garbage = tmp_path / "garbage.so"
    garbage.write_bytes(b"not an ELF file")
    result = run_python(
        """
        import softadastra_sync as sa
        try:
            sa.library_version()
        except sa.LibraryNotFoundError as error:
            print(error)
        """,
        dict(env, **{N.ENV_VAR: str(garbage)}), tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert f"cannot load {garbage}" in result.stdout


def test_loaded_library_is_reported() -> None:
    path = sa.library_path()
    assert os.path.isfile(path)
    assert N.load() is N.load()
    assert N.load(path) is N.load()
    with pytest.raises(sa.LibraryNotFoundError, match="already loaded"):
        N.load("/somewhere/else.so")
