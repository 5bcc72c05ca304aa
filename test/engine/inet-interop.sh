#!/bin/bash
# Inet sockets between ckpt and CRIU 4.2, by hand (needs root and a built criu): progs/inet-socks (UDP bound and
# connected, TCP listeners on IPv4, IPv6 and v4-mapped, raw, ICMP, options) in a network namespace of its own is
# dumped by CRIU and restored by ckpt, then dumped by ckpt and restored by CRIU; after each restore the program
# checks its sockets (RESULT PASS). Then `crit x DIR sk` of both dumps (of the same program, ports unchanged).
# PROG=tcp-est OPTS=--tcp-established: established connections with data in flight instead (progs/tcp-est.c
# checks its streams once, so each direction gets a fresh program).
# Usage: CRIU=/path/to/criu [PROG=...] [OPTS=...] test/engine/inet-interop.sh [WORKDIR]   (under the engine tests' lock)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CRIU=${CRIU:-/tmp/criu-ref/criu-4.2/criu/criu}
CKPT="node $ROOT/packages/engine/bin/ckpt.js"
CRIT="node $ROOT/packages/crit/bin/crit.js"
D=${1:-$(mktemp -d /tmp/inet-interop-XXXXXX)}
mkdir -p "$D" && cd "$D" && rm -rf criu-dump ckpt-dump out.log && mkdir criu-dump ckpt-dump
PROG=${PROG:-inet-socks}
OPTS=${OPTS:-}
gcc -O1 -o $PROG "$ROOT/test/engine/progs/$PROG.c" || exit 1
unshare -n sleep 1000 & H=$!
trap 'kill -9 ${P:-} 2>/dev/null; kill $H' EXIT
for i in $(seq 50); do nsenter --net=/proc/$H/ns/net true 2>/dev/null && break; sleep 0.1; done
NS="nsenter --net=/proc/$H/ns/net"
$NS ip link set lo up
gone() { for i in $(seq 100); do [ -e /proc/$1 ] || return 0; sleep 0.1; done; echo "pid $1 is still there"; exit 1; }
result() { : > out.log; kill -USR1 $1; sleep 1.5; grep RESULT out.log | tail -1; }
start() {
	bash -c 'setsid "$@" </dev/null >>out.log 2>&1 &' bash $NS "$D/$PROG"
	sleep 1
	P=$(grep -o 'READY pid=[0-9]*' out.log | tail -1 | cut -d= -f2)
	echo "program $P"
}
start
$NS $CRIU dump -t $P -D criu-dump $OPTS -v4 -o dump.log || { echo "criu dump failed"; exit 1; }
gone $P
$NS $CKPT restore -D criu-dump $OPTS -d -v4 -o restore.log || { echo "ckpt restore failed"; exit 1; }
echo "criu dump, ckpt restore: $(result $P)"
if [ "$PROG" != inet-socks ]; then kill -9 $P; gone $P; start; fi
$NS $CKPT dump -t $P -D ckpt-dump $OPTS -v4 -o dump.log || { echo "ckpt dump failed"; exit 1; }
gone $P
$NS $CRIU restore -D ckpt-dump $OPTS -d -v4 -o restore.log || { echo "criu restore failed"; exit 1; }
echo "ckpt dump, criu restore: $(result $P)"
echo "--- crit x criu-dump sk"; $CRIT x criu-dump sk
echo "--- crit x ckpt-dump sk"; $CRIT x ckpt-dump sk
