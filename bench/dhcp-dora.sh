#!/bin/bash
# dhcp-dora.sh — DHCP DORA throughput: phoneprov against Kea and dnsmasq.
#
# perfdhcp (Kea's load generator) runs full DISCOVER-OFFER-REQUEST-ACK
# exchanges, each from a new MAC, against one server at a time, over a veth
# pair between two network namespaces this script creates. Every server gets
# the same pool (a /13: 10.96.1.1-10.103.255.254, 524 030 addresses, so no
# run can exhaust it), the same options (router, 66, 150, a 1 h lease) and no
# "is it in use" probe. For each server the rate is raised along a ladder
# (RATES), then bisected between the last rate held and the first one missed;
# a rate is held when fewer than 2.5 % of the exchanges begun in the run did
# not complete (an OFFER or ACK that did not come within perfdhcp's drop time,
# 1 s, counts as lost) — ISC's criterion for Kea's performance reports. The
# server is restarted with an empty lease store for every run.
#
#   bench/dhcp-dora.sh                            # all servers, about 10 minutes
#   SERVERS="phoneprov kea" bench/dhcp-dora.sh
#   SYSCALLS=1 bench/dhcp-dora.sh                 # also count syscalls per lease (strace)
#
# Servers (SERVERS, default all of them, in this order):
#   phoneprov       `phoneprov serve`, mode = "pool", leases in SQLite (WAL,
#                   synchronous=FULL): durable before each answer
#   kea             kea-dhcp4 2.2, memfile with persist = true (a CSV line
#                   written per lease; Kea does not fsync it)
#   kea-nopersist   kea-dhcp4 2.2, memfile with persist = false (memory only)
#   dnsmasq         dnsmasq, no-ping, lease file in the run folder (rewritten
#                   whole, and fsynced, after each change: 1.00 fsync per lease)
#   dnsmasq-ro      dnsmasq, no-ping, leasefile-ro (no lease file at all)
#
# Environment: RATES (the ladder, exchanges/s, default
# "250 500 1000 2000 4000 8000 16000 32000"), BISECT (bisection steps after
# the ladder, default 2), PERIOD (seconds per run, default 10), DROP_PCT
# (default 2.5), DROP_TIME (perfdhcp -d, default 1 s), TRIES (runs per rate,
# held if any holds, default 2: a miss is run again once), SYSCALLS=1 (afterwards, strace -c each server
# for SYSCALL_SECONDS at SYSCALL_RATE, default 5 s at 1000/s, and print
# fsyncs, writes, sends and receives per lease), NO_INSTALL=1 / NO_BUILD=1,
# PHONEPROV (another build, with NO_BUILD=1; PHONEPROV_LABEL names it in the
# output, else the output names this tree's commit).
#
# Needs root (namespaces, port 67, Kea's raw sockets) and cargo. Installs
# kea-admin (perfdhcp), kea-dhcp4-server, dnsmasq-base and iproute2 if missing
# (keeping their daemons from starting). All DHCP traffic stays on the veth
# pair; the namespaces and every process go away at exit, Ctrl-C included.
# Output: the table on stdout; every perfdhcp report, server log and config
# in bench/run/dhcp-dora/.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
RUN=$HERE/run/dhcp-dora
SERVERS=${SERVERS:-"phoneprov kea kea-nopersist dnsmasq dnsmasq-ro"}
RATES=${RATES:-"250 500 1000 2000 4000 8000 16000 32000"}
BISECT=${BISECT:-2}
PERIOD=${PERIOD:-10}
DROP_PCT=${DROP_PCT:-2.5}
DROP_TIME=${DROP_TIME:-1}
TRIES=${TRIES:-2}
SYSCALL_RATE=${SYSCALL_RATE:-1000}
SYSCALL_SECONDS=${SYSCALL_SECONDS:-5}
PHONEPROV=${PHONEPROV:-$TOP/target/release/phoneprov}

# The network: a /13, so a run of 32 000 new clients a second for 10 s fits.
NET_PREFIX=13
NETMASK=255.248.0.0
SERVER_IP=10.96.0.1
CLIENT_IP=10.96.0.2
POOL_FIRST=10.96.1.1
POOL_LAST=10.103.255.254
POOL_SIZE=524030
MAC_BASE=00:18:b9:00:00:00          # perfdhcp counts up from here
TAG=dora$$                           # unique names: namespaces, veth ends
NS_S=$TAG-srv NS_C=$TAG-cli
VETH_S=${TAG}s VETH_C=${TAG}c

say() { echo "== $*" >&2; }
die() { echo "dhcp-dora: $*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "run as root: network namespaces, port 67 and Kea's raw sockets need it"
for r in $RATES; do [[ $r =~ ^[1-9][0-9]*$ ]] || die "not a rate: $r"; done
for s in $SERVERS; do
  case $s in phoneprov|kea|kea-nopersist|dnsmasq|dnsmasq-ro) ;; *) die "unknown server: $s" ;; esac
done
MAXRATE=$(printf '%s\n' $RATES | sort -n | tail -1)
(( MAXRATE * PERIOD <= POOL_SIZE )) ||
  die "RATES x PERIOD ($MAXRATE x $PERIOD) is more clients than the pool holds ($POOL_SIZE)"
rm -rf "$RUN"; mkdir -p "$RUN"      # only this benchmark's own folder

# --- cleanup: every process we started, then the namespaces -------------------
SERVER_PID="" LOAD_PID="" STRACE_PID="" PERF_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local p
  for p in "$PERF_PID" "$STRACE_PID" "$LOAD_PID" "$SERVER_PID"; do
    [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
  done
  sleep 0.3
  for p in "$PERF_PID" "$STRACE_PID" "$LOAD_PID" "$SERVER_PID"; do
    [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
  done
  ip netns del "$NS_S" 2>/dev/null || true
  ip netns del "$NS_C" 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "dhcp-dora: interrupted" >&2; exit 130' INT TERM

# --- tools ---------------------------------------------------------------------
install_tools() {
  [ -n "${NO_INSTALL:-}" ] && return 0
  local need=()
  command -v perfdhcp >/dev/null || [ -x /usr/sbin/perfdhcp ] || need+=(kea-admin)
  command -v kea-dhcp4 >/dev/null || [ -x /usr/sbin/kea-dhcp4 ] || need+=(kea-dhcp4-server)
  command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
  command -v ip >/dev/null || need+=(iproute2)
  if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    # Keep the packages' own daemons from starting on the host.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" > "$RUN/apt.log" 2>&1 ||
      { rm -f /usr/sbin/policy-rc.d; tail -20 "$RUN/apt.log" >&2; die "apt-get install ${need[*]} failed"; }
    rm -f /usr/sbin/policy-rc.d
  fi
  command -v cargo >/dev/null || [ -n "${NO_BUILD:-}" ] ||
    die "cargo not found: install Rust with rustup (Debian 12's rustc is too old for this workspace)"
}
export PATH=$PATH:/usr/sbin:/sbin

build() {
  [ -n "${NO_BUILD:-}" ] && return 0
  case " $SERVERS " in *" phoneprov "*) ;; *) return 0 ;; esac
  say "building phoneprov (release)"
  (cd "$TOP" && cargo build --release --quiet -p phoneprov)
}

# --- the network ---------------------------------------------------------------
make_net() {
  say "namespaces $NS_S ($SERVER_IP/$NET_PREFIX on $VETH_S) and $NS_C ($CLIENT_IP on $VETH_C)"
  ip netns add "$NS_S"
  ip netns add "$NS_C"
  ip link add "$VETH_S" type veth peer name "$VETH_C"
  ip link set "$VETH_S" netns "$NS_S"
  ip link set "$VETH_C" netns "$NS_C"
  ip -n "$NS_S" addr add "$SERVER_IP/$NET_PREFIX" dev "$VETH_S"
  ip -n "$NS_C" addr add "$CLIENT_IP/$NET_PREFIX" dev "$VETH_C"
  ip -n "$NS_C" link set "$VETH_C" address 00:18:b9:ff:ff:fe
  local ns
  for ns in "$NS_S" "$NS_C"; do ip -n "$ns" link set lo up; done
  ip -n "$NS_S" link set "$VETH_S" up
  ip -n "$NS_C" link set "$VETH_C" up
}

# --- the servers -----------------------------------------------------------------
# Each run gets a fresh folder: config, lease store, log.
phoneprov_config() {
  local dir=$1
  mkdir -p "$dir/firmware" "$dir/state"
  cat > "$dir/phoneprov.toml" <<EOF
# Written by bench/dhcp-dora.sh.
[server]
address = "$SERVER_IP"
state_dir = "$dir/state"

[tftp]
bind = "127.0.0.1:6969"   # in the server namespace; unused

[firmware]
dir = "$dir/firmware"

[dhcp]
mode = "pool"
interface = "$VETH_S"
netmask = "$NETMASK"
pool = ["$POOL_FIRST", "$POOL_LAST"]
router = "$SERVER_IP"
lease_time = "1h"
authoritative = true
EOF
  # Knobs the driver may or may not have yet; each is kept only if
  # `phoneprov config check` accepts it (checked once, in check_phoneprov).
  local knob
  for knob in "${PHONEPROV_KNOBS[@]}"; do echo "$knob" >> "$dir/phoneprov.toml"; done
}

# The benchmark needs: no ping before an offer (Kea and dnsmasq no-ping do
# none) and no cap on new clients a minute (the default, 120/min, would be
# all the benchmark measures).
WANTED_KNOBS=('probe = "off"' 'new_leases_per_minute = 100000000')
PHONEPROV_KNOBS=()
MISSING_KNOBS=()
check_phoneprov() {
  local dir=$RUN/check knob out
  for knob in "${WANTED_KNOBS[@]}"; do
    rm -rf "$dir"; PHONEPROV_KNOBS=("$knob"); phoneprov_config "$dir"
    if out=$("$PHONEPROV" --config "$dir/phoneprov.toml" config check 2>&1); then
      KEPT+=("$knob")
    else
      MISSING_KNOBS+=("$knob")
      echo "WARNING: this phoneprov refuses \`$knob\` in [dhcp]: $(grep -m1 -i 'error\|unknown' <<<"$out" || head -1 <<<"$out")" >&2
    fi
  done
  PHONEPROV_KNOBS=("${KEPT[@]}")
  rm -rf "$dir"; phoneprov_config "$dir"
  out=$("$PHONEPROV" --config "$dir/phoneprov.toml" config check 2>&1) ||
    { echo "$out" >&2; die "phoneprov refuses the benchmark's config ($dir/phoneprov.toml)"; }
  if [ ${#MISSING_KNOBS[@]} -gt 0 ]; then
    echo "WARNING: phoneprov runs without ${MISSING_KNOBS[*]}: its built-in new-lease cap and/or" \
         "probe stay on, so its figures measure those, not its throughput" >&2
  fi
}
KEPT=()

kea_config() {
  local dir=$1 persist=$2
  mkdir -p "$dir"
  cat > "$dir/kea-dhcp4.json" <<EOF
{ "Dhcp4": {
  "interfaces-config": { "interfaces": ["$VETH_S"], "dhcp-socket-type": "raw" },
  "lease-database": { "type": "memfile", "persist": $persist, "name": "$dir/kea-leases4.csv", "lfc-interval": 0 },
  "valid-lifetime": 3600,
  "authoritative": true,
  "option-def": [ { "name": "cisco-tftp", "code": 150, "type": "ipv4-address", "array": true, "space": "dhcp4" } ],
  "option-data": [
    { "name": "routers", "data": "$SERVER_IP" },
    { "code": 66, "data": "$SERVER_IP", "always-send": true },
    { "name": "cisco-tftp", "data": "$SERVER_IP", "always-send": true }
  ],
  "subnet4": [ { "subnet": "10.96.0.0/$NET_PREFIX", "pools": [ { "pool": "$POOL_FIRST - $POOL_LAST" } ] } ],
  "loggers": [ { "name": "kea-dhcp4", "severity": "WARN",
                 "output_options": [ { "output": "$dir/kea.log" } ] } ]
} }
EOF
}

# start_server NAME DIR: starts it in the server namespace; sets SERVER_PID.
start_server() {
  local name=$1 dir=$2 cmd
  rm -rf "$dir"; mkdir -p "$dir"
  case $name in
    phoneprov)
      phoneprov_config "$dir"
      cmd=("$PHONEPROV" --config "$dir/phoneprov.toml" serve -q) ;;
    kea|kea-nopersist)
      kea_config "$dir" "$([ "$name" = kea ] && echo true || echo false)"
      cmd=(env "KEA_PIDFILE_DIR=$dir" "KEA_LOCKFILE_DIR=$dir" kea-dhcp4 -c "$dir/kea-dhcp4.json") ;;
    dnsmasq|dnsmasq-ro)
      cmd=(dnsmasq --conf-file=/dev/null --no-daemon --port=0 --user=root --pid-file=
           --interface="$VETH_S" --bind-interfaces --dhcp-authoritative --no-ping --quiet-dhcp
           --dhcp-range="$POOL_FIRST,$POOL_LAST,$NETMASK,1h" --dhcp-lease-max=$((POOL_SIZE + 1))
           --dhcp-option=3,"$SERVER_IP" --dhcp-option-force=66,"\"$SERVER_IP\"" --dhcp-option-force=150,"$SERVER_IP"
           --log-facility="$dir/dnsmasq.log")
      if [ "$name" = dnsmasq ]; then cmd+=(--dhcp-leasefile="$dir/dnsmasq.leases"); else cmd+=(--leasefile-ro); fi ;;
  esac
  # `ip netns exec` and `env` exec, so $! is the server itself.
  ip netns exec "$NS_S" "${cmd[@]}" > "$dir/server.out" 2>&1 &
  SERVER_PID=$!
  local i
  for ((i = 0; i < 100; i++)); do
    if ip netns exec "$NS_S" ss -Hulpn 'sport = :67' 2>/dev/null | grep -q "pid=$SERVER_PID,"; then
      sleep 0.3; return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  tail -5 "$dir/server.out" >&2 || true
  die "$name did not start listening on port 67 in $NS_S; see $dir/server.out"
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  local i
  for ((i = 0; i < 50; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# CPU seconds (user + system, all threads) of the running server.
server_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' "/proc/$SERVER_PID/stat" 2>/dev/null || echo 0
}

# Leases the server holds on disk after a run (persisting modes only).
stored_leases() {
  local name=$1 dir=$2
  case $name in
    phoneprov)
      if command -v sqlite3 >/dev/null && [ -f "$dir/state/leases.db" ]; then
        sqlite3 "file:$dir/state/leases.db?mode=ro" 'select count(*) from leases' 2>/dev/null || echo "?"
      else echo "?"; fi ;;
    kea) [ -f "$dir/kea-leases4.csv" ] && echo $(( $(wc -l < "$dir/kea-leases4.csv") - 1 )) || echo 0 ;;
    dnsmasq) [ -f "$dir/dnsmasq.leases" ] && wc -l < "$dir/dnsmasq.leases" || echo 0 ;;
    *) echo "-" ;;
  esac
}

# --- one run -----------------------------------------------------------------------
# perfdhcp's report: the DISCOVER-OFFER block, then REQUEST-ACK. Prints
# "rate do_sent do_recv ra_sent ra_recv do_avg do_max ra_avg ra_max".
parse_perfdhcp() {
  awk '
    /^Rate:/ { rate = $2 }
    /Statistics for: DISCOVER-OFFER/ { b = "do" }
    /Statistics for: REQUEST-ACK/ { b = "ra" }
    /^sent packets:/ { S[b] = $3 }
    /^received packets:/ { R[b] = $3 }
    /^avg delay:/ { A[b] = $3 }
    /^max delay:/ { M[b] = $3 }
    END {
      printf "%s %d %d %d %d %s %s %s %s\n", (rate == "" ? 0 : rate), S["do"], R["do"], S["ra"], R["ra"],
        (A["do"] == "" ? "-" : A["do"]), (M["do"] == "" ? "-" : M["do"]),
        (A["ra"] == "" ? "-" : A["ra"]), (M["ra"] == "" ? "-" : M["ra"])
    }' "$1"
}

# perfdhcp RATE SECONDS OUT: DORA from RATE x SECONDS new clients, bounded.
load() {
  local rate=$1 secs=$2 out=$3
  # In the background with `wait`, so that Ctrl-C reaches the trap at once.
  # `times` prints perfdhcp's CPU time (user, system) on the last line of $out.cpu.
  timeout --kill-after=5 $((secs + 30)) ip netns exec "$NS_C" \
    bash -c 'perfdhcp "$@"; rc=$?; times >&2; exit $rc' perfdhcp -4 -l "$VETH_C" \
    -r "$rate" -R $((rate * secs)) -p "$secs" -d "$DROP_TIME" -W 1000000 -b "mac=$MAC_BASE" > "$out" 2> "$out.cpu" &
  LOAD_PID=$!
  wait "$LOAD_PID" || true     # 3: some exchanges not completed, the normal case here
  LOAD_PID=""
}

# perfdhcp's CPU seconds, from the `times` line in $1.cpu.
load_cpu() {
  tail -1 "$1.cpu" 2>/dev/null | awk '
    function secs(t,  m) { m = t; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", t); sub(/s$/, "", t); return m * 60 + t }
    NF == 2 { printf "%.2f\n", secs($1) + secs($2); ok = 1 }
    END { if (!ok) print 0 }'
}

# UDP datagrams the kernel dropped because a socket's receive buffer was
# full, in namespace $1 (Kea's raw packet socket is not counted here).
udp_rcvbuf_errors() {
  ip netns exec "$1" awk '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1 } else { print $c + 0; exit } }' /proc/net/snmp
}

# fsync + fdatasync calls of the server during a run, counted by perf on the
# syscall tracepoints (next to no cost to the server); "-" without perf.
HAVE_PERF=0
if command -v perf >/dev/null &&
   perf stat -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync -- true >/dev/null 2>&1; then
  HAVE_PERF=1
fi
count_syncs_start() {
  [ "$HAVE_PERF" = 1 ] || return 0
  perf stat -x, -o "$1" -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync -p "$SERVER_PID" > /dev/null 2>&1 &
  PERF_PID=$!
  sleep 0.2
}
# Sets SYNCS (not in a subshell: it must wait for perf to write its counts).
count_syncs_end() {
  SYNCS="-"
  [ "$HAVE_PERF" = 1 ] || return 0
  kill -INT "$PERF_PID" 2>/dev/null || true
  wait "$PERF_PID" 2>/dev/null || true
  PERF_PID=""
  SYNCS=$(awk -F, '$3 ~ /sys_enter_f(data)?sync/ && $1 ~ /^[0-9]+$/ { n += $1; ok = 1 } END { print ok ? n : "-" }' "$1" 2>/dev/null || echo "-")
}

RESULTS=$RUN/results.tsv
# run_rate NAME RATE: one run at RATE, fresh server; appends a row to
# $RESULTS and sets HELD=1 when fewer than DROP_PCT % were lost.
run_rate() {
  local name=$1 rate=$2 try dir out stats cpu0 cpu1 lost pct sb0 sb1 cb0 cb1
  HELD=0
  for ((try = 1; try <= TRIES; try++)); do
    dir=$RUN/$name-$rate-$try; out=$RUN/$name-$rate-$try.perfdhcp
    start_server "$name" "$dir"
    count_syncs_start "$dir/perf.csv"
    cpu0=$(server_cpu); sb0=$(udp_rcvbuf_errors "$NS_S"); cb0=$(udp_rcvbuf_errors "$NS_C")
    load "$rate" "$PERIOD" "$out"
    cpu1=$(server_cpu); sb1=$(udp_rcvbuf_errors "$NS_S"); cb1=$(udp_rcvbuf_errors "$NS_C")
    local sdrop=$((sb1 - sb0)) cdrop=$((cb1 - cb0)) load_pct syncs
    count_syncs_end "$dir/perf.csv"; syncs=$SYNCS
    load_pct=$(awk -v c="$(load_cpu "$out")" -v t="$PERIOD" 'BEGIN { printf "%.0f", 100 * c / t }')
    stats=$(parse_perfdhcp "$out")
    stop_server
    read -r got do_s do_r ra_s ra_r do_avg do_max ra_avg ra_max <<<"$stats"
    # perfdhcp's own rate divides by the run plus the exit wait (-W): use the count.
    got=$(awk -v n="$ra_r" -v t="$PERIOD" 'BEGIN { printf "%.1f", n / t }')
    if [ "$do_s" -eq 0 ]; then
      echo "WARNING: perfdhcp sent nothing at $rate/s; see $out" >&2
      pct=100
    else
      lost=$((do_s - ra_r))
      pct=$(awk -v l="$lost" -v s="$do_s" 'BEGIN { printf "%.2f", 100 * l / s }')
    fi
    local ok=0
    awk -v p="$pct" -v lim="$DROP_PCT" 'BEGIN { exit !(p < lim) }' && ok=1
    local cpu_pct spl="-"
    [ "$syncs" != "-" ] && [ "$ra_r" -gt 0 ] && spl=$(awk -v f="$syncs" -v n="$ra_r" 'BEGIN { printf "%.3f", f / n }')
    cpu_pct=$(awk -v a="$cpu0" -v b="$cpu1" -v t="$PERIOD" 'BEGIN { printf "%.0f", 100 * (b - a) / t }')
    say "$(printf '%-14s %6d/s try %d: %6.2f%% lost, %8.1f leases/s, DO avg %s ms max %s ms, RA avg %s ms max %s ms, CPU server %s%% perfdhcp %s%%, socket overflows server %d client %d, fsyncs/lease %s, load %s' \
      "$name" "$rate" "$try" "$pct" "$got" "$do_avg" "$do_max" "$ra_avg" "$ra_max" "$cpu_pct" "$load_pct" "$sdrop" "$cdrop" \
      "$spl" "$(cut -d' ' -f1 /proc/loadavg)")"
    printf '%s\t%d\t%d\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n' "$name" "$rate" "$try" "$pct" "$do_s" "$ra_r" "$ok" \
      "$got" "$do_avg" "$do_max" "$ra_avg" "$ra_max" "$cpu_pct" "$(cut -d' ' -f1 /proc/loadavg)" \
      "$(stored_leases "$name" "$dir")" "$(date -u +%H:%M:%S)" "$load_pct" "$sdrop" "$cdrop" "$spl" >> "$RESULTS"
    if [ "$ok" = 1 ]; then HELD=1; break; fi
  done
}

# The search, rate-major: every server still in the race runs at a rate
# before the next rate, so a busy spell on this shared machine falls on all
# of them alike instead of on one server's whole ladder. Then BISECT rounds
# of bisection between each server's last rate held and first rate missed.
declare -A LO HI
search() {
  local s r i mid active
  for s in $SERVERS; do LO[$s]=0; HI[$s]=0; done
  for r in $RATES; do
    active=0
    for s in $SERVERS; do
      [ "${HI[$s]}" -eq 0 ] || continue
      active=1
      run_rate "$s" "$r"
      if [ "$HELD" = 1 ]; then LO[$s]=$r; else HI[$s]=$r; fi
    done
    [ "$active" = 1 ] || break
  done
  for ((i = 0; i < BISECT; i++)); do
    for s in $SERVERS; do
      [ "${HI[$s]}" -gt 0 ] || continue   # held every rate: the result is ">= top rate"
      mid=$(( (LO[$s] + HI[$s]) / 2 ))
      mid=$(( mid >= 1000 ? mid / 50 * 50 : mid / 10 * 10 ))
      { [ "$mid" -le "${LO[$s]}" ] || [ "$mid" -ge "${HI[$s]}" ]; } && continue
      run_rate "$s" "$mid"
      if [ "$HELD" = 1 ]; then LO[$s]=$mid; else HI[$s]=$mid; fi
    done
  done
}

# --- syscalls per lease -----------------------------------------------------------
syscalls() {
  local name=$1
  local dir=$RUN/$name-strace out=$RUN/$name-strace.perfdhcp trace=$RUN/$name.strace
  start_server "$name" "$dir"
  strace -f -c -o "$trace" -p "$SERVER_PID" 2>/dev/null &
  STRACE_PID=$!
  sleep 1
  load "$SYSCALL_RATE" "$SYSCALL_SECONDS" "$out"
  kill -INT "$STRACE_PID" 2>/dev/null || true
  wait "$STRACE_PID" 2>/dev/null || true
  STRACE_PID=""
  stop_server
  local leases; leases=$(parse_perfdhcp "$out" | awk '{print $5}')
  awk -v s="$name" -v n="$leases" '
    $NF ~ /^(fsync|fdatasync|write|pwrite64|sendto|sendmsg|read|recvfrom|recvmsg|futex)$/ {
      C[$NF] = $4 }
    END {
      printf "| %s | %d |", s, n
      split("fsync fdatasync write pwrite64 sendto sendmsg read recvfrom recvmsg futex", K, " ")
      for (k = 1; k in K; k++) printf " %s |", (n > 0 && (K[k] in C)) ? sprintf("%.2f", C[K[k]] / n) : "0"
      printf "\n"
    }' "$trace"
}

# --- the report -------------------------------------------------------------------------
report() {
  awk -F'\t' -v drop="$DROP_PCT" -v period="$PERIOD" -v top="$MAXRATE" -v order="$SERVERS" '
    BEGIN {
      D["phoneprov"] = "phoneprov, SQLite (fsync before each answer)"
      D["kea"] = "Kea 2.2, memfile persist=true (CSV, no fsync)"
      D["kea-nopersist"] = "Kea 2.2, memfile persist=false"
      D["dnsmasq"] = "dnsmasq, lease file (rewritten + fsync per change)"
      D["dnsmasq-ro"] = "dnsmasq, leasefile-ro (memory only)"
    }
    {
      s = $1; r = $2 + 0
      if (NR == 1 || $14 + 0 < lmin) lmin = $14 + 0
      if ($14 + 0 > lmax) lmax = $14 + 0
      if (!(s in first)) first[s] = 1
      k = s SUBSEP r; tried[k] = 1
      if ($7 == 1) { okrate[k] = 1; if (r > best[s]) { best[s] = r; row[s] = $0 } }
      else { lostlist[k] = (nfail[k]++ ? lostlist[k] " and " : "") $4 " %"; lastcpu[k] = $13 " % / " $17 " %, " $18 }
    }
    END {
      # A rate is missed when no try held it.
      for (k in tried) if (!(k in okrate)) {
        split(k, kk, SUBSEP); s = kk[1]; r = kk[2] + 0
        if (!(s in miss) || r < miss[s]) { miss[s] = r; misspct[s] = lostlist[k] "; " lastcpu[k] }
      }
      printf "| server | highest rate held (DORA/s) | leases/s there | lost there | DISCOVER-OFFER avg / max (ms) | REQUEST-ACK avg / max (ms) | CPU there: server / perfdhcp | fsyncs per lease there | leases on disk | lowest rate missed (lost; CPU server / perfdhcp; server socket overflows) |\n"
      printf "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
      n = split(order, O, " ")
      for (i = 1; i <= n; i++) {
        s = O[i]; if (!(s in first)) continue
        if (s in row) {
          split(row[s], f, "\t")
          held = f[2] (s in miss ? "" : " (all; >= " top ")")
          rate[s] = f[8] + 0
          printf "| %s | %s | %.0f | %.2f %% | %s / %s | %s / %s | %s %% / %s %% | %s | %s | %s |\n", D[s], held, f[8], f[4], f[9], f[10], f[11], f[12], f[13], f[17], f[20], f[15],
            (s in miss) ? miss[s] " (" misspct[s] ")" : "-"
        } else {
          rate[s] = 0
          printf "| %s | none (< %s %% lost at no rate) | 0 | - | - | - | - | - | - | %s |\n", D[s], drop, (s in miss) ? miss[s] " (" misspct[s] ")" : "-"
        }
      }
      if ("phoneprov" in rate) {
        printf "\nphoneprov / peer, leases/s at the highest rate held:"
        for (i = 1; i <= n; i++) { s = O[i]; if (s == "phoneprov" || !(s in rate)) continue
          printf " %s %s;", s, (rate[s] > 0 ? sprintf("%.2fx", rate["phoneprov"] / rate[s]) : "-") }
        printf "\n"
        for (k = 1; k <= 2; k++) { s = k == 1 ? "kea" : "kea-nopersist"; if (!(s in rate)) continue
          printf "Target: phoneprov >= 1.0x %s: %s\n", s, (rate[s] > 0 && rate["phoneprov"] >= rate[s]) ? "PASS" : "MISS" }
      }
      printf "\nA rate is held when under %s %% of the DORA exchanges begun in a %d s run did not complete", drop, period
      printf " (no OFFER or no ACK within perfdhcp'"'"'s drop time). leases/s is perfdhcp'"'"'s completed 4-way exchanges per second in that run."
      printf " CPU: user + system time of the server process and of perfdhcp over the run, in %% of one core (the machine has %d).", ncores
      printf " Socket overflows: UDP datagrams the server namespace'"'"'s kernel dropped for a full receive buffer (Kea reads a raw packet socket, not counted)."
      printf " fsyncs per lease: fsync + fdatasync calls of the server during the run (perf, syscall tracepoints) over the leases completed."
      printf " 1-minute load average after each run: %.2f to %.2f.\n", lmin, lmax
    }' ncores="$(nproc)" "$RESULTS"
}

# --- main ---------------------------------------------------------------------------
install_tools
build
case " $SERVERS " in
  *" phoneprov "*) [ -x "$PHONEPROV" ] || die "missing $PHONEPROV (build it, or unset NO_BUILD)"; check_phoneprov ;;
esac
make_net
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
: > "$RESULTS"
VERSIONS="perfdhcp $(perfdhcp -v 2>&1 | head -1); kea-dhcp4 $(kea-dhcp4 -v 2>&1 | head -1); $(dnsmasq --version | head -1 | cut -d' ' -f1-3)"
case " $SERVERS " in
  *" phoneprov "*)
    if [ -n "${PHONEPROV_LABEL:-}" ]; then VERSIONS="phoneprov $PHONEPROV_LABEL; $VERSIONS"
    else VERSIONS="phoneprov $(cd "$TOP" && git rev-parse --short HEAD)$(cd "$TOP" && [ -z "$(git status --porcelain -- 'crates/*/src' Cargo.toml Cargo.lock)" ] || echo ' + uncommitted changes to its sources'); $VERSIONS"; fi ;;
esac
say "$VERSIONS"
say "results: $RESULTS; perfdhcp reports and server folders in $RUN"
# How fast this disk makes a write durable: what every fsync costs the
# servers that make one (phoneprov, dnsmasq with a lease file).
DISK_SYNCS=$(dd if=/dev/zero of="$RUN/dsync-probe" bs=4k count=1000 oflag=dsync 2>&1 |
  awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") t = $(i - 1); if (t > 0) printf "%.0f", 1000 / t }')
rm -f "$RUN/dsync-probe"
say "this disk: ${DISK_SYNCS:-?} synchronous 4 KiB writes a second (dd oflag=dsync)"
search
{
  echo "## DHCP DORA, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r), load average now $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "$VERSIONS. Pool $POOL_FIRST-$POOL_LAST ($POOL_SIZE addresses), a new MAC per exchange, ${PERIOD} s per run, every run on a fresh server."
  echo "The lease folder's disk makes ${DISK_SYNCS:-?} synchronous 4 KiB writes a second (dd oflag=dsync)."
  if [ ${#PHONEPROV_KNOBS[@]} -gt 0 ] || [ ${#MISSING_KNOBS[@]} -gt 0 ]; then
    echo "phoneprov [dhcp] extras: ${PHONEPROV_KNOBS[*]:-none}${MISSING_KNOBS[*]:+; NOT accepted by this build: ${MISSING_KNOBS[*]}}."
  fi
  echo
  report
} | tee "$RUN/dora-$STAMP.md"
if [ -n "${SYSCALLS:-}" ]; then
  {
    echo
    echo "Syscalls per lease (strace -f -c on the server, $SYSCALL_RATE DORA/s for $SYSCALL_SECONDS s; strace slows the server, so only the counts mean anything):"
    echo
    echo "| server | leases | fsync | fdatasync | write | pwrite64 | sendto | sendmsg | read | recvfrom | recvmsg | futex |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for s in $SERVERS; do syscalls "$s"; done
  } | tee -a "$RUN/dora-$STAMP.md"
fi
