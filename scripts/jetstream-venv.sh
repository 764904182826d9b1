#!/usr/bin/env bash
# Makes (once) the virtualenv the Python tests run in: the system's packages (pytest) plus the
# package's `jetstream` extra (nats-py, from PyPI), read from bindings/python/pyproject.toml.
# A virtualenv, because Debian's python3 refuses pip installs into the system (PEP 668).
# Prints the virtualenv's python.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${CARGO_TARGET_DIR:-target}/jetstream-venv"
if ! "$venv/bin/python" -c "import nats" >/dev/null 2>&1; then
  rm -rf "$venv"
  python3 -m venv --system-site-packages "$venv" >&2
  requirements=$(python3 - <<'PY'
import tomllib
with open("bindings/python/pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["optional-dependencies"]["jetstream"]))
PY
)
  # shellcheck disable=SC2086
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $requirements >&2
fi
echo "$PWD/$venv/bin/python"
