#!/usr/bin/env bash
# icegw read from a configuration file: NG answered on the file's listen-ng with the file's
# interface, a command-line option overriding the file, and broken files refused with
# file:line and exit 64. Runs on a net_ring port (no NIC, no hugepages); 77 when not built.
set -u
bin=${1:-}
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
	echo "SKIP: icegw not built"
	exit 77
fi
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
dir=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; [ -f "$dir/err" ] && { echo "--- stderr"; cat "$dir/err"; }; fails=$((fails + 1)); }

eal=(-l 0 --no-huge --no-pci --no-shconf -m 256 --log-level=lib.eal:error
     --vdev net_ring0 --file-prefix "icegw-cfg-$$")

# a free UDP port on 127.0.0.1 for NG
ngport=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# ng_ask PORT MESSAGE: send one NG datagram, print the reply (empty after 0.5 s x tries)
ng_ask() {
	python3 - "$1" "$2" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
for _ in range(20):
    s.sendto(sys.argv[2].encode(), ("127.0.0.1", int(sys.argv[1])))
    try:
        print(s.recv(65535).decode()); break
    except socket.timeout:
        time.sleep(0.2)
PY
}

# 1. a good file: NG on its listen-ng, SDP rewritten to its advertised address and port range
cat >"$dir/good.conf" <<CONF
# icegw test configuration
[rtpengine]
listen-ng = 127.0.0.1:$ngport
interface = pub/203.0.113.1!198.51.100.77
port-min = 41000
port-max = 41099
max-sessions = 10
log-level = info
CONF
"$bin" "${eal[@]}" -- --config-file "$dir/good.conf" --max-legs 64 --quiet >"$dir/out" 2>"$dir/err" &
pid=$!
reply=$(ng_ask "$ngport" "1_1 d7:command4:pinge")
[ "$reply" = "1_1 d6:result4:ponge" ] || fail "ping on the file's listen-ng: got '$reply'"
sdp=$'v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n'
msg="1_2 d7:call-id2:c17:command5:offer8:from-tag1:f3:sdp${#sdp}:${sdp}e"
reply=$(ng_ask "$ngport" "$msg")
case "$reply" in
*"c=IN IP4 198.51.100.77"*"m=audio 410"[0-9][0-9]" "*) ;;
*) fail "offer: want the advertised address and a port in 41000-41099, got '$reply'" ;;
esac
kill "$pid"; wait "$pid" 2>/dev/null; pid=

# 2. the command line overrides the file
ngport2=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" "${eal[@]}" -- --config-file "$dir/good.conf" --ng "127.0.0.1:$ngport2" \
	--advertise 192.0.2.99 --max-legs 64 --quiet >"$dir/out" 2>"$dir/err" &
pid=$!
reply=$(ng_ask "$ngport2" "$msg")
case "$reply" in
*"c=IN IP4 192.0.2.99"*) ;;
*) fail "--ng/--advertise over the file: got '$reply'" ;;
esac
kill "$pid"; wait "$pid" 2>/dev/null; pid=

# 3. broken files: refused before any port is opened, with file:line, exit 64
# refuse NAME LINE TEXT EXPECTED_MESSAGE
refuse() {
	printf '%s\n' "$3" >"$dir/$1.conf"
	"$bin" "${eal[@]}" -- --config-file "$dir/$1.conf" --quiet >"$dir/out" 2>"$dir/err"
	local rc=$?
	[ "$rc" -eq 64 ] || fail "$1: exit $rc, want 64"
	grep -qF -- "$dir/$1.conf:$2: $4" "$dir/err" || fail "$1: stderr lacks '$dir/$1.conf:$2: $4'"
}
refuse badport 3 "[icegw]
interface = 203.0.113.1
port-min = 70000" 'port-min: expected a port 1..65535, got "70000"'
refuse badkey 4 "# comment

listen-ng = 127.0.0.1:$ngport
max-session = 5" 'unknown key "max-session"'
refuse badiface 2 "[icegw]
interface = 203.0.113.500" 'interface: bad local address "203.0.113.500"'
refuse syntax 2 "[icegw]
port-min 30000" 'expected key = value'
# cross-key checks name the file
printf '[icegw]\ninterface = 203.0.113.1\nport-min = 500\nport-max = 600\n' >"$dir/low.conf"
"$bin" "${eal[@]}" -- --config-file "$dir/low.conf" --quiet >"$dir/out" 2>"$dir/err"
rc=$?
[ "$rc" -eq 64 ] && grep -qF "$dir/low.conf: port range 500-600" "$dir/err" || fail "low ports: exit $rc"
"$bin" "${eal[@]}" -- --config-file "$dir/absent.conf" --quiet >"$dir/out" 2>"$dir/err"
rc=$?
[ "$rc" -eq 64 ] && grep -qF "$dir/absent.conf: No such file" "$dir/err" || fail "absent file: exit $rc"

[ "$fails" -eq 0 ] && echo "config file: ok"
exit $((fails > 0))
