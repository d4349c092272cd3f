# tests/lib.sh: what the shell tests share. Sourced first thing as
#     . "$(dirname "$0")/lib.sh" "$@"
# it sets mb (the mbench binary, $1) and src (the source dir, $2), a scratch directory tmp
# removed on exit, MBENCH_RESULTS=$tmp/results (not created: a test may check that nothing
# made it), the counters n and fails, and the helpers below.
set -u
mb=$1
src=${2:-}
fails=0; n=0
tmp=$(mktemp -d)
export MBENCH_RESULTS=$tmp/results
trap 'rm -rf "$tmp"' EXIT

# fail WHAT: one failure, said on stdout
fail() { echo "FAIL: $*"; fails=$((fails+1)); }

# check 'CONDITION' 'WHAT': one test; CONDITION is evaluated, WHAT said if it is false
check() { n=$((n+1)); if ! eval "$1"; then fail "$2"; fi; }

# expect STATUS PATTERN ARGS...: one test; mbench ARGS exits with STATUS and prints PATTERN
# (an extended regexp, any case) on stdout or stderr
expect() {
  local want=$1 pat=$2 got st; shift 2
  n=$((n+1))
  got=$("$mb" "$@" 2>&1); st=$?
  if [ "$st" -ne "$want" ] || ! grep -qiE -- "$pat" <<<"$got"; then
    fail "mbench $* -> status $st (want $want, pattern $pat), output:"; head -8 <<<"$got"
  fi
}

# finish: the summary line; the test's exit status
finish() { echo "$((n-fails)) passed, $fails failed"; [ "$fails" -eq 0 ]; }
