#!/usr/bin/env bash
# The durable embedded default against the in-memory one: wrk posting
# shortages (32 connections by default) to `lendwork serve --data DIR` and
# to `lendwork serve --memory`, in alternating rounds with a fresh server
# (and a fresh data directory) each, in the same run. Prints each round's
# postings/s and p99, the ratio data/memory per pair and its median, and
# the bytes on disk per event in the log (the directory's size over the
# events the log holds).
#
# Target (issue 22): data/memory >= 0.8 with p99 under 10 ms at 32 clients.
#
#   benches/embedded_load.sh [SECONDS] [CONNECTIONS] [ROUNDS] [DATA-PARENT]
#   (defaults 10 32 3, and a directory under target/; give a path on the
#   disk the office will use: the cost of a commit is the disk's fsync)
set -euo pipefail
# Windows from today: the gateway refuses a window already over.
ws=$(date -u -d "+30 days" +%F)
we=$(date -u -d "+59 days" +%F)
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}
rounds=${3:-3}
parent=${4:-target/embedded-load}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build -q --release -p lendwork --bin lendwork
mkdir -p "$parent"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
ent=bench-enterprise-token-0001
pid=
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
wait_port() { for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; }
start() { # start "--memory" | start "--data DIR"
  # shellcheck disable=SC2086
  LENDWORK_GATEWAY_TOKENS="enterprise:bench-ent:$ent" \
    target/release/lendwork serve $1 --listen "127.0.0.1:$port" --rate-limit 100000000 >"$work/serve.log" 2>&1 &
  pid=$!
  wait_port "$port"
}
stop() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
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
  return wrk.format("POST", "/v1/shortages", {["Authorization"]="Bearer $ent", ["Content-Type"]="application/json"}, body)
end
LUA
post() { # label; prints "req/s p99-ms requests"
  local out rps p99 n bad
  out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$work/post.lua" "http://127.0.0.1:$port")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}')
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  bad=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  printf '%-8s %10s postings/s   p99 %7.2f ms   non-2xx %s\n' "$1" "$rps" "$p99" "${bad:-0}" >&2
  echo "$rps $p99 $n"
}
ratios=()
for r in $(seq 1 "$rounds"); do
  start "--memory"
  read -r mem_rps mem_p99 _ <<<"$(post memory)"
  stop
  dir="$parent/round-$r-$$"
  rm -rf "$dir"
  start "--data $dir"
  read -r data_rps data_p99 data_n <<<"$(post data)"
  stop
  bytes=$(du -sb "$dir" | awk '{print $1}')
  ratio=$(python3 -c "print(f'{$data_rps / $mem_rps:.2f}')")
  ratios+=("$ratio")
  printf 'round %d: data/memory %s (p99 %s ms against %s ms); %s bytes on disk for %s events: %s bytes/event\n' \
    "$r" "$ratio" "$data_p99" "$mem_p99" "$bytes" "$data_n" "$(python3 -c "print(round($bytes / max($data_n, 1)))")"
  rm -rf "$dir"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
worst=$(printf '%s\n' "${ratios[@]}" | sort -n | head -1)
echo "data/memory postings/s: median $median, worst $worst over $rounds rounds (target >= 0.8)"
