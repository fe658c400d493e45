#!/usr/bin/env bash
# Fails when a LeakSanitizer report in the log $1 has a frame of Strata's
# library targets among the first frames of its allocation stack (where the
# leaked block was allocated). Leaks allocated by the toolchain (XCTest keeps
# its test-case objects in a retain cycle, Foundation keeps weak-reference
# side tables) do not count. Pattern $2 overrides the library modules.
set -euo pipefail
log=$1
modules=${2:-'\$s(10StrataCore|10StrataData|8StrataNN|8StrataIO|14StrataTraining|6Strata)[0-9A-Z]'}
awk -v mods="$modules" -v depth=10 '
  /(Direct|Indirect) leak of/ { header = $0; frame = 0; inleak = 1; next }
  inleak && /^ *#[0-9]+ / { frame++; if (frame <= depth && $0 ~ mods) { print header; print; bad++; inleak = 0 }; next }
  inleak && !/^ *#/ { inleak = 0 }
  END { if (bad) { print bad " leak(s) allocated by Strata'"'"'s library"; exit 1 } }
' "$log"
