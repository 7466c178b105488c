#!/usr/bin/env bash
# Gateway load benchmark (issue 6): wrk against `lendwork serve --memory` on the
# embedded default — posting shortages and reading statistics — beside wrk
# against a trivial axum handler (examples/trivial_server.rs) in the same
# run. Prints requests/s, p99 and the ratio for each, and the server's own
# CPU time per request (from /proc) beside the rates.
#
# Postings run in ROUNDS alternating pairs (trivial, then a fresh gateway):
# this shared machine's speed drifts by tens of percent from one minute to
# the next, so one pair's ratio says as much about the drift as about the
# gateway. Every pair's ratio is printed, then their median.
#
#   benches/gateway_load.sh [SECONDS] [CONNECTIONS] [ROUNDS]  (defaults 10 32 3)
set -euo pipefail
# Windows from today: the gateway refuses a window already over.
ws=$(date -u -d "+30 days" +%F)
we=$(date -u -d "+59 days" +%F)
shopt -s inherit_errexit # a failing wrk inside run() stops the script
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}
rounds=${3:-3}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build -q --release -p lendwork --bin lendwork --example trivial_server
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
gw=$(free_port); triv=$(free_port)
ent=bench-enterprise-token-0001
op=bench-operator-token-00002
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; }
p1=
start_gateway() { # a fresh `lendwork serve` on $gw
  LENDWORK_GATEWAY_TOKENS="enterprise:bench-ent:$ent;operator:operator:$op" \
    target/release/lendwork serve --memory --listen "127.0.0.1:$gw" --rate-limit 100000000 >"$work/serve.log" 2>&1 &
  p1=$!
  wait_port "$gw"
}
stop_gateway() { kill "$p1" 2>/dev/null; wait "$p1" 2>/dev/null || true; }
start_gateway
target/release/examples/trivial_server "127.0.0.1:$triv" &
p2=$!
trap 'kill $p1 $p2 2>/dev/null; rm -rf "$work"' EXIT
wait_port "$triv"
# Every request posts a new gap: wrk runs one Lua state per thread, each
# with the same counter and the same random sequence, so the thread's
# number is part of the id (until the seventh session it was not, and the
# second thread re-posted the first thread's gaps: half the requests were
# updates of an existing gap).
cat >"$work/post.lua" <<LUA
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
counter = 0
request = function()
  counter = counter + 1
  local body = '{"gap_id":"g-' .. tid .. '-' .. counter .. '","region":"620100","site":{"lat":36.06,"lon":103.83},"requirements":[{"skill":"forklift","min_level":2}],"certificates":[],"headcount":2,"window":{"start":"$ws","end":"$we"},"hourly_wage_fen":3000}'
  return wrk.format("POST", nil, {["Authorization"]="Bearer $ent", ["Content-Type"]="application/json"}, body)
end
LUA
cat >"$work/get.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $op"
LUA
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime
run() { # name script url server-pid; prints "req/s server-µs-per-request"
  # (called as out=$(run …): with inherit_errexit a failure in it stops the
  # script, which a process substitution would hide)
  local out t0 t1
  t0=$(cpu_ticks "$4")
  out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$2" "$3")
  t1=$(cpu_ticks "$4")
  local rps p99 non2xx n us
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  # The server's own CPU time per request (from /proc, so no profiler is
  # needed): steadier than req/s on a shared machine, whose speed drifts.
  us=$(python3 -c "print(f'{($t1 - $t0) / $hz * 1e6 / max($n, 1):.1f}')")
  printf '%-34s %10s req/s   p99 %8s   non-2xx %s   server CPU %6s µs/req\n' "$1" "$rps" "$p99" "${non2xx:-0}" "$us" >&2
  echo "$rps $us"
}
echo "wrk -t2 -c$conns -d${secs}s on $(nproc) cores (server and wrk share them)" >&2
# Reads first: after the writes, the embedded matcher is still working
# through hundreds of thousands of postings and would share the cores.
# Seed a few regions so the statistics have something to add up.
for r in 620100 620200 620300 620400; do
  curl -s -o /dev/null -X POST -H "Authorization: Bearer $ent" "http://127.0.0.1:$gw/v1/shortages" \
    -d '{"gap_id":"seed-'$r'","region":"'$r'","site":{"lat":36.06,"lon":103.83},"requirements":[],"certificates":[],"headcount":3,"window":{"start":"'$ws'","end":"'$we'"},"hourly_wage_fen":3000}'
done
sleep 1
out=$(run "gateway GET /v1/stats" "$work/get.lua" "http://127.0.0.1:$gw/v1/stats" "$p1")
read -r c _ <<<"$out"
out=$(run "trivial axum GET" "$work/get.lua" "http://127.0.0.1:$triv/get" "$p2")
read -r d _ <<<"$out"
# The trivial handler gets the very same requests (the same script, so wrk
# spends the same on each), and goes first in each pair; the gateway is
# started afresh for each of its runs (an earlier run's matcher may still
# be busy with its last batches).
ratios=()
cpus=()
for i in $(seq 1 "$rounds"); do
  out=$(run "round $i: trivial axum POST" "$work/post.lua" "http://127.0.0.1:$triv/post" "$p2")
  read -r b bus <<<"$out"
  stop_gateway
  start_gateway
  out=$(run "round $i: gateway POST /v1/shortages" "$work/post.lua" "http://127.0.0.1:$gw/v1/shortages" "$p1")
  read -r a aus <<<"$out"
  ratios+=("$(python3 -c "print(f'{$a / $b:.2f}')")")
  cpus+=("$(python3 -c "print(f'{$aus / max($bus, 0.1):.2f}')")")
done
python3 - "$c" "$d" "${#ratios[@]}" "${ratios[@]}" "${cpus[@]}" <<'PY'
import statistics, sys
c, d, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
ratios = [float(r) for r in sys.argv[4:4 + n]]
cpus = [float(r) for r in sys.argv[4 + n:]]
print("ratio POST shortages / trivial, by round: " + " ".join(f"{r:.2f}" for r in ratios))
print(f"ratio POST shortages / trivial (median): {statistics.median(ratios):.2f}")
print(f"ratio GET stats / trivial:               {c / d:.2f}")
print("server CPU per request, gateway POST / trivial POST, by round: " + " ".join(f"{r:.2f}" for r in cpus))
PY
