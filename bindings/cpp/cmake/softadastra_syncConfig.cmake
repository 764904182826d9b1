# CMake package configuration of softadastra-sync (the C library and its header-only C++
# wrapper), installed as PREFIX/lib/cmake/softadastra_sync/softadastra_syncConfig.cmake by
# bindings/cpp/install.sh, next to the library installed by scripts/install.sh:
#
#   find_package(softadastra_sync 0.1 REQUIRED)
#   target_link_libraries(app PRIVATE softadastra_sync::softadastra_sync)
#
# Imported targets:
#   softadastra_sync::softadastra_sync         the shared library (libsoftadastra_sync.so), with
#                                              PREFIX/include for <softadastra/sync.h> and the
#                                              C++ headers (<softadastra/sync/Sync.hpp>, ...);
#                                              C++ users get C++17 (the wrapper needs it).
#   softadastra_sync::softadastra_sync_static  the static library (libsoftadastra_sync.a) with
#                                              the system libraries it needs.
# Variables: softadastra_sync_VERSION, softadastra_sync_INCLUDE_DIRS, softadastra_sync_LIBRARIES.

get_filename_component(_sa_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
set(_sa_include_dir "${_sa_prefix}/include")
set(_sa_lib_dir "${_sa_prefix}/lib")
set(_sa_header "${_sa_include_dir}/softadastra/sync.h")
set(_sa_shared "${_sa_lib_dir}/libsoftadastra_sync.so")
set(_sa_static "${_sa_lib_dir}/libsoftadastra_sync.a")

set(_sa_missing "")
foreach(_sa_file "${_sa_header}" "${_sa_include_dir}/softadastra/sync/Sync.hpp" "${_sa_shared}")
  if(NOT EXISTS "${_sa_file}")
    list(APPEND _sa_missing "${_sa_file}")
  endif()
endforeach()
if(_sa_missing)
  set(softadastra_sync_FOUND FALSE)
  set(softadastra_sync_NOT_FOUND_MESSAGE
      "softadastra_sync: missing ${_sa_missing} (install the library with scripts/install.sh PREFIX and the C++ wrapper with bindings/cpp/install.sh PREFIX)")
  return()
endif()

# The library's version, from the installed C header (SA_SYNC_VERSION_*).
file(STRINGS "${_sa_header}" _sa_version_lines REGEX "^#define SA_SYNC_VERSION_(MAJOR|MINOR|PATCH) ")
foreach(_sa_part MAJOR MINOR PATCH)
  string(REGEX MATCH "SA_SYNC_VERSION_${_sa_part} ([0-9]+)" _sa_match "${_sa_version_lines}")
  set(_sa_${_sa_part} "${CMAKE_MATCH_1}")
endforeach()

if(NOT TARGET softadastra_sync::softadastra_sync)
  add_library(softadastra_sync::softadastra_sync SHARED IMPORTED)
  set_target_properties(softadastra_sync::softadastra_sync PROPERTIES
    IMPORTED_LOCATION "${_sa_shared}"
    IMPORTED_SONAME "libsoftadastra_sync.so.${_sa_MAJOR}"
    INTERFACE_INCLUDE_DIRECTORIES "${_sa_include_dir}")
  # The C++ wrapper is C++17; request it only when the project enables C++ (C-only projects use
  # the same target for <softadastra/sync.h>).
  get_property(_sa_languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  list(FIND _sa_languages CXX _sa_cxx_index)
  if(NOT _sa_cxx_index EQUAL -1)
    set_property(TARGET softadastra_sync::softadastra_sync PROPERTY
      INTERFACE_COMPILE_FEATURES cxx_std_17)
  endif()
endif()

if(EXISTS "${_sa_static}" AND NOT TARGET softadastra_sync::softadastra_sync_static)
  add_library(softadastra_sync::softadastra_sync_static STATIC IMPORTED)
  set_target_properties(softadastra_sync::softadastra_sync_static PROPERTIES
    IMPORTED_LOCATION "${_sa_static}"
    IMPORTED_LINK_INTERFACE_LANGUAGES "C"
    INTERFACE_INCLUDE_DIRECTORIES "${_sa_include_dir}"
    INTERFACE_LINK_LIBRARIES "gcc_s;util;rt;pthread;m;dl")
endif()

set(softadastra_sync_INCLUDE_DIRS "${_sa_include_dir}")
set(softadastra_sync_LIBRARIES softadastra_sync::softadastra_sync)
set(softadastra_sync_FOUND TRUE)

unset(_sa_prefix)
unset(_sa_include_dir)
unset(_sa_lib_dir)
unset(_sa_header)
unset(_sa_shared)
unset(_sa_static)
unset(_sa_missing)
unset(_sa_file)
unset(_sa_version_lines)
unset(_sa_part)
unset(_sa_match)
unset(_sa_MAJOR)
unset(_sa_MINOR)
unset(_sa_PATCH)
unset(_sa_languages)
unset(_sa_cxx_index)
