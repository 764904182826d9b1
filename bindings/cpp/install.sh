#!/usr/bin/env bash
# Installs the header-only C++ wrapper and the CMake package files under PREFIX (default
# /usr/local), next to the C library that scripts/install.sh PREFIX installs:
#   PREFIX/include/softadastra/core/Core.hpp
#   PREFIX/include/softadastra/store/Store.hpp
#   PREFIX/include/softadastra/sync/Sync.hpp
#   PREFIX/include/softadastra/sync/Wire.hpp
#   PREFIX/lib/cmake/softadastra_sync/softadastra_syncConfig.cmake
#   PREFIX/lib/cmake/softadastra_sync/softadastra_syncConfigVersion.cmake
# Then a CMake project can find_package(softadastra_sync) and link
# softadastra_sync::softadastra_sync (CMAKE_PREFIX_PATH=PREFIX if PREFIX is not a default).
set -euo pipefail
prefix="${1:-/usr/local}"
cd "$(dirname "$0")"
(cd include && find softadastra -type f -name '*.hpp' | sort) | while read -r header; do
  install -D -m 0644 "include/$header" "$prefix/include/$header"
done
cmake_dir="$prefix/lib/cmake/softadastra_sync"
install -d "$cmake_dir"
install -m 0644 cmake/softadastra_syncConfig.cmake cmake/softadastra_syncConfigVersion.cmake "$cmake_dir/"
if [ ! -f "$prefix/include/softadastra/sync.h" ]; then
  echo "note: $prefix/include/softadastra/sync.h is missing; install the library with scripts/install.sh $prefix" >&2
fi
echo "installed the softadastra-sync C++ wrapper and CMake package under $prefix"
