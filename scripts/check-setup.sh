#!/usr/bin/env bash
# Regression test of the install itself (run by scripts/test.sh, so CI runs it): from a Python
# that has none of the tools (a fresh venv first on PATH) and a project venv that does not exist
# yet, `scripts/setup.sh base` must install the Python tools, and they must run from there.
# Then the end-of-setup check must fail, naming the program, when scripts/tools.list names one
# that is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "check-setup: $*" >&2; exit 1; }

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

python3 -m venv "$scratch/bare-python"
export PATH="$scratch/bare-python/bin:$PATH"
export VOUCH_VENV="$scratch/project-venv"
python_tools=(lint_pkix_cert lint_pkix_signer_signee_cert_chain lint_crl sslyze schemathesis)

# The starting point really is bare: nothing of ours in the Python first on PATH.
for tool in "${python_tools[@]}"; do
  [ ! -e "$scratch/bare-python/bin/$tool" ] || fail "the bare Python already has $tool"
done
[ "$(command -v python3)" = "$scratch/bare-python/bin/python3" ] || fail "the bare Python is not first on PATH"

scripts/setup.sh base

for tool in "${python_tools[@]}"; do
  [ -x "$VOUCH_VENV/bin/$tool" ] || fail "setup.sh base did not install $tool into $VOUCH_VENV"
  "$VOUCH_VENV/bin/$tool" --help >/dev/null 2>&1 || fail "$tool is installed but does not run"
done
echo "check-setup: setup.sh base installed and runs: ${python_tools[*]}"

# A program the list names but nobody installed makes setup fail, and the message names it.
cp scripts/tools.list "$scratch/tools.list"
echo "base  vouch-no-such-program   check-setup.sh's negative control" >>"$scratch/tools.list"
if VOUCH_TOOLS_LIST="$scratch/tools.list" scripts/setup.sh base >"$scratch/out" 2>&1; then
  fail "setup.sh passed although vouch-no-such-program is missing"
fi
grep -q "missing after setup (base): vouch-no-such-program" "$scratch/out" \
  || fail "setup.sh failed without naming the missing program: $(tail -3 "$scratch/out")"
echo "check-setup: a missing program fails setup by name"
