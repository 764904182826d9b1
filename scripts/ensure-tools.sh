#!/usr/bin/env bash
# Installs the system tools the tests use when they are missing (Debian packages).
set -euo pipefail
missing=()
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
# The JetStream tests run servers (Debian installs it in /usr/sbin).
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
if ! command -v python3 >/dev/null 2>&1; then
  missing+=(python3 python3-pip python3-venv)
else
  python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
  # The wheel test makes a virtualenv; Debian ships what `python3 -m venv` needs (ensurepip)
  # apart, so try making one.
  venv_check=$(mktemp -d)
  python3 -m venv "$venv_check/venv" >/dev/null 2>&1 || missing+=(python3-venv)
  rm -rf "$venv_check"
fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! python3 -c "import pytest" >/dev/null 2>&1; then
  python3 -m pip install --quiet pytest || python3 -m pip install --quiet --break-system-packages pytest
fi
if command -v rustup >/dev/null 2>&1; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
