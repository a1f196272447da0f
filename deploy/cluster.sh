#!/usr/bin/env bash
# deploy/cluster.sh: a Soltix cluster on one machine, for trying it out.
#
#   deploy/cluster.sh start  [DIR]   start etcd, three storage nodes and a router
#   deploy/cluster.sh stop   [DIR]   stop them cleanly (router, storage nodes, etcd)
#   deploy/cluster.sh status [DIR]   say what runs; exit 0 when everything does, 3 otherwise
#
# Everything lives under DIR (default ./soltix-cluster): soltix.yaml (the
# config every soltix process reads), etcd/ and s1/ s2/ s3/ (data), one
# NAME.log and NAME.pid per process. Every process listens on 127.0.0.1.
# Environment (defaults in brackets):
#   SOLTIX_BIN      the soltix binary [soltix on PATH, else ./soltix]
#   ETCD_BIN        the etcd binary [/usr/bin/etcd, else etcd on PATH]
#   ETCD_PORT       etcd's client port [22379]
#   ETCD_PEER_PORT  etcd's peer port [22380]
#   STORAGE_PORTS   the storage nodes' ports, one node each ["27001 27002 27003"]
#   ROUTER_PORT     the router's port: the database's URL [25050]
#   NUM_GROUPS      cluster.num_groups of a new cluster [16]
#   WAIT_SECONDS    how long start and stop wait for each step [60]
set -euo pipefail

ETCD_PORT=${ETCD_PORT:-22379}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-22380}
STORAGE_PORTS=${STORAGE_PORTS:-27001 27002 27003}
ROUTER_PORT=${ROUTER_PORT:-25050}
NUM_GROUPS=${NUM_GROUPS:-16}
WAIT_SECONDS=${WAIT_SECONDS:-60}

usage() {
	sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
cmd=$1
DIR=${2:-./soltix-cluster}

die() {
	echo "cluster.sh: $*" >&2
	exit 1
}

find_bins() {
	if [ -z "${SOLTIX_BIN:-}" ]; then
		if command -v soltix >/dev/null 2>&1; then
			SOLTIX_BIN=$(command -v soltix)
		elif [ -x ./soltix ]; then
			SOLTIX_BIN=./soltix
		else
			die "no soltix binary: build it (make build) or set SOLTIX_BIN"
		fi
	fi
	if [ -z "${ETCD_BIN:-}" ]; then
		if [ -x /usr/bin/etcd ]; then
			ETCD_BIN=/usr/bin/etcd
		elif command -v etcd >/dev/null 2>&1; then
			ETCD_BIN=$(command -v etcd)
		else
			die "no etcd binary: apt-get install etcd-server (Debian) or set ETCD_BIN"
		fi
	fi
	command -v curl >/dev/null 2>&1 || die "curl is needed to wait for readiness"
}

# names lists the processes in start order.
names() {
	echo etcd
	local i=1
	for _ in $STORAGE_PORTS; do
		echo "s$i"
		i=$((i + 1))
	done
	echo router
}

# alive PID succeeds while the process runs (a zombie waiting for its
# parent to reap it has exited).
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	local state
	state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 0
	[ "$state" != Z ]
}

# pid_of NAME prints the pid of NAME when it runs: its pid file names a
# live process whose command line mentions DIR (not a recycled pid).
pid_of() {
	local f="$DIR/$1.pid" pid
	[ -f "$f" ] || return 1
	pid=$(cat "$f")
	[ -n "$pid" ] && alive "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$ABS" || return 1
	echo "$pid"
}

# wait_url URL WHAT waits until URL answers 200.
wait_url() {
	local deadline=$((SECONDS + WAIT_SECONDS))
	until curl -sf -o /dev/null "$1"; do
		if [ $SECONDS -ge $deadline ]; then
			die "$2 did not answer $1 within ${WAIT_SECONDS}s (logs in $DIR)"
		fi
		sleep 0.2
	done
}

# launch NAME ARGS... runs a process in the background with its log and
# pid file.
launch() {
	local name=$1
	shift
	nohup "$@" >"$DIR/$name.log" 2>&1 </dev/null &
	echo $! >"$DIR/$name.pid"
}

start() {
	find_bins
	local name running=""
	for name in $(names); do
		if pid_of "$name" >/dev/null; then
			running="$running $name"
		fi
	done
	[ -z "$running" ] || die "already running in $DIR:$running (stop it first)"
	cat >"$DIR/soltix.yaml" <<YAML
# Written by deploy/cluster.sh; read by every soltix process of the cluster.
cluster:
  etcd: [http://127.0.0.1:$ETCD_PORT]
  name: soltix
  num_groups: $NUM_GROUPS
  min_nodes: $(names | grep -c '^s')
YAML
	local state=new
	[ -d "$DIR/etcd/member" ] && state=existing
	launch etcd "$ETCD_BIN" --name soltix-etcd --data-dir "$ABS/etcd" \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster "soltix-etcd=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state "$state"
	wait_url "http://127.0.0.1:$ETCD_PORT/health" etcd
	echo "etcd      http://127.0.0.1:$ETCD_PORT"
	local i=1 port
	for port in $STORAGE_PORTS; do
		launch "s$i" "$SOLTIX_BIN" storage --node-id "s$i" --listen "127.0.0.1:$port" \
			--data-dir "$ABS/s$i" --config "$ABS/soltix.yaml"
		i=$((i + 1))
	done
	launch router "$SOLTIX_BIN" router --listen "127.0.0.1:$ROUTER_PORT" --config "$ABS/soltix.yaml"
	i=1
	for port in $STORAGE_PORTS; do
		wait_url "http://127.0.0.1:$port/ready" "storage node s$i"
		echo "storage   s$i http://127.0.0.1:$port (data in $ABS/s$i)"
		i=$((i + 1))
	done
	wait_url "http://127.0.0.1:$ROUTER_PORT/ready" router
	# Every group placed on a node that is up.
	local deadline=$((SECONDS + WAIT_SECONDS)) ok
	while :; do
		ok=$(curl -sf "http://127.0.0.1:$ROUTER_PORT/api/v1/cluster" | grep -o '"state":"ok"' | wc -l || true)
		[ "$ok" -ge "$NUM_GROUPS" ] && break
		[ $SECONDS -lt $deadline ] || die "the router does not see all $NUM_GROUPS groups ok within ${WAIT_SECONDS}s (logs in $DIR)"
		sleep 0.2
	done
	echo "router    http://127.0.0.1:$ROUTER_PORT (the database: write and query here)"
}

# stop_one NAME sends SIGTERM and waits for the process to exit.
stop_one() {
	local pid
	pid=$(pid_of "$1") || {
		rm -f "$DIR/$1.pid"
		return 0
	}
	kill -TERM "$pid"
	local deadline=$((SECONDS + WAIT_SECONDS))
	while alive "$pid"; do
		if [ $SECONDS -ge $deadline ]; then
			kill -KILL "$pid" 2>/dev/null || true
			echo "cluster.sh: $1 (pid $pid) did not stop within ${WAIT_SECONDS}s; killed" >&2
			FAILED=1
			break
		fi
		sleep 0.1
	done
	rm -f "$DIR/$1.pid"
	echo "stopped   $1"
}

stop() {
	FAILED=0
	# The router first, the storage nodes next (they leave the cluster in
	# etcd as they stop), etcd last.
	stop_one router
	local name
	for name in $(names | grep '^s'); do
		stop_one "$name"
	done
	stop_one etcd
	return $FAILED
}

status() {
	local name pid all=0
	for name in $(names); do
		if pid=$(pid_of "$name"); then
			printf '%-9s running (pid %s)\n' "$name" "$pid"
		else
			printf '%-9s stopped\n' "$name"
			all=3
		fi
	done
	if [ $all -eq 0 ]; then
		curl -sf "http://127.0.0.1:$ROUTER_PORT/api/v1/cluster" && echo || true
	fi
	return $all
}

case $cmd in
start)
	mkdir -p "$DIR"
	ABS=$(cd "$DIR" && pwd)
	start
	;;
stop | status)
	[ -d "$DIR" ] || die "no cluster in $DIR"
	ABS=$(cd "$DIR" && pwd)
	$cmd
	;;
*) usage ;;
esac
