# tsbs-lib.sh — what tsbs-compare.sh and tsbs-million.sh share; sourced,
# not run. tsbs_setup NAME makes the work directory (/tmp/tsbs-NAME.*),
# kills the servers listed in pids and removes it on exit (KEEP=1 keeps
# it), and builds soltix from this checkout unless SOLTIX names a binary.

tsbs_setup() { # name
	repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	work=$(mktemp -d "/tmp/tsbs-$1.XXXXXX")
	pids=()
	trap tsbs_cleanup EXIT
	if [ -z "${SOLTIX:-}" ]; then
		SOLTIX=$work/soltix
		(cd "$repo" && go build -o "$SOLTIX" ./cmd/soltix)
	fi
}

tsbs_cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "${KEEP:-0}" != 1 ]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() { # url: waits up to 30 s for a 2xx answer
	for _ in $(seq 1 300); do
		if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "no answer from $1" >&2
	return 1
}

cpu_ticks() { # pid: user + system CPU time so far, in clock ticks
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

wait_idle() { # pid...: waits (up to 120 s) until each used under 5% of a core over a second
	local waited=0 busy p
	declare -A last
	for p in "$@"; do last[$p]=$(cpu_ticks "$p"); done
	while [ "$waited" -lt 120 ]; do
		sleep 1
		waited=$((waited + 1))
		busy=0
		for p in "$@"; do
			local now
			now=$(cpu_ticks "$p")
			if [ $((now - last[$p])) -ge $(($(getconf CLK_TCK) / 20)) ]; then busy=1; fi
			last[$p]=$now
		done
		if [ "$busy" = 0 ]; then
			echo "# servers idle after ${waited} s" >&2
			return 0
		fi
	done
	echo "# servers still busy after ${waited} s; querying anyway" >&2
}
