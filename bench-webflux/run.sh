#!/usr/bin/env bash
# Sluice's WebFlux end-to-end benchmark: the same Spring WebFlux service (bench-webflux) on Sluice, on
# r2dbc-pool and on JDBC with HikariCP (boundedElastic), 10 connections each, one query per request on
# PostgreSQL at 127.0.0.1:5432 (database test, user postgres), driven by wrk in other processes.
#
# For each mode: start the service in its own JVM, wait until it answers, warm up, then measure
#   a) fixed concurrency: GET /item/<id> at CONCURRENCY connections, no tenant;
#   b) tenant flood: tenant noisy on GET /slow/<id> (20 ms of server wait each) at NOISY_CONCURRENCY
#      connections, and, half a second later and for DURATION seconds while the flood goes on, tenant quiet
#      on GET /item/<id> at QUIET_CONCURRENCY connections;
# stop the service; at the end print one markdown table per scenario, every mode in it.
#
#   ./bench-webflux/run.sh                       # the full run, about 3 minutes
#   DURATION=3 WARMUP=2 ./bench-webflux/run.sh   # a quick trial (numbers mean nothing)
#
# Settings (environment): DURATION (s, each measurement, default 20), WARMUP (s, default 10),
# MODES (default "sluice r2dbc-pool hikari"), PORT (18080), THREADS (wrk threads, 2), CONCURRENCY (32),
# NOISY_CONCURRENCY (64), QUIET_CONCURRENCY (8), WRK_TIMEOUT (10s), HEAP (-Xmx512m),
# REBUILD=1 (build the jar even if it is there), OUT (where logs and results go), JFR=1 (record each service
# with Java Flight Recorder's profile settings into OUT/<mode>.jfr; it costs the service a few per cent).
# The service's own settings can be passed as arguments to this script (e.g. --bench.acquire-timeout=2s).
# Needs: a JDK 17+, curl, and wrk (Debian: apt-get install -y wrk). Sends traffic to 127.0.0.1 only.
set -euo pipefail

cd "$(dirname "$0")/.."

DURATION=${DURATION:-20}
WARMUP=${WARMUP:-10}
MODES=${MODES:-"sluice r2dbc-pool hikari"}
PORT=${PORT:-18080}
THREADS=${THREADS:-2}
CONCURRENCY=${CONCURRENCY:-32}
NOISY_CONCURRENCY=${NOISY_CONCURRENCY:-64}
QUIET_CONCURRENCY=${QUIET_CONCURRENCY:-8}
WRK_TIMEOUT=${WRK_TIMEOUT:-10s}
HEAP=${HEAP:--Xmx512m}
JAR=bench-webflux/target/sluice-bench-webflux.jar
SCRIPT=bench-webflux/wrk/requests.lua
BASE=http://127.0.0.1:$PORT
OUT=${OUT:-bench-webflux/target/run-$(date +%Y%m%d-%H%M%S)}
SERVICE_ARGS=("$@")

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

for tool in java curl wrk; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing$([[ $tool == wrk ]] && echo ' (Debian: apt-get install -y wrk)')"
done
for mode in $MODES; do
  case $mode in
    sluice | r2dbc-pool | hikari) ;;
    *) die "MODES has '$mode', which names no mode; allowed values: sluice, r2dbc-pool, hikari" ;;
  esac
done
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  die "something already listens on 127.0.0.1:$PORT; stop it or set PORT"
fi

if [[ ! -f $JAR || ${REBUILD:-0} == 1 ]]; then
  log "building $JAR"
  ./mvnw -q -pl bench-webflux -am package -DskipTests
fi
mkdir -p "$OUT"
RESULTS=$OUT/results.txt
: >"$RESULTS"

SERVER_PID=
WRK_PIDS=()
cleanup() {
  local pid
  for pid in "${WRK_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

start_server() {
  local mode=$1 log_file=$OUT/$1-server.log
  log "$mode: starting the service ($HEAP, port $PORT; log: $log_file)"
  local jvm=("$HEAP")
  if [[ ${JFR:-0} == 1 ]]; then
    jvm+=("-XX:StartFlightRecording=filename=$OUT/$mode.jfr,settings=profile")
  fi
  java "${jvm[@]}" -jar "$JAR" --mode="$mode" --server.port="$PORT" "${SERVICE_ARGS[@]}" >"$log_file" 2>&1 &
  SERVER_PID=$!
  local waited=0
  until curl -sf -o /dev/null "$BASE/item/1"; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      wait "$SERVER_PID" 2>/dev/null || true
      SERVER_PID=
      tail -n 30 "$log_file" >&2
      die "$mode: the service stopped before it answered (see $log_file)"
    fi
    ((waited++ < 600)) || die "$mode: the service did not answer $BASE/item/1 within 60 s (see $log_file)"
    sleep 0.1
  done
}

stop_server() {
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# wrk with the Lua script: run_wrk <output file> <connections> <seconds> <path prefix> [tenant]
run_wrk() {
  local file=$1 connections=$2 seconds=$3
  shift 3
  wrk -t"$THREADS" -c"$connections" -d"${seconds}s" --timeout "$WRK_TIMEOUT" --latency -s "$SCRIPT" "$BASE" -- "$@" >"$file"
}

# The RESULT line of a wrk output, as "key=value ..." after a label, and any more key=value pairs:
# record <scenario> <mode> <role> <file> [key=value ...]
record() {
  local line
  line=$(grep '^RESULT ' "$4") || die "no RESULT line in $4"
  echo "$1 $2 $3 ${line#RESULT } ${*:5}" >>"$RESULTS"
}

# CPU time in clock ticks: of one process (cpu_ticks <pid>), and of every PostgreSQL process (pg_ticks).
cpu_ticks() {
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}
pg_ticks() {
  local total=0 pid
  for pid in $(pgrep -x postgres || true); do
    total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
TICKS=$(getconf CLK_TCK)

pool_state() {
  echo "$1: $(curl -s "$BASE/pool")" >>"$OUT/$2-pool.txt"
}

for mode in $MODES; do
  start_server "$mode"

  log "$mode: warm-up, ${WARMUP} s of GET /item at $CONCURRENCY connections"
  run_wrk "$OUT/$mode-warmup.txt" "$CONCURRENCY" "$WARMUP" /item/
  pool_state "after warm-up" "$mode"

  log "$mode: a) fixed concurrency, ${DURATION} s of GET /item at $CONCURRENCY connections"
  service_before=$(cpu_ticks "$SERVER_PID")
  pg_before=$(pg_ticks)
  run_wrk "$OUT/$mode-fixed.txt" "$CONCURRENCY" "$DURATION" /item/
  record fixed "$mode" all "$OUT/$mode-fixed.txt" \
    "service_cpu_ms=$((($(cpu_ticks "$SERVER_PID") - service_before) * 1000 / TICKS))" \
    "pg_cpu_ms=$((($(pg_ticks) - pg_before) * 1000 / TICKS))"
  pool_state "after a) fixed concurrency" "$mode"

  log "$mode: b) tenant flood, noisy on GET /slow at $NOISY_CONCURRENCY connections, quiet on GET /item at $QUIET_CONCURRENCY for ${DURATION} s"
  run_wrk "$OUT/$mode-flood-noisy.txt" "$NOISY_CONCURRENCY" $((DURATION + 1)) /slow/ noisy &
  WRK_PIDS=($!)
  sleep 0.5 # the flood is on before the quiet tenant's measurement starts, and lasts past its end
  run_wrk "$OUT/$mode-flood-quiet.txt" "$QUIET_CONCURRENCY" "$DURATION" /item/ quiet
  pool_state "at the end of b) tenant flood" "$mode"
  wait "${WRK_PIDS[0]}"
  WRK_PIDS=()
  record flood "$mode" quiet "$OUT/$mode-flood-quiet.txt"
  record flood "$mode" noisy "$OUT/$mode-flood-noisy.txt"

  stop_server
done

# --- The report: one table per scenario, each mode against Sluice.
java_version=$(java -version 2>&1 | head -n 1)
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
pg_version=$(psql -h 127.0.0.1 -U postgres -d test -tAc 'SHOW server_version' 2>/dev/null || echo '?')
wrk_version=$(wrk --version 2>&1 | head -n 1 | awk '{print $2}' || true)

echo
echo "Machine: ${cpu:-?}, $(nproc) cores, $(uname -sr); $java_version; PostgreSQL $pg_version; wrk $wrk_version;"
echo "service, PostgreSQL and wrk on the same machine. wrk -t$THREADS, ${WARMUP} s warm-up, ${DURATION} s per measurement."
echo "Logs and raw results: $OUT"

awk -v concurrency="$CONCURRENCY" -v noisy_c="$NOISY_CONCURRENCY" -v quiet_c="$QUIET_CONCURRENCY" '
  function field(line, key,    n, parts, i, kv) {
    n = split(line, parts, " ")
    for (i = 4; i <= n; i++) {
      split(parts[i], kv, "=")
      if (kv[1] == key) return kv[2] + 0
    }
    return 0
  }
  function ratio(value, reference) {
    return reference > 0 ? sprintf("%.2f", value / reference) : "n/a"
  }
  {
    key = $1 "/" $2 "/" $3
    ok = field($0, "requests") - field($0, "non2xx")
    rps[key] = ok / field($0, "seconds")
    p50[key] = field($0, "p50_us") / 1000
    p99[key] = field($0, "p99_us") / 1000
    non2xx[key] = field($0, "non2xx")
    socket[key] = field($0, "connect") + field($0, "read") + field($0, "write")
    timeouts[key] = field($0, "timeouts")
    service_cpu[key] = ok > 0 ? field($0, "service_cpu_ms") * 1000 / field($0, "requests") : 0
    pg_cpu[key] = ok > 0 ? field($0, "pg_cpu_ms") * 1000 / field($0, "requests") : 0
    if (!($2 in seen)) { seen[$2] = 1; modes[++count] = $2 }
  }
  END {
    print ""
    printf "a) Fixed concurrency: GET /item/<id>, %d connections, no tenant\n\n", concurrency
    print "| pool | requests/s (2xx) | p50 ms | p99 ms | non-2xx | socket errors / timeouts | service CPU µs/request | PostgreSQL CPU µs/request | requests/s ÷ Sluice | p99 ÷ Sluice |"
    print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    s = "fixed/sluice/all"
    for (i = 1; i <= count; i++) {
      k = "fixed/" modes[i] "/all"
      if (!(k in rps)) continue
      printf "| %s | %.0f | %.2f | %.2f | %d | %d / %d | %.0f | %.0f | %s | %s |\n", modes[i], rps[k], p50[k], p99[k],
        non2xx[k], socket[k], timeouts[k], service_cpu[k], pg_cpu[k], ratio(rps[k], rps[s]), ratio(p99[k], p99[s])
    }
    print ""
    printf "b) Tenant flood: noisy on GET /slow/<id> (20 ms each) at %d connections, quiet on GET /item/<id> at %d\n\n", noisy_c, quiet_c
    print "| pool | quiet requests/s (2xx) | quiet p50 ms | quiet p99 ms | quiet non-2xx | quiet socket errors / timeouts | noisy requests/s (2xx) | noisy non-2xx | quiet requests/s ÷ Sluice | quiet p99 ÷ Sluice |"
    print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    s = "flood/sluice/quiet"
    for (i = 1; i <= count; i++) {
      q = "flood/" modes[i] "/quiet"
      n = "flood/" modes[i] "/noisy"
      if (!(q in rps)) continue
      printf "| %s | %.0f | %.2f | %.2f | %d | %d / %d | %.0f | %d | %s | %s |\n", modes[i], rps[q], p50[q], p99[q],
        non2xx[q], socket[q], timeouts[q], rps[n], non2xx[n], ratio(rps[q], rps[s]), ratio(p99[q], p99[s])
    }
    print ""
    print "requests/s counts 2xx answers only; p50 and p99 are wrk'\''s, over every answer (503s included)."
    print "A ratio above 1 in requests/s, or below 1 in p99, is a peer doing better than Sluice."
    print "CPU per request: the service JVM'\''s, and all PostgreSQL processes'\'', user and system time over a), from /proc."
  }
' "$RESULTS"

echo
echo "Pool state after each scenario (GET /pool):"
for mode in $MODES; do
  sed "s/^/  $mode, /" "$OUT/$mode-pool.txt"
done
