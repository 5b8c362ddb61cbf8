#!/usr/bin/env bash
# Runs every fuzz target, one after another, for SECONDS each (default 30).
# Exits 1 if any target crashed, failed an assertion, timed out or ran out of memory; 2 if the
# build failed or cargo-fuzz is missing. See fuzz/README.md.
#
#   fuzz/run-all.sh [SECONDS]
#
# Environment:
#   FUZZ_TARGETS  space-separated targets to run (default: all of `cargo fuzz list`)
#   FUZZ_ARGS     extra libFuzzer arguments, e.g. "-jobs=1 -dict=..." (default: none)
#   FUZZ_NICE     niceness of the build and the runs (default: 10, to share the machine)
set -u

seconds=${1:-30}
case $seconds in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2
  exit 2
fi

# cargo-fuzz passes -Z flags (the sanitizer) to rustc; RUSTC_BOOTSTRAP lets the stable
# toolchain accept them. Harmless on nightly.
export RUSTC_BOOTSTRAP=1
run=(nice -n "${FUZZ_NICE:-10}")

targets=${FUZZ_TARGETS:-$(cargo fuzz list --fuzz-dir fuzz)}
"${run[@]}" cargo fuzz build --fuzz-dir fuzz || exit 2

logs=fuzz/target/logs
mkdir -p "$logs"
failed=()
for target in $targets; do
  mkdir -p "fuzz/corpus/$target"
  corpora=("fuzz/corpus/$target")
  [ -d "fuzz/seeds/$target" ] && corpora+=("fuzz/seeds/$target")
  log="$logs/$target.log"
  echo "== $target: ${seconds}s (log: $log)"
  # New inputs go to fuzz/corpus/<target> (git-ignored); fuzz/seeds/<target> is only read.
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of arguments
  "${run[@]}" cargo fuzz run --fuzz-dir fuzz "$target" "${corpora[@]}" -- \
    -max_total_time="$seconds" ${FUZZ_ARGS:-} >"$log" 2>&1
  status=$?
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
  if [ "$status" -eq 0 ]; then
    echo "   ok: ${done_line:-"(no DONE line)"}"
  else
    failed+=("$target")
    echo "   FAILED (exit $status):"
    grep -E "panicked at|assertion|ERROR: libFuzzer|ERROR: AddressSanitizer|SUMMARY:|Test unit written to|^Failing input:|deadly signal|timeout|out-of-memory" "$log" \
      | head -n 20 | sed 's/^/   | /'
    echo "   full output: $log"
  fi
done

if [ "${#failed[@]}" -ne 0 ]; then
  echo "failed targets: ${failed[*]} (reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz <target> fuzz/artifacts/<target>/<crash-file>)"
  exit 1
fi
echo "all targets ran ${seconds}s without a failure"
