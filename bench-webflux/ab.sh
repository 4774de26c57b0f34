#!/usr/bin/env bash
# Interleaved A/B of two modes of Sluice's WebFlux end-to-end benchmark, scenario a) only (GET /item/<id>
# at CONCURRENCY connections, no tenant): ROUNDS rounds, each starting a fresh service for A and for B,
# in the order A B, then B A, and so on, so that a machine that speeds up or slows down during the run
# weighs on both sides alike. Per service: requests/s, wrk's p99, and what each request cost the service
# in CPU time and context switches (from /proc, over the measured window only).
#
#   ./bench-webflux/ab.sh                               # sluice against r2dbc-pool, 3 rounds, about 3 minutes
#   A=sluice B=hikari ROUNDS=2 ./bench-webflux/ab.sh
#
# Settings (environment): A (sluice), B (r2dbc-pool), ROUNDS (3), WARMUP (s, 15), DURATION (s, 15),
# CONCURRENCY (32), THREADS (wrk threads, 2), PORT (18081), HEAP (-Xmx512m). The service's own settings go
# after the command, as for run.sh. Builds the jar when it is missing. Sends traffic to 127.0.0.1 only.
set -euo pipefail

cd "$(dirname "$0")/.."

A=${A:-sluice}
B=${B:-r2dbc-pool}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-15}
DURATION=${DURATION:-15}
CONCURRENCY=${CONCURRENCY:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18081}
HEAP=${HEAP:--Xmx512m}
JAR=bench-webflux/target/sluice-bench-webflux.jar
SCRIPT=bench-webflux/wrk/requests.lua
BASE=http://127.0.0.1:$PORT
SERVICE_ARGS=("$@")

die() { printf '[ab] %s\n' "$*" >&2; exit 1; }
for tool in java curl wrk; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing$([[ $tool == wrk ]] && echo ' (Debian: apt-get install -y wrk)')"
done
for mode in "$A" "$B"; do
  case $mode in
    sluice | r2dbc-pool | hikari) ;;
    *) die "'$mode' names no mode; allowed values: sluice, r2dbc-pool, hikari" ;;
  esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS is '$ROUNDS'; it must be a whole number of at least 1"
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  die "something already listens on 127.0.0.1:$PORT; stop it or set PORT"
fi
if [[ ! -f $JAR ]]; then
  ./mvnw -q -pl bench-webflux -am package -DskipTests
fi

SERVER_PID=
trap '[[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null; true' EXIT
TICKS=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { print s + 0 }'; }
field() { sed -n "s/.*[ ]$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

measure() {
  local mode=$1 log
  log=$(mktemp)
  java "$HEAP" -jar "$JAR" --mode="$mode" --server.port="$PORT" "${SERVICE_ARGS[@]}" >"$log" 2>&1 &
  SERVER_PID=$!
  local waited=0
  until curl -sf -o /dev/null "$BASE/item/1"; do
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$log" >&2; die "$mode: the service stopped (log: $log)"; }
    ((waited++ < 600)) || die "$mode: no answer within 60 s (log: $log)"
    sleep 0.1
  done
  wrk -t"$THREADS" -c"$CONCURRENCY" -d"${WARMUP}s" -s "$SCRIPT" "$BASE" -- /item/ >/dev/null
  local cpu0 ctx0 result cpu1 ctx1 requests
  cpu0=$(cpu_ticks "$SERVER_PID")
  ctx0=$(switches "$SERVER_PID")
  result=$(wrk -t"$THREADS" -c"$CONCURRENCY" -d"${DURATION}s" --latency -s "$SCRIPT" "$BASE" -- /item/ | grep '^RESULT ')
  cpu1=$(cpu_ticks "$SERVER_PID")
  ctx1=$(switches "$SERVER_PID")
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  rm -f "$log"
  requests=$(field requests "$result")
  awk -v mode="$mode" -v n="$requests" -v s="$(field seconds "$result")" -v p99="$(field p99_us "$result")" \
    -v cpu=$((cpu1 - cpu0)) -v ticks="$TICKS" -v ctx=$((ctx1 - ctx0)) -v bad="$(field non2xx "$result")" \
    'BEGIN { printf "| %s | %.0f | %.1f | %.0f | %.2f | %d |\n", mode, n / s, p99 / 1000, cpu * 1e6 / ticks / n, ctx / n, bad }'
}

echo "A/B, interleaved: $A and $B, $ROUNDS rounds; GET /item/<id> at $CONCURRENCY connections; ${WARMUP} s warm-up, ${DURATION} s measured"
echo
echo "| mode | requests/s | p99 ms | service CPU µs/request | context switches/request | non-2xx |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for ((round = 1; round <= ROUNDS; round++)); do
  if ((round % 2)); then measure "$A"; measure "$B"; else measure "$B"; measure "$A"; fi
done
