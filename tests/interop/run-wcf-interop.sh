#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks that Mono's WCF client (WcfClient.cs) opens a net.tcp session on an openwws
# listener on each backend: the client's Open() must succeed, which takes the server's
# Preamble Ack, and the server must report the client's Via as the accepted channel's
# TRANSPORT_URL. Usage: run-wcf-interop.sh SERVER_BINARY (tests/interop/nettcp_server.c
# or anything that prints the same lines). Exits 77 (SKIP) without Mono.
set -u
server=${1:?usage: run-wcf-interop.sh SERVER_BINARY}
here=$(cd "$(dirname "$0")" && pwd)

skip() {
  echo "wcf-interop: skipped: Mono is not installed ($1)"
  exit 77
}
command -v mcs >/dev/null || skip "no mcs; Debian: apt-get install mono-mcs libmono-system-servicemodel4.0a-cil"
command -v mono >/dev/null || skip "no mono; Debian: apt-get install mono-runtime"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! mcs -nologo -r:System.ServiceModel -out:"$tmp/WcfClient.exe" "$here/WcfClient.cs" >"$tmp/mcs.log" 2>&1; then
  # CS0006: an assembly named with -r is missing.
  if grep -q 'CS0006' "$tmp/mcs.log"; then
    skip "no System.ServiceModel assembly; Debian: apt-get install libmono-system-servicemodel4.0a-cil"
  fi
  echo "wcf-interop: FAILED (WcfClient.cs does not compile)"
  cat "$tmp/mcs.log"
  exit 1
fi

# Mono waits for the Preamble Ack with no limit (its OpenTimeout does not cover that
# wait): a stuck server's watchdog ends the run, and the server's exit ends the client's
# wait. timeout(1) ends either process if all else fails.
server_watchdog=20 process_limit=40
failed=0 ran=0

# Prints a file's lines indented, for the log of a failed run.
show() {
  echo "  $1:"
  sed 's/^/    /' "$2"
}

run_backend() {
  local b=$1 out=$tmp/$1.server.out err=$tmp/$1.server.err cout=$tmp/$1.client.out
  OPENWWS_BACKEND=$b timeout -k 5 "$process_limit" "$server" "$server_watchdog" >"$out" 2>"$err" &
  local spid=$! port="" i
  for ((i = 0; i < 100; i++)); do  # 10 s for the "port" line
    port=$(awk '$1 == "port" { print $2; exit }' "$out")
    if [ -n "$port" ] || ! kill -0 "$spid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if [ -z "$port" ]; then
    port=$(awk '$1 == "port" { print $2; exit }' "$out")  # printed just before it exited
  fi
  if [ -z "$port" ]; then
    kill "$spid" 2>/dev/null
    wait "$spid"
    local src=$?
    # The library names an unavailable or missing backend in the error's text.
    if grep -q -e "which is unavailable here" -e "which this build does not have" "$err"; then
      echo "wcf-interop: $b: skipped ($(grep -m1 -e "which is unavailable here" -e "which this build does not have" "$err" | sed 's/^ *//'))"
      return
    fi
    echo "wcf-interop: $b: FAILED (the server printed no port; exit status $src)"
    show "server stdout" "$out"
    show "server stderr" "$err"
    failed=1
    return
  fi

  ran=$((ran + 1))
  local url="net.tcp://127.0.0.1:$port/echo"
  timeout -k 5 "$process_limit" mono "$tmp/WcfClient.exe" "$url" >"$cout" 2>&1
  local crc=$?
  wait "$spid"
  local src=$?

  local why=() backend via
  if [ "$crc" -eq 124 ]; then
    why+=("the client was still running after $process_limit s")
  elif [ "$crc" -ne 0 ]; then
    why+=("client: $(grep -m1 '^wcf-client:' "$cout" || echo "exit status $crc")")
  elif ! grep -q '^wcf-client: open ok$' "$cout"; then
    why+=("the client exited 0 without printing open ok")
  fi
  if [ "$src" -eq 124 ]; then
    why+=("the server was still running after $process_limit s")
  elif [ "$src" -ne 0 ]; then
    why+=("server: $(grep -m1 -e 'FAILED' "$err" || echo "exit status $src")")
  fi
  backend=$(awk '$1 == "backend" { print $2; exit }' "$out")
  if [ "$backend" != "$b" ]; then
    why+=("the server ran on backend '$backend'")
  fi
  via=$(sed -n 's/^transport-url //p' "$out")
  if [ "$src" -eq 0 ] && [ "$via" != "$url" ]; then
    why+=("the server's transport-url is '$via', not '$url'")
  fi

  if ((${#why[@]} == 0)); then
    echo "wcf-interop: $b: ok"
    return
  fi
  local text
  text=$(printf '%s; ' "${why[@]}")
  echo "wcf-interop: $b: FAILED (${text%; })"
  show "client output (URL $url)" "$cout"
  show "server stdout" "$out"
  show "server stderr" "$err"
  failed=1
}

for b in io_uring epoll libuv; do
  run_backend "$b"
done
if ((ran == 0)); then
  echo "wcf-interop: skipped: no backend can run here"
  exit 77
fi
exit "$failed"
