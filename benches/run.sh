#!/bin/sh
# The side-by-side load benchmark: weir vs nginx (and peers) on this machine.
# Usage: benches/run.sh [--quick] [--agreement] [--icount] [--peer NAME=CMD] ...
# See benches/suite.py --help and BENCHMARKS.md.
set -eu
cd "$(dirname "$0")/.."
# 10,000 idle connections need file descriptors on both sides.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec python3 benches/suite.py "$@"
