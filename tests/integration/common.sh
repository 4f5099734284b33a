# Sourced by the integration scripts (not a test itself: CMakeLists.txt leaves it out):
#   . "$(dirname "$0")/common.sh" NAME
# sets X (the xfer binary), R (the reference fixtures), T (a fresh scratch folder
# $XF_TMP/NAME), the pass/fail counters with ok and bad, and check_err_of.
set -u
X=${XF_BIN:-build/xfer}
R=${XF_REF:-tests/ref}
T=${XF_TMP:-/tmp}/$1
rm -rf "$T"
mkdir -p "$T"
fail=0 pass=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# check_err_of SUB WANT_RC WANT ARGS...: `xfer SUB ARGS` must exit WANT_RC (any: any
# non-zero status) with exactly one line on stderr, and that line must contain WANT.
check_err_of() {
  local sub=$1 want_rc=$2 want=$3; shift 3
  "$X" "$sub" "$@" >"$T/out" 2>"$T/err"
  local rc=$? lines
  lines=$(wc -l <"$T/err")
  if [ "$rc" -eq 0 ]; then bad "$sub $* exited 0"; return; fi
  if [ "$want_rc" != any ] && [ "$rc" -ne "$want_rc" ]; then bad "$sub $*: exit $rc, want $want_rc"; fi
  if [ "$lines" -ne 1 ]; then bad "$sub $*: $lines stderr lines: $(cat "$T/err")"; return; fi
  if ! grep -qF -- "$want" "$T/err"; then bad "$sub $*: message lacks '$want': $(cat "$T/err")"; return; fi
  ok
}
