#!/usr/bin/env bash
# tsbs-compare.sh — Soltix and VictoriaMetrics side by side, in one run, on
# TSBS's cpu-only data: both loaded with TSBS's own tsbs_load_influx, queried
# with TSBS's own runners (tsbs_run_queries_influx against Soltix's InfluxQL
# endpoint, tsbs_run_queries_victoriametrics against VictoriaMetrics), the
# same query types over the same random hosts and windows (one seed), and a
# Markdown table of median latencies. docs/benchmarks.md ("TSBS side by
# side") says how to get the programs; nothing of theirs is in this
# repository.
#
#   BENCHBIN=/path/to/bin deploy/bench/tsbs-compare.sh
#
# BENCHBIN holds tsbs_generate_data, tsbs_generate_queries, tsbs_load_influx,
# tsbs_run_queries_influx, tsbs_run_queries_victoriametrics and
# victoria-metrics. Settings (environment): SOLTIX (the soltix binary;
# default: built from this checkout), SCALE (hosts, 100), START and END
# (the data's day), QUERIES (per type, 100), BURN_IN (queries of each type
# run first and not counted, 0: TSBS's --burn-in, for both systems alike),
# LOAD_WORKERS (2), TYPES, SEED,
# COMPACT=1 to compact Soltix's files after the flush (the queries then read
# the files a past day ends up in), KEEP=1 to keep the work directory. Everything listens on random loopback
# ports and writes under a temporary directory.
set -euo pipefail

: "${BENCHBIN:?set BENCHBIN to the directory holding the TSBS programs and victoria-metrics (docs/benchmarks.md)}"
SCALE=${SCALE:-100}
START=${START:-2016-01-01T00:00:00Z}
END=${END:-2016-01-02T00:00:00Z}
QUERIES=${QUERIES:-100}
BURN_IN=${BURN_IN:-0}
LOAD_WORKERS=${LOAD_WORKERS:-2}
SEED=${SEED:-123}
TYPES=${TYPES:-"single-groupby-1-1-1 single-groupby-1-1-12 single-groupby-1-8-1 single-groupby-5-1-1 single-groupby-5-1-12 single-groupby-5-8-1 cpu-max-all-1 cpu-max-all-8 double-groupby-1 double-groupby-5 double-groupby-all high-cpu-1 high-cpu-all groupby-orderby-limit lastpoint"}

. "$(dirname "$0")/tsbs-lib.sh"
tsbs_setup compare

echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)" >&2
echo "# data: TSBS cpu-only, scale $SCALE, $START to $END, 10 s, seed $SEED" >&2
"$BENCHBIN/tsbs_generate_data" --use-case=cpu-only --seed="$SEED" --scale="$SCALE" \
	--timestamp-start="$START" --timestamp-end="$END" --log-interval=10s --format=influx >"$work/data.influx"

sport=$(free_port)
"$SOLTIX" serve --listen "127.0.0.1:$sport" --data-dir "$work/soltix-data" >"$work/soltix.log" 2>&1 &
pids+=($!)
vport=$(free_port)
"$BENCHBIN/victoria-metrics" -httpListenAddr="127.0.0.1:$vport" -storageDataPath="$work/vm-data" \
	-retentionPeriod=100y -search.disableCache >"$work/vm.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$sport/health"
wait_http "http://127.0.0.1:$vport/health"

load() { # name url extra-flags...
	local name=$1 url=$2
	shift 2
	"$BENCHBIN/tsbs_load_influx" --urls="$url" --file="$work/data.influx" --workers="$LOAD_WORKERS" \
		--batch-size=10000 --db-name=benchmark "$@" >"$work/load-$name.txt" 2>&1
	grep -E 'loaded [0-9]+ metrics' "$work/load-$name.txt" | tail -1 | sed "s/^/# $name: /" >&2
}
load soltix "http://127.0.0.1:$sport"
load victoriametrics "http://127.0.0.1:$vport" --do-create-db=false

# Both move what they hold in memory to disk before the queries.
curl -fsS -X POST "http://127.0.0.1:$sport/api/v1/admin/flush" >/dev/null
if [ "${COMPACT:-0}" = 1 ]; then
	curl -fsS -X POST "http://127.0.0.1:$sport/api/v1/admin/compact" >/dev/null
fi
curl -fsS "http://127.0.0.1:$vport/internal/force_flush" >/dev/null || true
# Queries start once both servers are idle (VictoriaMetrics merges its
# parts, Soltix rolls up, for seconds after a load): background work of
# either would otherwise land in the other's latencies.
sleep 5
wait_idle "${pids[@]}"

median() { # runner output: the med of its one query type, in ms
	awk '/med:/ { for (i = 1; i <= NF; i++) if ($i == "med:") { v = $(i+1); sub(/ms,?$/, "", v); print v; exit } }' "$1"
}

printf '| type | Soltix med (ms) | VictoriaMetrics med (ms) | ratio |\n|---|---|---|---|\n'
for type in $TYPES; do
	gen() { # format
		"$BENCHBIN/tsbs_generate_queries" --use-case=cpu-only --seed="$SEED" --scale="$SCALE" \
			--timestamp-start="$START" --timestamp-end="$END" --queries="$((QUERIES + BURN_IN))" \
			--query-type="$type" --format="$1" >"$work/q-$type.$1" 2>"$work/q-$type.$1.err"
	}
	s="–" v="–" ratio="–"
	if gen influx; then
		if "$BENCHBIN/tsbs_run_queries_influx" --urls="http://127.0.0.1:$sport" --db-name=benchmark \
			--file="$work/q-$type.influx" --workers=1 --print-interval=0 --burn-in="$BURN_IN" --max-queries="$((QUERIES + BURN_IN))" >"$work/run-soltix-$type.txt" 2>&1; then
			s=$(median "$work/run-soltix-$type.txt")
		else
			s="error"
		fi
	fi
	if gen victoriametrics; then
		if "$BENCHBIN/tsbs_run_queries_victoriametrics" --urls="http://127.0.0.1:$vport" \
			--file="$work/q-$type.victoriametrics" --workers=1 --print-interval=0 --burn-in="$BURN_IN" --max-queries="$((QUERIES + BURN_IN))" >"$work/run-vm-$type.txt" 2>&1; then
			v=$(median "$work/run-vm-$type.txt")
		else
			v="error"
		fi
	fi
	if [[ $s =~ ^[0-9.]+$ && $v =~ ^[0-9.]+$ ]]; then
		ratio=$(awk -v a="$s" -v b="$v" 'BEGIN { printf "%.2f", a / b }')
	fi
	printf '| %s | %s | %s | %s |\n' "$type" "$s" "$v" "$ratio"
done
