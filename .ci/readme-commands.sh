#!/usr/bin/env bash
# Runs the commands README.md prints, as printed, so none can rot (issue 14).
# The commands are read from README.md itself (.ci/readme-commands.mjs); the
# only additions are environment variables (a temporary DATA_DIR, the
# DATABASE_URL / AUTH_HS256_SECRET / PAGE_TOKEN_SECRET the README leaves as
# "…", FUZZ_RUNS). At the end every command in README.md must have been run
# here or be named below as run elsewhere (or skipped, with the reason): a new
# README command fails this script until it is placed.
#
# Needs: a built checkout, loopback ports 8080 8081 8082 9090 9091 5173 free,
# curl. Uses the system PostgreSQL 15 (127.0.0.1:5432, postgres/postgres, as
# .ci/run sets it up) and haproxy when the machine has them, and says so when
# it skips them. Every process it starts runs in its own process group and is
# killed on exit, failure or not.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
tmp=$(mktemp -d)
chmod 755 "$tmp" # as root the embedded PostgreSQL runs as postgres and must reach its DATA_DIR
groups=()
failed=() # README commands that failed without stopping the script
pg_db=""
HEADING_START="Two commands on a fresh machine (only Node.js 20+ needed)"

cleanup() {
  local rc=$?
  for g in "${groups[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
  if [ -n "$pg_db" ]; then
    PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $pg_db" >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
  if [ "$rc" -ne 0 ]; then echo "readme-commands: FAILED (exit $rc) after $((SECONDS - started))s"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "--- [$((SECONDS - started))s] $*" >&2; }
die() { echo "readme-commands: $*" >&2; exit 1; }
readme() { node .ci/readme-commands.mjs "$@"; }

declare -A where # README command -> where it runs
ran() { where["$1"]="${2:-.ci/readme-commands.sh}"; }

# run_fg TIMEOUT COMMAND: a README command in the foreground, bounded; output to the log.
run_fg() {
  local t=$1 cmd=$2
  log "\$ $cmd"
  timeout -k 10 "$t" bash -c "$cmd"
}
# start_bg NAME COMMAND: in the background, its own process group, output in $tmp/NAME.log.
start_bg() {
  local name=$1 cmd=$2
  log "\$ $cmd &   (log: $name)"
  setsid bash -c "$cmd" >"$tmp/$name.log" 2>&1 &
  bg_pid=$!
  groups+=("$bg_pid")
}
# wait_for NAME PID SECONDS TEST...: until TEST succeeds; fails if PID died or time ran out.
wait_for() {
  local name=$1 pid=$2 secs=$3; shift 3
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then tail -40 "$tmp/$name.log"; die "$name exited before it was ready"; fi
    if [ "$SECONDS" -ge "$deadline" ]; then tail -40 "$tmp/$name.log"; die "$name not ready within ${secs}s"; fi
    sleep 0.5
  done
}
# stop_bg NAME PID [any]: SIGTERM, as a process manager sends it, to the server (node dist/main.js,
# the primary with WORKERS) in the group, else to the whole group. The command (npx -> pnpm -> node)
# must then exit 0, unless "any" (pnpm itself exits 143 on a SIGTERM of its own).
stop_bg() {
  local name=$1 pid=$2 expect=${3:-0} rc=0 server
  server=$(pgrep -o -g "$pid" -f '^node dist/main\.js' || true)
  if [ -n "$server" ]; then kill -TERM "$server"; else kill -TERM -- "-$pid" 2>/dev/null || true; fi
  local deadline=$((SECONDS + 40))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then tail -40 "$tmp/$name.log"; die "$name did not exit within 40s of SIGTERM"; fi
    sleep 0.2
  done
  wait "$pid" || rc=$?
  kill -KILL -- "-$pid" 2>/dev/null || true # nothing of the group may outlive it
  log "$name exited $rc after SIGTERM"
  if [ "$expect" != any ] && [ "$rc" -ne 0 ]; then tail -40 "$tmp/$name.log"; die "$name exited $rc after SIGTERM, expected 0"; fi
}
in_log() { grep -qE "$2" "$tmp/$1.log"; }
http_ok() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1")" = 200 ]; }
is_json() { node -e 'JSON.parse(require("fs").readFileSync(0, "utf8"))'; }
is_jwt() { [[ $1 =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]]; }
expect_out() { # expect_out OUTPUT REGEX WHAT
  if ! grep -qE "$2" <<<"$1"; then echo "$1" | head -40; die "$3: output does not match /$2/"; fi
}
# Remove the README's "VAR=… " placeholders (their values come from the environment) and a trailing " &".
fill() { sed -E 's/\b[A-Z_0-9]+=… ?//g; s/ +&$//' <<<"$1"; }

for port in 8080 8081 8082 9090 9091 5173; do
  if ss -Hltn "sport = :$port" | grep -q .; then die "port $port is in use: the README's commands need it"; fi
done

# "Calling it": every command, against the server on 8080; TRIPS is driver 1's trip count.
calling_it() {
  local cmd out n=0
  while IFS= read -r cmd; do
    n=$((n + 1))
    out=$(run_fg 60 "$cmd") || { rc=$?; echo "$out"; die "exit $rc from: $cmd"; }
    case "$cmd" in
      *--list-services*) expect_out "$out" '^driveranalytics\.v1\.DriverAnalytics$' "$cmd" ;;
      *ListTrips*) is_json <<<"$out" || die "not JSON: $out"; expect_out "$out" '"trips"' "$cmd"; expect_out "$out" '"nextPageToken"' "$cmd" ;;
      *GetStats*) is_json <<<"$out" || die "not JSON: $out"; expect_out "$out" "\"totalTrips\": ?\"$TRIPS\"" "$cmd" ;;
      *) die "no check for this README command: $cmd" ;;
    esac
    echo "    ok: $(tr -d '\n ' <<<"$out" | cut -c1-100)"
    ran "$cmd"
  done < <(readme section "Calling it")
  [ "$n" -ge 5 ] || die "expected at least 5 commands under \"Calling it\", found $n"
}

# 1. The demo: start, the banner's tokens, "Calling it", the dashboard link and its dev server.
log "demo mode (embedded PostgreSQL in a temporary DATA_DIR)"
export DATA_DIR="$tmp/demo/postgres"
start_cmd=$(readme one "$HEADING_START" "pnpm@10.34.8 start")
start_bg demo "$start_cmd"
demo=$bg_pid
wait_for demo "$demo" 240 in_log demo '^export SERVICE_TOKEN='
banner_exports=$(grep -E '^export (DRIVER|SERVICE)_TOKEN=' "$tmp/demo.log")
[ "$(wc -l <<<"$banner_exports")" -eq 2 ] || die "expected two export lines in the banner"
eval "$banner_exports" # as the README says: paste them into your shell
is_jwt "$DRIVER_TOKEN" && is_jwt "$SERVICE_TOKEN" || die "the banner's tokens are not JWTs"
ran "$start_cmd"
TRIPS=600 calling_it # demo data: 600 trips per driver (main.ts DEMO_DATASET)

link=$(grep -m1 -oE 'http://127\.0\.0\.1:8080/#token=[A-Za-z0-9._-]+' "$tmp/demo.log" || true)
[ -n "$link" ] || die "no dashboard link in the banner"
page=$(curl -fsS --max-time 10 "$link") || die "dashboard link: not 200"
expect_out "$page" '<html' "the banner's dashboard link"
log "dashboard link: 200, HTML"

dev_cmd=$(readme one "Driver dashboard" "dashboard dev")
start_bg dashboard-dev "$dev_cmd"
dev=$bg_pid
wait_for dashboard-dev "$dev" 90 http_ok http://127.0.0.1:5173/
expect_out "$(curl -fsS --max-time 10 http://127.0.0.1:5173/)" '<html' "dashboard dev server"
log "dashboard dev server: http://127.0.0.1:5173/ 200, HTML"
stop_bg dashboard-dev "$dev" any # vite under pnpm: stopped is what matters
ran "$dev_cmd"
stop_bg demo "$demo"

# The same with WORKERS=2 (the data is there now: no seeding).
workers_cmd=$(readme one "Scaling out" "WORKERS=2")
start_bg demo-workers "$workers_cmd"
w2=$bg_pid
wait_for demo-workers "$w2" 120 in_log demo-workers '^export SERVICE_TOKEN='
eval "$(grep -E '^export (DRIVER|SERVICE)_TOKEN=' "$tmp/demo-workers.log")"
TRIPS=600 calling_it
[ "$(grep -c '"msg":"listening"' "$tmp/demo-workers.log")" -ge 2 ] || die "WORKERS=2: expected two workers listening"
stop_bg demo-workers "$w2"
ran "$workers_cmd"
unset DATA_DIR DRIVER_TOKEN SERVICE_TOKEN

# 2. The reference dataset into a fresh embedded PostgreSQL (the one `start` would use).
log "seed (embedded PostgreSQL in a temporary DATA_DIR)"
export DATA_DIR="$tmp/seed/postgres"
small_seed=$(readme one "The reference dataset" "--drivers 100") # into PostgreSQL 15 below, for the token checks
mapfile -t seeds < <(readme section "The reference dataset" | grep -vxF -- "$small_seed")
[ "${#seeds[@]}" -ge 2 ] || die "expected the reference dataset's seed commands in README.md"
for cmd in "${seeds[@]}"; do # in README order: the plain one first, into the empty database
  run_fg 300 "$cmd"
  ran "$cmd"
done
unset DATA_DIR

# 3. An existing PostgreSQL (the system PostgreSQL 15): migrate, seed, start, tokens, HAProxy.
migrate_cmd=$(readme one "Using an existing PostgreSQL" "db migrate")
existing_cmd=$(readme one "Using an existing PostgreSQL" "pnpm@10.34.8 start")
token_driver=$(readme one "Authentication and authorization" "--driver 1")
token_service=$(readme one "Authentication and authorization" "--service")
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql/15/main ]; then
  pg_ctlcluster 15 main start 2>/dev/null || true
  su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
  pg_db="readme_commands_$$"
  PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $pg_db"
  export DATABASE_URL="postgresql://postgres:postgres@127.0.0.1:5432/$pg_db"
  log "existing PostgreSQL: system PostgreSQL 15, database $pg_db"
  run_fg 120 "$(fill "$migrate_cmd")"
  ran "$migrate_cmd"
  run_fg 300 "$small_seed"
  ran "$small_seed"

  AUTH_HS256_SECRET=$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64url"))')
  PAGE_TOKEN_SECRET=$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64url"))')
  export AUTH_HS256_SECRET PAGE_TOKEN_SECRET
  # DATABASE_URL's README value is an example: the one above takes its place.
  start_bg existing "${existing_cmd#DATABASE_URL=* }"
  [ "${existing_cmd#DATABASE_URL=* }" != "$existing_cmd" ] || die "README's existing-PostgreSQL start no longer begins with DATABASE_URL="
  existing=$bg_pid
  wait_for existing "$existing" 120 http_ok http://127.0.0.1:8080/healthz
  ran "$existing_cmd"

  # The token commands, for the server with the same AUTH_HS256_SECRET.
  DRIVER_TOKEN=$(run_fg 60 "$token_driver") || die "exit $? from: $token_driver"
  is_jwt "$DRIVER_TOKEN" || die "token --driver 1 printed no JWT: $DRIVER_TOKEN"
  write_token=$(run_fg 60 "$token_service") || die "exit $? from: $token_service"
  is_jwt "$write_token" || die "token --service printed no JWT: $write_token"
  ran "$token_driver"
  ran "$token_service"
  export DRIVER_TOKEN
  get_stats=$(readme one "Calling it" "curl -s ")
  stats=$(run_fg 30 "$get_stats")
  expect_out "$stats" '"totalTrips":"500"' "GetStats with the token command's driver token" # --trips-per-driver 500
  refused=$(DRIVER_TOKEN=not-a-token bash -c "$get_stats")
  expect_out "$refused" '"code":"unauthenticated"' "GetStats with a bad token"
  currency=$(node -e 'const s = JSON.parse(process.argv[1]).stats; console.log(s.totalEarnings.currencyCode)' "$stats")
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  begun=$(date -u -d '-20 minutes' +%Y-%m-%dT%H:%M:%SZ)
  created=$(curl -s --max-time 10 -H "Authorization: Bearer $write_token" -H 'Content-Type: application/json' \
    -d "{\"requestId\":\"$(cat /proc/sys/kernel/random/uuid)\",\"driverId\":\"1\",\"status\":\"TRIP_STATUS_COMPLETED\",\"startTime\":\"$begun\",\"completeTime\":\"$now\",\"distanceMeters\":\"5000\",\"fare\":{\"currencyCode\":\"$currency\",\"amountMinor\":\"1234\"},\"tip\":{\"currencyCode\":\"$currency\",\"amountMinor\":\"100\"}}" \
    http://127.0.0.1:8080/driveranalytics.v1.DriverAnalytics/CreateTrip)
  expect_out "$created" '"trip":' "CreateTrip with the token command's write token"
  log "token commands: the server accepts both (GetStats as driver 1: 500 trips; CreateTrip with the write scope)"
  expect_out "$(run_fg 30 "$get_stats")" '"totalTrips":"501"' "GetStats after CreateTrip"
  stop_bg existing "$existing"

  # Scaling out: two servers (WORKERS=auto) behind HAProxy, as printed.
  if command -v haproxy >/dev/null 2>&1; then
    mapfile -t scale < <(readme section "Scaling out" | grep -E '^PORT=808[12] |^haproxy ')
    [ "${#scale[@]}" -eq 3 ] || die "expected the two servers and haproxy under \"Scaling out\", found ${#scale[@]}"
    start_bg backend-1 "$(fill "${scale[0]}")"; b1=$bg_pid
    start_bg backend-2 "$(fill "${scale[1]}")"; b2=$bg_pid
    wait_for backend-1 "$b1" 120 http_ok http://127.0.0.1:8081/healthz
    wait_for backend-2 "$b2" 120 http_ok http://127.0.0.1:8082/healthz
    start_bg haproxy "${scale[2]}"; hap=$bg_pid
    for i in 1 2 3 4 5 6; do
      out=""
      for _ in $(seq 40); do # until HAProxy's checks have both servers up
        out=$(curl -s --max-time 5 -H "Authorization: Bearer $DRIVER_TOKEN" -H 'Content-Type: application/json' \
          -d '{"driverId":"1"}' http://127.0.0.1:9090/driveranalytics.v1.DriverAnalytics/GetStats || true)
        grep -q '"totalTrips":"501"' <<<"$out" && break
        sleep 0.5
      done
      expect_out "$out" '"totalTrips":"501"' "GetStats through HAProxy (call $i)"
    done
    log "HAProxy on 127.0.0.1:9090: 6 GetStats calls answered"
    stop_bg haproxy "$hap" any
    stop_bg backend-1 "$b1"
    stop_bg backend-2 "$b2"
    for c in "${scale[@]}"; do ran "$c"; done
  else
    echo "readme-commands: SKIPPED the HAProxy lines of \"Scaling out\": no haproxy here (apt-get install haproxy)"
  fi
  unset DATABASE_URL AUTH_HS256_SECRET PAGE_TOKEN_SECRET DRIVER_TOKEN
else
  echo "readme-commands: SKIPPED migrate, DATABASE_URL start, the token commands and HAProxy: no system PostgreSQL 15 here"
  DATA_DIR="$tmp/seed/postgres" run_fg 300 "$small_seed"
  ran "$small_seed"
fi

# 4. The fuzz command, at 2,000 cases (100,000 by default take about 9 minutes).
fuzz_cmd=$(readme one "Operating the server" "run fuzz")
# Independent of what follows: a failure is reported at the end, after the rest has run.
if FUZZ_RUNS=2000 run_fg 600 "$fuzz_cmd"; then
  ran "$fuzz_cmd" ".ci/readme-commands.sh (FUZZ_RUNS=2000)"
else
  ran "$fuzz_cmd" ".ci/readme-commands.sh (FUZZ_RUNS=2000): FAILED"
  failed+=("$fuzz_cmd")
fi

# 5. Build, and the benchmark on Node 24 from the npm registry's binary.
build_cmd=$(readme one "Development" "pnpm@10.34.8 build")
run_fg 300 "$build_cmd"
ran "$build_cmd"
node24_install=$(readme one "Load tool and benchmark" "npm install --prefix")
node24_bench=$(readme one "Load tool and benchmark" "PATH=")
node24_bin=$(sed -E 's/^PATH=([^:]+):.*/\1/' <<<"$node24_bench")
if [ ! -x "$node24_bin/node" ]; then run_fg 300 "$node24_install"; fi
"$node24_bin/node" --version | grep -q '^v24\.' || die "$node24_bin/node is not Node 24"
ran "$node24_install" ".ci/run (node24 step) / .ci/readme-commands.sh"
echo "readme-commands: the full benchmark takes about 8 minutes per run (README), too long for every CI run:"
echo "readme-commands: running the Node 24 bench line with '-- --quick --out FILE' appended; .ci/run runs 'bench -- --quick' on Node 20"
if run_fg 300 "$node24_bench -- --quick --out $tmp/node24-benchmarks.md" && grep -q . "$tmp/node24-benchmarks.md"; then
  ran "$node24_bench" ".ci/readme-commands.sh, with -- --quick --out FILE (the full run takes ~8 min)"
else
  ran "$node24_bench" ".ci/readme-commands.sh, with -- --quick --out FILE: FAILED"
  failed+=("$node24_bench -- --quick --out FILE")
fi

# 6. The tracing-cost benchmark, at one round of one second (three of four seconds by default),
# and the no-op instrumentation timing.
tracing_cmd=$(readme one "Load tool and benchmark" "run tracing-cost")
if run_fg 300 "$tracing_cmd -- --rounds 1 --seconds 1"; then
  ran "$tracing_cmd" ".ci/readme-commands.sh, with -- --rounds 1 --seconds 1"
else
  ran "$tracing_cmd" ".ci/readme-commands.sh, with -- --rounds 1 --seconds 1: FAILED"
  failed+=("$tracing_cmd -- --rounds 1 --seconds 1")
fi
noop_cmd=$(readme one "Load tool and benchmark" "tracing-noop-cost.mjs")
if run_fg 120 "$noop_cmd"; then ran "$noop_cmd"; else ran "$noop_cmd" ".ci/readme-commands.sh: FAILED"; failed+=("$noop_cmd"); fi

# Every command in README.md is placed: run above, or elsewhere.
ran "$(readme one "$HEADING_START" "pnpm@10.34.8 test")" ".ci/run (node20-embedded-pg18, exactly)"
ran "$(readme one "Load tool and benchmark" "run load")" "tools/load/src/readme-commands.spec.ts (against a no-op server, at test size)"
ran "$(readme one "Load tool and benchmark" "--out docs/node20")" "SKIPPED: the full benchmark (~8 min); its --out and --quick forms run above and in .ci/run"
ran "$(readme one "Load tool and benchmark" "=npx -y pnpm@10.34.8 bench")" ".ci/run (bench-quick: with -- --quick; the full run takes ~8 min)"
ran "$(readme one "Scaling out" "bench:scale-out")" ".ci/run (bench-scale-out-quick: with -- --quick)"
unplaced=0
echo "=== README.md commands and where they run"
while IFS= read -r cmd; do
  if [ -n "${where[$cmd]+x}" ]; then
    printf '%s\n    -> %s\n' "$cmd" "${where[$cmd]}"
  else
    printf '%s\n    -> NOT RUN ANYWHERE\n' "$cmd"; unplaced=1
  fi
done < <(readme all)
[ "$unplaced" -eq 0 ] || die "README.md has commands that nothing runs: run them here or name where they run"
log "all README commands placed"
if [ "${#failed[@]}" -ne 0 ]; then printf 'readme-commands: FAILED: %s\n' "${failed[@]}"; exit 1; fi
log "every README command run here succeeded"
