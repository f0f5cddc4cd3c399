#!/usr/bin/env bash
# Shell-level test of the icewarn tool: the output and exit status an operator relies on,
# for a value, the seed 002 header (typographic quotes), stdin, and bad input.
set -u
bin=${1:?usage: test_icewarn.sh PATH_TO_ICEWARN}
fails=0
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$out"; echo "--- stderr"; cat "$err"; fails=$((fails + 1)); }

# run EXPECTED_STATUS ARGS... (stdin from $stdin_data when set)
run() {
	local want=$1; shift
	if [ -n "${stdin_data+x}" ]; then
		printf '%s' "$stdin_data" | "$bin" "$@" >"$out" 2>"$err"
	else
		"$bin" "$@" </dev/null >"$out" 2>"$err"
	fi
	local rc=$?
	[ "$rc" -eq "$want" ] || fail "icewarn $* exited $rc, want $want"
}
has() { grep -qF -- "$1" "$out" || fail "stdout lacks: $1"; }
has_err() { grep -qF -- "$1" "$err" || fail "stderr lacks: $1"; }
flag_lines() { grep -cE '^  0x[0-9a-f]+ ' "$out"; }

# 0x320: exactly the three flags of seed 002, each with meaning and action
run 0 0x320
has "ICEWarn=0x320 (800): 3 flags set"
has "0x20       LOCAL_CONNECTIVITY_FAILED"
has "0x100      TCP_NAT_FAILED"
has "0x200      TCP_TURN_FAILED"
has "TCP TURN server connectivity failed."
[ "$(grep -c 'Action:' "$out")" -eq 3 ] || fail "0x320: want 3 actions"
[ "$(flag_lines)" -eq 3 ] || fail "0x320: want 3 flag lines"
[ -s "$err" ] && fail "0x320: unexpected stderr"

# decimal and short forms agree
run 0 --short 800
[ "$(cat "$out")" = "0x320 = LOCAL_CONNECTIVITY_FAILED|TCP_NAT_FAILED|TCP_TURN_FAILED" ] ||
	fail "--short 800"
run 0 -s 320h
has "0x320 = LOCAL_CONNECTIVITY_FAILED|TCP_NAT_FAILED|TCP_TURN_FAILED"

# unknown bits are reported, not dropped
run 0 0x820
has "0x800      UNKNOWN"
[ "$(flag_lines)" -eq 2 ] || fail "0x820: want 2 flag lines"

# seed 002's header, byte for byte, with its typographic quotes
seed002=$(printf 'ms-client-diagnostics: 24; reason=\342\200\234Call failed to establish due to a media connectivity failure when both endpoints are remote\342\200\235;CallerMediaDebug=\342\200\235application-sharing:ICEWarn=0x320,,,RemoteSite=,PortRange=50040:50049,LocalMRTCPPort=57498,LocalLocation=1,RemoteLocation=1,FederationType=0\342\200\263')
run 0 --header "$seed002"
has "ms-client-diagnostics 24: Call failed to establish due to a media connectivity failure when both endpoints are remote"
has "CallerMediaDebug application-sharing: ICEWarn=0x320 (800): 3 flags set"
[ "$(flag_lines)" -eq 3 ] || fail "header: want 3 flag lines"

# stdin: grep output from a log, two media in one header, several lines
stdin_data="2026-11-22 10:00:01 INFO $seed002
ms-client-diagnostics: 23; reason=\"x\";CallerMediaDebug=\"audio:ICEWarn=0x4000,a=b|video:ICEWarn=0x1\"

"
run 0 --short -
unset stdin_data
[ "$(wc -l <"$out")" -eq 3 ] || fail "stdin: want 3 lines"
has "24 CallerMediaDebug application-sharing: 0x320 = LOCAL_CONNECTIVITY_FAILED|TCP_NAT_FAILED|TCP_TURN_FAILED"
has "23 CallerMediaDebug audio: 0x4000 = TURN_CREDENTIALS"
has "23 CallerMediaDebug video: 0x1 = TURN_UNREACHABLE"

# bad input: exit 2 and a clear message on stderr, nothing decoded
run 2 zz;                 has_err "'zz': not a number"
run 2 0x;                 has_err "no digits"
run 2 0x100000000;        has_err "does not fit in 32 bits"
run 2 -5;                 has_err "negative value"
run 2;                    has_err "usage:"
run 2 --bogus;            has_err "unknown option"
run 2 --header;           has_err "needs an argument"
run 2 --header "foo: 24"; has_err "not an ms-client-diagnostics header"
run 2 --header "${seed002%???}"; has_err "header truncated"
stdin_data=""
run 2 -;                  has_err "no header on stdin"
stdin_data="24;CallerMediaDebug=\"audio:ICEWarn=0xzz\""
run 2 -;                  has_err "stdin line 1: not a number"
stdin_data="$(head -c 9000 /dev/zero | tr '\0' a)"
run 2 -;                  has_err "header too long"
unset stdin_data
# one bad value does not hide the good ones
run 2 0x20 zz
has "LOCAL_CONNECTIVITY_FAILED"

run 0 --version;          has "icewarn "
run 0 --help;             has "usage: icewarn"
run 0 --list
[ "$(flag_lines)" -eq 28 ] || fail "--list: want 28 lines (0x0 and 27 flags)"

if [ "$fails" -ne 0 ]; then
	echo "$fails failure(s)"
	exit 1
fi
echo "all icewarn checks passed"
