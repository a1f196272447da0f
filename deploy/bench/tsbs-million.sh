#!/usr/bin/env bash
# tsbs-million.sh — the million-series load of issue 17, Soltix and
# VictoriaMetrics side by side on one TSBS cpu-only file: 100,000 hosts (ten
# fields each: 1 M field series), 3 minutes at 10 s (1.8 M lines, 18 M
# values), loaded by TSBS's own tsbs_load_influx into each server in turn
# (one server running at a time, so they do not compete for memory or
# cores). For each it reports the load's rate, the server's peak RSS
# (VmHWM), the time of a flush to disk after the load, a count over every
# series and a one-host query. docs/benchmarks-million.md ("A million series side
# by side") says how to get the programs; nothing of theirs is in this
# repository.
#
#   BENCHBIN=/path/to/bin deploy/bench/tsbs-million.sh
#
# BENCHBIN holds tsbs_generate_data, tsbs_load_influx and victoria-metrics.
# Settings (environment): SOLTIX (the soltix binary; default: built from
# this checkout), SOLTIX_CONFIG (a YAML file for soltix serve --config),
# SCALE (hosts, 100000), START and END (3 minutes), LOAD_WORKERS (2),
# BATCH (lines per request, 10000), FILE (a data file generated before with
# these settings: skips the generation), SYSTEMS ("soltix victoriametrics";
# "soltix-base" adds the soltix binary SOLTIX_BASE, with SOLTIX_BASE_CONFIG,
# to compare two builds in one run), KEEP=1 to keep the work directory.
# The TSBS loader gives up at the first refused write: give both a long
# storage.write_stall_timeout so that back-pressure slows the load instead.
set -euo pipefail

: "${BENCHBIN:?set BENCHBIN to the directory holding the TSBS programs and victoria-metrics (docs/benchmarks.md)}"
SCALE=${SCALE:-100000}
START=${START:-2016-01-01T00:00:00Z}
END=${END:-2016-01-01T00:03:00Z}
LOAD_WORKERS=${LOAD_WORKERS:-2}
BATCH=${BATCH:-10000}
SEED=${SEED:-123}
SYSTEMS=${SYSTEMS:-"soltix victoriametrics"}

. "$(dirname "$0")/tsbs-lib.sh"
tsbs_setup million

hwm() { # pid: peak RSS in MiB
	awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"
}

seconds() { # command...: wall seconds it took
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}

echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
if [ -z "${FILE:-}" ]; then
	FILE=$work/data.influx
	echo "# data: TSBS cpu-only, scale $SCALE, $START to $END, 10 s, seed $SEED" >&2
	"$BENCHBIN/tsbs_generate_data" --use-case=cpu-only --seed="$SEED" --scale="$SCALE" \
		--timestamp-start="$START" --timestamp-end="$END" --log-interval=10s --format=influx >"$FILE"
fi
echo "# file: $FILE, $(wc -l <"$FILE") lines" >&2

load() { # name url extra-flags...: prints the loader's mean rate (values/s)
	local name=$1 url=$2
	shift 2
	"$BENCHBIN/tsbs_load_influx" --urls="$url" --file="$FILE" --workers="$LOAD_WORKERS" \
		--batch-size="$BATCH" --db-name=benchmark "$@" >"$work/load-$name.txt" 2>&1
	grep -E 'loaded [0-9]+ metrics' "$work/load-$name.txt" | tail -1 | sed "s/^/# $name: /" >&2
	grep -E 'loaded [0-9]+ metrics' "$work/load-$name.txt" | tail -1 |
		awk '{ for (i = 1; i <= NF; i++) if ($i == "rate") { v = $(i+1); sub(/\/sec.*/, "", v); printf "%.0f", v } }'
}

host=host_4242
from=$(date -u -d "$START" +%s)
to=$(date -u -d "$END" +%s)
declare -A rate rss flush count one
for sys in $SYSTEMS; do
	port=$(free_port)
	case $sys in
	soltix | soltix-base)
		bin=$SOLTIX config=${SOLTIX_CONFIG:-}
		if [ "$sys" = soltix-base ]; then
			bin=${SOLTIX_BASE:?set SOLTIX_BASE for soltix-base} config=${SOLTIX_BASE_CONFIG:-}
		fi
		args=(serve --listen "127.0.0.1:$port" --data-dir "$work/$sys-data")
		if [ -n "$config" ]; then args+=(--config "$config"); fi
		"$bin" "${args[@]}" >"$work/$sys.log" 2>&1 &
		;;
	victoriametrics)
		"$BENCHBIN/victoria-metrics" -httpListenAddr="127.0.0.1:$port" -storageDataPath="$work/vm-data" \
			-retentionPeriod=100y -search.disableCache >"$work/vm.log" 2>&1 &
		;;
	*)
		echo "unknown system $sys" >&2
		exit 2
		;;
	esac
	pid=$!
	pids+=("$pid")
	wait_http "http://127.0.0.1:$port/health"
	url="http://127.0.0.1:$port"
	if [ "$sys" != victoriametrics ]; then
		rate[$sys]=$(load "$sys" "$url")
		flush[$sys]=$(seconds curl -fsS -X POST "$url/api/v1/admin/flush")
		count[$sys]=$(seconds curl -fsS "$url/query" --data-urlencode db=benchmark \
			--data-urlencode "q=SELECT count(usage_user) FROM cpu")
		one[$sys]=$(seconds curl -fsS "$url/query" --data-urlencode db=benchmark \
			--data-urlencode "q=SELECT max(usage_user) FROM cpu WHERE hostname = '$host' AND time >= '$START' AND time < '$END' GROUP BY time(1m)")
		curl -fsS "$url/query" --data-urlencode db=benchmark --data-urlencode "q=SELECT count(usage_user) FROM cpu" >"$work/count-$sys.json"
	else
		rate[$sys]=$(load "$sys" "$url" --do-create-db=false)
		flush[$sys]=$(seconds curl -fsS "$url/internal/force_flush")
		count[$sys]=$(seconds curl -fsS "$url/api/v1/query" --data-urlencode "query=sum(count_over_time(cpu_usage_user[1h]))" \
			--data-urlencode "time=$to")
		one[$sys]=$(seconds curl -fsS "$url/api/v1/query_range" --data-urlencode "query=max_over_time(cpu_usage_user{hostname=\"$host\"}[1m])" \
			--data-urlencode "start=$from" --data-urlencode "end=$to" --data-urlencode step=60)
		curl -fsS "$url/api/v1/query" --data-urlencode "query=sum(count_over_time(cpu_usage_user[1h]))" \
			--data-urlencode "time=$to" >"$work/count-$sys.json"
	fi
	rss[$sys]=$(hwm "$pid")
	echo "# $sys count: $(head -c 300 "$work/count-$sys.json")" >&2
	echo "# $sys: ${rate[$sys]} values/s, peak RSS ${rss[$sys]} MiB, flush ${flush[$sys]} s, count ${count[$sys]} s, one host ${one[$sys]} s, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	rm -rf "$work/$sys-data" "$work/vm-data"
done

printf '| | %s |\n|---|%s\n' "$(echo $SYSTEMS | sed 's/ / | /g')" "$(for _ in $SYSTEMS; do printf -- '---|'; done)"
row() { # label array
	local label=$1
	local -n arr=$2
	printf '| %s |' "$label"
	for sys in $SYSTEMS; do printf ' %s |' "${arr[$sys]}"; done
	printf '\n'
}
row "ingest, values/s" rate
row "peak RSS, MiB" rss
row "flush after the load, s" flush
row "count over every series, s" count
row "one host, 3 min by 1 min, s" one
