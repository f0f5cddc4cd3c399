#!/usr/bin/env bash
# icegw's two entry points: `./run.sh demo` runs the main job on its built-in default,
# `./run.sh test` runs the whole test suite. Both install what they need first.
set -euo pipefail
cd "$(dirname "$0")"
cmd=${1:-demo}
shift || true

build() { # dir, meson options...
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; exit 1; }
	fi
	ninja -C "$dir" >"$dir.ninja.log" 2>&1 || { cat "$dir.ninja.log"; exit 1; }
}

case "$cmd" in
demo)
	scripts/install-deps.sh build
	build build
	exec scripts/demo.sh "$@"
	;;
test)
	scripts/install-deps.sh test
	exec scripts/test-all.sh "$@"
	;;
*)
	echo "usage: ./run.sh demo|test" >&2
	exit 2
	;;
esac
