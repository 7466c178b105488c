#!/usr/bin/env bash
# Gateway load benchmark (issue 6): wrk against `lendwork serve` on the
# embedded default — posting shortages and reading statistics — beside wrk
# against a trivial axum handler (examples/trivial_server.rs) in the same
# run. Prints requests/s, p99 and the ratio for each.
#
#   benches/gateway_load.sh [SECONDS] [CONNECTIONS]    (defaults 10 32)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build -q --release -p lendwork --bin lendwork --example trivial_server
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
gw=$(free_port); triv=$(free_port)
ent=bench-enterprise-token-0001
op=bench-operator-token-00002
LENDWORK_GATEWAY_TOKENS="enterprise:bench-ent:$ent;operator:operator:$op" \
  target/release/lendwork serve --listen "127.0.0.1:$gw" --rate-limit 100000000 >"$work/serve.log" 2>&1 &
p1=$!
target/release/examples/trivial_server "127.0.0.1:$triv" &
p2=$!
trap 'kill $p1 $p2 2>/dev/null; rm -rf "$work"' EXIT
for port in $gw $triv; do
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done
cat >"$work/post.lua" <<LUA
counter = 0
request = function()
  counter = counter + 1
  local body = '{"gap_id":"g-' .. counter .. '-' .. math.random(1e9) .. '","region":"620100","site":{"lat":36.06,"lon":103.83},"requirements":[{"skill":"forklift","min_level":2}],"certificates":[],"headcount":2,"window":{"start":"2026-04-01","end":"2026-04-30"},"hourly_wage_fen":3000}'
  return wrk.format("POST", nil, {["Authorization"]="Bearer $ent", ["Content-Type"]="application/json"}, body)
end
LUA
cat >"$work/get.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $op"
LUA
run() { # name script url
  local out
  out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$2" "$3")
  local rps p99 non2xx
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  printf '%-34s %10s req/s   p99 %8s   non-2xx %s\n' "$1" "$rps" "$p99" "${non2xx:-0}" >&2
  echo "$rps"
}
echo "wrk -t2 -c$conns -d${secs}s on $(nproc) cores (server and wrk share them)" >&2
# Reads first: after the writes, the embedded matcher is still working
# through hundreds of thousands of postings and would share the cores.
# Seed a few regions so the statistics have something to add up.
for r in 620100 620200 620300 620400; do
  curl -s -o /dev/null -X POST -H "Authorization: Bearer $ent" "http://127.0.0.1:$gw/v1/shortages" \
    -d '{"gap_id":"seed-'$r'","region":"'$r'","site":{"lat":36.06,"lon":103.83},"requirements":[],"certificates":[],"headcount":3,"window":{"start":"2026-04-01","end":"2026-04-30"},"hourly_wage_fen":3000}'
done
sleep 1
c=$(run "gateway GET /v1/stats" "$work/get.lua" "http://127.0.0.1:$gw/v1/stats")
d=$(run "trivial axum GET" "$work/get.lua" "http://127.0.0.1:$triv/get")
# The trivial handler gets the very same requests (the same script, so wrk
# spends the same on each), and goes first: after the gateway's run its
# embedded matcher may still be busy with the last batches.
b=$(run "trivial axum POST" "$work/post.lua" "http://127.0.0.1:$triv/post")
a=$(run "gateway POST /v1/shortages" "$work/post.lua" "http://127.0.0.1:$gw/v1/shortages")
python3 - "$a" "$b" "$c" "$d" <<'PY'
import sys
a, b, c, d = map(float, sys.argv[1:])
print(f"ratio POST shortages / trivial: {a / b:.2f}")
print(f"ratio GET stats / trivial:      {c / d:.2f}")
PY
