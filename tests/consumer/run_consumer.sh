#!/usr/bin/env bash
# Builds and runs tests/consumer/project against ember three ways: as a subproject, installed
# (pkg-config + ember-codegen on PATH), and header-only (the headers alone).
# usage: run_consumer.sh EMBER_SOURCE_DIR PKG_CONFIG_MODULES LINK_FLAGS
#   the last two: what header-only ember links (meson.build's ember_header_only_requires and
#   ember_header_only_libs), e.g. "fmt simdjson libsodium libcrypto libssl" "-lhttp_parser -pthread"
set -euo pipefail
# Runs a step quietly; shows its output only when it fails.
quiet() { "$@" >"$work/step.log" 2>&1 || { cat "$work/step.log"; echo "failed: $*"; exit 1; }; }
src=$(cd "$1" && pwd)
header_only_modules=$2
header_only_flags=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src/tests/consumer/project" "$work/sub"
mkdir -p "$work/sub/subprojects"
# A copy, not a link: Meson wants subprojects inside the project tree.
mkdir -p "$work/sub/subprojects/ember"
(cd "$src" && tar --exclude='./build*' --exclude='./.git' -cf - .) | tar -C "$work/sub/subprojects/ember" -xf -
# Every build here checks packaging, not speed: no optimisation, no debug information.
fast=(-Doptimization=0 -Ddebug=false)
echo "== as a subproject"
quiet meson setup "$work/sub/build" "$work/sub" "${fast[@]}"
# The program and what it links, not every library of the subproject (the gameplay modules':
# the main build compiles those, with the same meson.build).
quiet ninja -C "$work/sub/build" hello
"$work/sub/build/hello"

echo "== installed, through pkg-config"
quiet meson setup "$work/ember-build" "$src" --prefix "$work/prefix" -Dtests=false -Dexamples=false -Dtools=false \
  -Dmodules=[] \
  "${fast[@]}"
quiet meson install -C "$work/ember-build"
cp -r "$src/tests/consumer/project" "$work/inst"
export PKG_CONFIG_PATH="$work/prefix/lib/x86_64-linux-gnu/pkgconfig:$work/prefix/lib/pkgconfig:$work/prefix/share/pkgconfig"
export PATH="$work/prefix/bin:$PATH"
quiet meson setup "$work/inst/build" "$work/inst" -Duse_subproject=false "${fast[@]}"
quiet ninja -C "$work/inst/build"
"$work/inst/build/hello"
echo "== header-only: the headers alone, no libember, no EMBER_SEPARATE_COMPILATION"
# The generated files of the installed build's run, compiled with ember's include directory only.
gen=$(dirname "$(find "$work/inst/build" -name hello.hpp | head -n 1)")
quiet g++ -std=c++20 -DASIO_NO_DEPRECATED -I "$src/include" -I "$gen" \
  "$work/inst/main.cpp" "$gen/hello.cpp" -o "$work/hello-header-only" \
  $(pkg-config --cflags --libs $header_only_modules) $header_only_flags
"$work/hello-header-only"
echo "consumer project built and ran three ways"
