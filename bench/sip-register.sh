#!/bin/bash
# sip-register.sh — authenticated SIP REGISTERs per second: phoneprov against
# Kamailio 5.6 (registrar + usrloc + auth).
#
# SIPp (sipp 3.6.1) runs one scenario, bench/sip/register.xml, against one
# server at a time on 127.0.0.1: REGISTER, 401 with a digest challenge,
# REGISTER with credentials, 200 (one "call" = one registration = two
# transactions). The users are USERS accounts u0001, u0002, … all with the
# password "secret" (Kamailio checks it with pv_www_authenticate, so it needs
# no database; phoneprov gets USERS phones, one line each, same name and
# password), taken in turn from one CSV. For each server the rate is raised
# along a ladder (RATES), then bisected between the last rate held and the
# first one missed, rate-major (at each rate the servers run in turn). A rate is held when SIPp, asked for RATE registrations a
# second for PERIOD seconds, completed all but under FAIL_PCT % of them (a
# failure is a call that timed out, got another answer, or was never
# started) and its own achieved rate was at least MIN_ACHIEVED % of RATE
# (otherwise it is the client that did not keep up, and nothing is known).
# Every run starts a fresh server.
#
#   bench/sip-register.sh                         # both servers, 3-4 minutes
#   SERVERS=kamailio bench/sip-register.sh
#   RATES="8000 12000" TRIES=2 bench/sip-register.sh
#   PROFILE=1 bench/sip-register.sh               # also: where phoneprov's time goes
#
# Servers (SERVERS, default "phoneprov kamailio", in this order):
#   phoneprov   `phoneprov serve -q`, [sip] bind = 127.0.0.1:PP_PORT (15060),
#               USERS [[phone]] entries (7960, one line each)
#   kamailio    kamailio 5.6 with bench/sip/kamailio.cfg on 127.0.0.1:KAM_PORT
#               (15070): sl + tm + registrar + usrloc (db_mode 0) + auth,
#               KAM_CHILDREN UDP worker processes (default 2, one per core),
#               its default memory managers (q_malloc) unless KAM_MEM names
#               others for shm and pkg (-x/-X: fm, qm, tlsf)
#
# Environment: RATES (registrations/s, default
# "2000 4000 8000 12000 16000 20000 24000 28000 32000"), BISECT (bisection
# steps, default 2), PERIOD (seconds per run, default 10), FAIL_PCT (default
# 1), MIN_ACHIEVED (default 90), TRIES (runs per rate, held if any holds,
# default 1), USERS (default 1000), RECV_TIMEOUT (ms SIPp waits for an
# answer before the call fails, default 3000), SIPP_BUFFER (SIPp's socket
# buffers, -buff_size, default 4 MiB: with its own default, 64 KiB, SIPp's
# socket overflows first, near 12 000/s, whichever server answers),
# NO_INSTALL=1 / NO_BUILD=1,
# PHONEPROV (another build, with NO_BUILD=1).
# PROFILE=1: afterwards, phoneprov at PROFILE_RATE (default 4000/s) for
# PROFILE_SECONDS (10) under `perf record` (CPU share per function, user and
# kernel), then phoneprov and Kamailio at 200/s for 10 s under `valgrind
# --tool=callgrind` (user-space instructions per registration, per
# function); files in bench/run/sip-register/profile/.
#
# Needs root only to install packages. All traffic stays on 127.0.0.1; every
# process it started is stopped at exit, Ctrl-C included, and every run is
# bounded by `timeout`. Output: the table on stdout; SIPp's statistics and
# screens, server logs and configs in bench/run/sip-register/.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
RUN=$HERE/run/sip-register
SERVERS=${SERVERS:-"phoneprov kamailio"}
RATES=${RATES:-"2000 4000 8000 12000 16000 20000 24000 28000 32000"}
BISECT=${BISECT:-2}
PERIOD=${PERIOD:-10}
FAIL_PCT=${FAIL_PCT:-1}
MIN_ACHIEVED=${MIN_ACHIEVED:-90}
TRIES=${TRIES:-1}
USERS=${USERS:-1000}
RECV_TIMEOUT=${RECV_TIMEOUT:-3000}
SIPP_BUFFER=${SIPP_BUFFER:-4194304}
PP_PORT=${PP_PORT:-15060}
KAM_PORT=${KAM_PORT:-15070}
KAM_CHILDREN=${KAM_CHILDREN:-2}
KAM_MEM=${KAM_MEM:-}
PROFILE_RATE=${PROFILE_RATE:-4000}
PROFILE_SECONDS=${PROFILE_SECONDS:-10}
PHONEPROV=${PHONEPROV:-$TOP/target/release/phoneprov}
SCENARIO=$HERE/sip/register.xml
KAM_CFG=$HERE/sip/kamailio.cfg
export PATH=$PATH:/usr/sbin:/sbin

say() { echo "== $*" >&2; }
die() { echo "sip-register: $*" >&2; exit 2; }

for r in $RATES; do [[ $r =~ ^[1-9][0-9]*$ ]] || die "not a rate: $r"; done
for s in $SERVERS; do
  case $s in phoneprov|kamailio) ;; *) die "unknown server: $s" ;; esac
done
[[ $USERS =~ ^[1-9][0-9]*$ ]] && [ "$USERS" -le 65535 ] || die "USERS must be 1..65535"
rm -rf "$RUN"; mkdir -p "$RUN"      # only this benchmark's own folder

# --- cleanup: every process we started ----------------------------------------
SERVER_PID="" LOAD_PID="" PROF_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local p
  for p in "$PROF_PID" "$LOAD_PID" "$SERVER_PID"; do
    [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
  done
  sleep 0.5
  for p in "$PROF_PID" "$LOAD_PID" "$SERVER_PID"; do
    [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
  done
  # Kamailio's workers outlive a killed main process for a moment.
  [ -n "${KAM_PIDS:-}" ] && kill -KILL $KAM_PIDS 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "sip-register: interrupted" >&2; exit 130' INT TERM

# --- tools ---------------------------------------------------------------------
install_tools() {
  [ -n "${NO_INSTALL:-}" ] && return 0
  local need=()
  command -v sipp >/dev/null || need+=(sip-tester)
  case " $SERVERS " in *" kamailio "*) command -v kamailio >/dev/null || need+=(kamailio) ;; esac
  if [ -n "${PROFILE:-}" ]; then
    command -v perf >/dev/null || need+=(linux-perf)
    command -v valgrind >/dev/null || need+=(valgrind)
  fi
  [ ${#need[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing ${need[*]}: run as root to install them, or install them yourself"
  say "installing ${need[*]}"
  # Keep kamailio's own daemon from starting (on :5060, as a service).
  local made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" > "$RUN/apt.log" 2>&1 ||
    { [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d; tail -20 "$RUN/apt.log" >&2; die "apt-get install ${need[*]} failed"; }
  [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
  return 0
}

build() {
  [ -n "${NO_BUILD:-}" ] && return 0
  case " $SERVERS " in *" phoneprov "*) ;; *) return 0 ;; esac
  command -v cargo >/dev/null || die "cargo not found: install Rust with rustup, or NO_BUILD=1 PHONEPROV=..."
  say "building phoneprov (release)"
  (cd "$TOP" && cargo build --release --quiet -p phoneprov)
}

# --- users -----------------------------------------------------------------------
# SIPp's injection file: the [authentication] keyword whole in field2 (sipp
# 3.6.1 does not expand [fieldN] inside it).
USERS_CSV=$RUN/users.csv
write_users() {
  { echo SEQUENTIAL
    local i u
    for ((i = 1; i <= USERS; i++)); do
      printf -v u 'u%04d' "$i"
      echo "$u;127.0.0.1;[authentication username=$u password=secret]"
    done; } > "$USERS_CSV"
}

# --- the servers -----------------------------------------------------------------
phoneprov_config() {
  local dir=$1 i u
  mkdir -p "$dir/firmware" "$dir/state"
  { cat <<EOF
# Written by bench/sip-register.sh: $USERS phones, one line each, password "secret".
[server]
address = "127.0.0.1"
state_dir = "$dir/state"

[tftp]
bind = "127.0.0.1:$((PP_PORT + 1000))"   # unused here

[firmware]
dir = "$dir/firmware"

[sip]
bind = "127.0.0.1:$PP_PORT"
registrar = true
EOF
    for ((i = 1; i <= USERS; i++)); do
      printf -v u 'u%04d' "$i"
      printf '\n[[phone]]\nmac = "00:18:B9:%02X:%02X:%02X"\nmodel = "7960"\nlines = [{ name = "%s", password = "secret" }]\n' \
        $((i >> 16)) $(((i >> 8) & 255)) $((i & 255)) "$u"
    done; } > "$dir/phoneprov.toml"
}

check_phoneprov() {
  local dir=$RUN/check out
  phoneprov_config "$dir"
  out=$("$PHONEPROV" --config "$dir/phoneprov.toml" config check 2>&1) ||
    { echo "$out" >&2; die "phoneprov refuses the benchmark's config ($dir/phoneprov.toml)"; }
  rm -rf "$dir"
}

port_free() { ! ss -Hlun "sport = :$1" | grep -q .; }

# Kamailio forks: its main process and every worker (pids, space-separated).
KAM_PIDS=""
tree_pids() {
  local pid=$1 kids
  echo -n "$pid"
  kids=$(cat /proc/"$pid"/task/*/children 2>/dev/null || true)
  for k in $kids; do echo -n " "; tree_pids "$k"; done
}

# start_server NAME DIR: starts it on 127.0.0.1; sets SERVER_PID.
start_server() {
  local name=$1 dir=$2 port cmd
  rm -rf "$dir"; mkdir -p "$dir"
  case $name in
    phoneprov)
      port=$PP_PORT
      phoneprov_config "$dir"
      cmd=("$PHONEPROV" --config "$dir/phoneprov.toml" serve -q) ;;
    kamailio)
      port=$KAM_PORT
      mkdir -p "$dir/rundir"
      cmd=(kamailio -DD -E -f "$KAM_CFG" -Y "$dir/rundir" -m 256 -M 16
           -A "SIPPORT=$KAM_PORT" -A "CHILDREN=$KAM_CHILDREN")
      [ -n "$KAM_MEM" ] && cmd+=(-x "$KAM_MEM" -X "$KAM_MEM") ;;
  esac
  port_free "$port" || die "UDP port $port on this host is taken; set ${name^^}_PORT (PP_PORT/KAM_PORT)"
  "${cmd[@]}" > "$dir/server.out" 2>&1 &
  SERVER_PID=$!
  local i
  for ((i = 0; i < 100; i++)); do
    if ss -Hulpn "sport = :$port" 2>/dev/null | grep -q "pid=$SERVER_PID,"; then
      sleep 0.5
      [ "$name" = kamailio ] && KAM_PIDS=$(tree_pids "$SERVER_PID")
      return 0
    fi
    # Kamailio's workers, not its main process, own the socket.
    if [ "$name" = kamailio ] && ! port_free "$port"; then
      sleep 0.5; KAM_PIDS=$(tree_pids "$SERVER_PID"); return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  tail -5 "$dir/server.out" >&2 || true
  if [ "$name" = phoneprov ]; then
    echo "sip-register: phoneprov did not listen on 127.0.0.1:$port (is its SIP driver in this build?); see $dir/server.out" >&2
    stop_server; return 1
  fi
  die "$name did not start listening on 127.0.0.1:$port; see $dir/server.out"
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  local i
  for ((i = 0; i < 50; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  if [ -n "$KAM_PIDS" ]; then
    for ((i = 0; i < 30; i++)); do kill -0 $KAM_PIDS 2>/dev/null || break; sleep 0.1; done
    kill -KILL $KAM_PIDS 2>/dev/null || true
  fi
  SERVER_PID="" KAM_PIDS=""
}

# CPU seconds (user + system, all threads and worker processes) of the server.
server_cpu() {
  local pids=${KAM_PIDS:-$SERVER_PID} p
  for p in $pids; do cat "/proc/$p/stat" 2>/dev/null || true; done |
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); t += $12 + $13 } END { printf "%.2f\n", t / hz }'
}

# UDP datagrams dropped for a full receive buffer, host-wide (server and SIPp
# share the loopback, so this counts both sides).
udp_rcvbuf_errors() {
  awk '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1 } else { print $c + 0; exit } }' /proc/net/snmp
}

# Datagrams dropped at the server's own socket (full receive buffer), from
# /proc/net/udp: the rest of the host-wide count was dropped at SIPp's.
server_socket_drops() {
  awk -v p="$(printf ':%04X' "$1")" '$2 ~ p"$" { d += $NF } END { print d + 0 }' /proc/net/udp
}

# --- one run ---------------------------------------------------------------------
# sipp RATE SECONDS TARGET DIR: RATE x SECONDS registrations, bounded; SIPp's
# files land in DIR, its CPU time (bash `times`) in DIR/sipp.cpu.
load() {
  local rate=$1 secs=$2 target=$3 dir=$4
  mkdir -p "$dir"
  # In the background with `wait`, so that Ctrl-C reaches the trap at once.
  (cd "$dir" && exec timeout --kill-after=5 $((secs + RECV_TIMEOUT / 1000 + 60)) \
    bash -c 'sipp "$@" >/dev/null 2>&1; rc=$?; times > sipp.cpu; exit $rc' sipp "$target" \
      -sf "$SCENARIO" -inf "$USERS_CSV" -i 127.0.0.1 -p 0 -nostdin -buff_size "$SIPP_BUFFER" \
      -r "$rate" -rp 1000 -m $((rate * secs)) -l $((rate * (RECV_TIMEOUT / 1000 + 2))) \
      -recv_timeout "$RECV_TIMEOUT" -timeout $((secs + RECV_TIMEOUT / 1000 + 30))s \
      -trace_stat -stf stat.csv -fd 1 -trace_screen -trace_err -max_log_size 20000000) &
  LOAD_PID=$!
  wait "$LOAD_PID" || true     # 1: some calls failed, the normal case at the top
  LOAD_PID=""
}

load_cpu() {
  tail -1 "$1/sipp.cpu" 2>/dev/null | awk '
    function secs(t,  m) { m = t; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", t); sub(/s$/, "", t); return m * 60 + t }
    NF == 2 { printf "%.2f\n", secs($1) + secs($2); ok = 1 }
    END { if (!ok) print 0 }'
}

# SIPp's last cumulative statistics line: "created successful failed retrans
# achieved_cps avg_ms timeouts unexpected"
parse_stat() {
  awk -F';' '
    NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    { last = $0 }
    END {
      if (last == "") { print "0 0 0 0 0 - 0 0"; exit }
      n = split(last, f, ";")
      len = f[c["CallLength(C)"]]; split(len, t, ":")      # hh:mm:ss:usec
      avg = (t[1] * 3600 + t[2] * 60 + t[3]) * 1000 + t[4] / 1000
      printf "%d %d %d %d %.0f %.1f %d %d\n", f[c["TotalCallCreated"]], f[c["SuccessfulCall(C)"]], f[c["FailedCall(C)"]],
        f[c["Retransmissions(C)"]], f[c["CallRate(C)"]], avg,
        f[c["FailedTimeoutOnRecv(C)"]] + f[c["FailedMaxUDPRetrans(C)"]], f[c["FailedUnexpectedMessage(C)"]]
    }' "$1/stat.csv" 2>/dev/null || echo "0 0 0 0 0 - 0 0"
}

RESULTS=$RUN/results.tsv
# run_rate NAME RATE: one run at RATE, fresh server; appends a row to
# $RESULTS and sets HELD=1 when it held. Returns 1 when the server did not start.
run_rate() {
  local name=$1 rate=$2 try dir cpu0 cpu1 rb0 rb1 t0 t1 wall want sdrop port
  HELD=0
  port=$([ "$name" = phoneprov ] && echo "$PP_PORT" || echo "$KAM_PORT")
  want=$((rate * PERIOD))
  for ((try = 1; try <= TRIES; try++)); do
    dir=$RUN/$name-$rate-$try
    start_server "$name" "$dir/server" || return 1
    cpu0=$(server_cpu); rb0=$(udp_rcvbuf_errors); t0=$(date +%s%N)
    load "$rate" "$PERIOD" "127.0.0.1:$port" "$dir"
    cpu1=$(server_cpu); rb1=$(udp_rcvbuf_errors); t1=$(date +%s%N); sdrop=$(server_socket_drops "$port")
    stop_server
    local created ok failed retrans cps avg tmo unexp
    read -r created ok failed retrans cps avg tmo unexp <<<"$(parse_stat "$dir")"
    local pct held=0 cpu_pct sipp_pct ld
    pct=$(awk -v w="$want" -v s="$ok" 'BEGIN { printf "%.2f", 100 * (w - s) / w }')
    awk -v p="$pct" -v lim="$FAIL_PCT" -v a="$cps" -v r="$rate" -v m="$MIN_ACHIEVED" \
      'BEGIN { exit !(p < lim && a >= r * m / 100) }' && held=1
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')   # SIPp's whole run, drain included
    cpu_pct=$(awk -v a="$cpu0" -v b="$cpu1" -v t="$wall" 'BEGIN { printf "%.0f", 100 * (b - a) / t }')
    sipp_pct=$(awk -v c="$(load_cpu "$dir")" -v t="$wall" 'BEGIN { printf "%.0f", 100 * c / t }')
    ld=$(cut -d' ' -f1 /proc/loadavg)
    say "$(printf '%-9s %6d/s try %d: %s, %d ok / %d wanted (%s %% failed: %d timed out, %d unexpected), achieved %s/s, %d retrans, avg %s ms, CPU server %s%% sipp %s%%, UDP drops (full buffer) server %d sipp %d, load %s' \
      "$name" "$rate" "$try" "$([ $held = 1 ] && echo HELD || echo missed)" "$ok" "$want" "$pct" "$tmo" "$unexp" "$cps" "$retrans" "$avg" \
      "$cpu_pct" "$sipp_pct" "$sdrop" $((rb1 - rb0 - sdrop)) "$ld")"
    printf '%s\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t%d\n' "$name" "$rate" "$try" "$held" "$want" "$ok" "$pct" "$retrans" \
      "$cps" "$failed" "$avg" "$cpu_pct" "$sipp_pct" "$sdrop" "$ld" "$(date -u +%H:%M:%S)" $((rb1 - rb0 - sdrop)) >> "$RESULTS"
    if [ "$held" = 1 ]; then HELD=1; break; fi
  done
}

# Idle share of all cores over one second, in %: the machine is shared, and
# a busy neighbour (another benchmark, a build) halves what both sides get.
idle_pct() {
  local a b
  a=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat); sleep 1
  b=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.0f", 100 * (y[1] - x[1]) / (y[2] - x[2] + 1e-9) }'
}
quiet_check() {
  local idle; idle=$(idle_pct)
  say "$1: load average $(cut -d' ' -f1-3 /proc/loadavg), CPU idle before the runs ${idle} %"
  if [ "$idle" -lt 85 ]; then
    echo "WARNING: the machine is busy before the runs (${idle} % idle); the busiest processes:" >&2
    ps -eo pcpu=,pid=,comm= --sort=-pcpu | head -4 | sed 's/^/    /' >&2
  fi
  IDLE_NOTE="$IDLE_NOTE $1 ${idle} %;"
}
IDLE_NOTE=""

# search: the ladder, rate-major (at each rate every server still climbing
# runs once, in turn, so that a neighbour's load, which comes and goes on a
# shared machine, falls on all of them alike), then BISECT bisection steps,
# taken in turn too. LO/HI per server: last rate held, first rate missed
# (0: none yet); DONE: the server is out of the ladder.
declare -A LO HI DONE
search() {
  local s r i mid climbing
  quiet_check "$SERVERS"
  for s in $SERVERS; do LO[$s]=0; HI[$s]=0; DONE[$s]=""; done
  for r in $RATES; do
    climbing=0
    for s in $SERVERS; do
      [ -n "${DONE[$s]}" ] && continue
      climbing=1
      if ! run_rate "$s" "$r"; then say "$s: not measured"; DONE[$s]=gone; continue; fi
      if [ "$HELD" = 1 ]; then LO[$s]=$r; else HI[$s]=$r; DONE[$s]=missed; fi
    done
    [ "$climbing" = 1 ] || break
  done
  for ((i = 0; i < BISECT; i++)); do
    for s in $SERVERS; do
      [ "${DONE[$s]}" = missed ] || continue     # held every rate, or not measured
      mid=$(( (LO[$s] + HI[$s]) / 2 ))
      mid=$(( mid >= 1000 ? mid / 250 * 250 : mid / 10 * 10 ))
      { [ "$mid" -le "${LO[$s]}" ] || [ "$mid" -ge "${HI[$s]}" ]; } && continue
      run_rate "$s" "$mid" || continue
      if [ "$HELD" = 1 ]; then LO[$s]=$mid; else HI[$s]=$mid; fi
    done
  done
}

# --- where phoneprov's time goes ----------------------------------------------------
profile() {
  local dir=$RUN/profile n
  mkdir -p "$dir"
  say "profile: phoneprov at $PROFILE_RATE/s for $PROFILE_SECONDS s under perf record (cpu-clock, call graphs)"
  start_server phoneprov "$dir/perf-server" || return 0
  perf record -F 2999 -g -e cpu-clock -p "$SERVER_PID" -o "$dir/perf.data" > "$dir/perf.out" 2>&1 &
  PROF_PID=$!
  sleep 0.5
  load "$PROFILE_RATE" "$PROFILE_SECONDS" "127.0.0.1:$PP_PORT" "$dir/perf-sipp"
  kill -INT "$PROF_PID" 2>/dev/null || true
  wait "$PROF_PID" 2>/dev/null || true
  PROF_PID=""
  stop_server
  perf report -i "$dir/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null | grep -v '^$' | grep -E '^ +[0-9]' |
    head -40 > "$dir/perf-top.txt" || true
  perf report -i "$dir/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' > "$dir/perf-dso.txt" || true
  echo; echo "perf: CPU share by object (phoneprov at $PROFILE_RATE/s):"; head -8 "$dir/perf-dso.txt"
  echo; echo "perf: top functions:"; head -25 "$dir/perf-top.txt"

  say "profile: phoneprov at 200/s for 10 s under valgrind --tool=callgrind"
  local cdir=$dir/callgrind-server
  rm -rf "$cdir"; mkdir -p "$cdir"; phoneprov_config "$cdir"
  valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" \
    "$PHONEPROV" --config "$cdir/phoneprov.toml" serve -q > "$cdir/server.out" 2>&1 &
  SERVER_PID=$!
  local i
  # Start-up (1000 phones' files) takes seconds under valgrind: wait for
  # serve's "SIP on" line, let it settle, then zero the counters so that
  # only the registrations are counted.
  for ((i = 0; i < 600; i++)); do grep -q 'SIP on' "$cdir/server.out" 2>/dev/null && break; sleep 0.1; done
  sleep 5
  callgrind_control -z "$SERVER_PID" > /dev/null 2>&1 || true
  load 200 10 "127.0.0.1:$PP_PORT" "$dir/callgrind-sipp"
  stop_server
  n=$(parse_stat "$dir/callgrind-sipp" | awk '{print $2}')
  local total
  total=$(grep -m1 '^summary:' "$dir/callgrind.out" | awk '{print $2}')
  callgrind_annotate --inclusive=yes --threshold=100 --auto=no "$dir/callgrind.out" 2>/dev/null |
    sed -nE 's/^ *([0-9,]+) +\([^)]*\) +[^:]*:(.*phoneprov_(sip|server)::.*)$/\1\t\2/p' | sed -E 's/ \[[^]]*\]$//' |
    awk -F'\t' -v n="$n" '{ gsub(/,/, "", $1); v = $1 + 0; if (v > m[$2] + 0) m[$2] = v }
      END { for (f in m) printf "%10.0f  %s\n", m[f] / n, f }' | sort -rn | head -40 > "$dir/callgrind-per-registration.txt" || true
  echo
  echo "callgrind: $n registrations; ${total:-?} instructions" \
       "(${total:+$(awk -v t="$total" -v n="$n" 'BEGIN { if (n > 0) printf "%.0f per registration, i.e. per 2 REGISTERs answered", t / n }')})"
  echo "inclusive instructions per registration, phoneprov's own functions:"
  head -25 "$dir/callgrind-per-registration.txt"
  echo "(all of it: callgrind_annotate $dir/callgrind.out)"
}

# The same count for Kamailio: its UDP workers under callgrind, counting only
# inside udp_rcv_loop (a worker's receive-parse-route-reply loop, so neither
# start-up nor the timer processes).
profile_kamailio() {
  local dir=$RUN/profile n total
  mkdir -p "$dir/kamailio-callgrind/rundir"
  say "profile: Kamailio at 200/s for 10 s under valgrind --tool=callgrind (workers, udp_rcv_loop)"
  valgrind --tool=callgrind --trace-children=yes --collect-atstart=no --toggle-collect=udp_rcv_loop \
    --callgrind-out-file="$dir/kamailio-callgrind/callgrind.out.%p" \
    kamailio -DD -E -f "$KAM_CFG" -Y "$dir/kamailio-callgrind/rundir" -m 256 -M 16 \
      -A "SIPPORT=$KAM_PORT" -A "CHILDREN=$KAM_CHILDREN" ${KAM_MEM:+-x "$KAM_MEM" -X "$KAM_MEM"} \
      > "$dir/kamailio-callgrind/server.out" 2>&1 &
  SERVER_PID=$!
  local i
  for ((i = 0; i < 300; i++)); do port_free "$KAM_PORT" || break; sleep 0.1; done
  sleep 3
  KAM_PIDS=$(tree_pids "$SERVER_PID")
  load 200 10 "127.0.0.1:$KAM_PORT" "$dir/kamailio-callgrind-sipp"
  stop_server
  sleep 2
  n=$(parse_stat "$dir/kamailio-callgrind-sipp" | awk '{print $2}')
  total=$(cat "$dir"/kamailio-callgrind/callgrind.out.* | awk '/^summary:/ { t += $2 } END { print t + 0 }')
  echo
  echo "callgrind, Kamailio: $n registrations; $total instructions in its workers' udp_rcv_loop" \
       "($(awk -v t="$total" -v n="$n" 'BEGIN { if (n > 0) printf "%.0f per registration", t / n }'))"
  local big; big=$(ls -S "$dir"/kamailio-callgrind/callgrind.out.* | head -1)
  echo "its busiest worker's top functions (self):"
  callgrind_annotate --inclusive=no --auto=no --threshold=100 "$big" 2>/dev/null | sed -nE 's/^ *([0-9,]+) +(\([^)]*\)) +(.*)$/  \1 \2 \3/p' | sed -n 2,9p
}

# --- the report -----------------------------------------------------------------------
report() {
  awk -F'\t' -v lim="$FAIL_PCT" -v minach="$MIN_ACHIEVED" -v period="$PERIOD" -v top="$MAXRATE" -v order="$SERVERS" \
      -v ncores="$(nproc)" -v kch="$KAM_CHILDREN" -v kmem="$KAM_MEM" '
    BEGIN {
      D["phoneprov"] = "phoneprov"
      D["kamailio"] = "Kamailio 5.6 (" kch " workers" (kmem != "" ? ", " kmem " malloc" : "") ")"
    }
    {
      s = $1; r = $2 + 0; seen[s] = 1
      if ($4 == 1) { heldat[s, r] = 1; if (r > best[s]) { best[s] = r; row[s] = $0 } }
      else if (!((s, r) in lastmiss)) lastmiss[s, r] = $7 " % failed, " $9 "/s, " $8 " retrans, avg " $11 " ms, CPU " $12 " / " $13 " %"
      tried[s, r] = 1
    }
    END {
      for (k in tried) {                  # a rate is missed when no try held
        split(k, kk, SUBSEP); s = kk[1]; r = kk[2] + 0
        if (!((s, r) in heldat) && (!(s in miss) || r < miss[s])) { miss[s] = r; missinfo[s] = lastmiss[s, r] }
      }
      printf "| server | highest rate held (registrations/s) | achieved (/s) | failed | retransmissions (drops at server / sipp) | avg registration (ms) | CPU: server / sipp (%% of a core) | server CPU per registration (µs) | lowest rate missed (failed, achieved, retrans, avg, CPU) |\n"
      printf "|---|---:|---:|---:|---:|---:|---:|---:|---|\n"
      n = split(order, O, " ")
      for (i = 1; i <= n; i++) {
        s = O[i]
        if (!(s in seen)) { printf "| %s | not measured | | | | | | | |\n", D[s]; continue }
        if (s in row) {
          split(row[s], f, "\t")
          held = f[2] (s in miss ? "" : " (all, >= " top ")")
          rate[s] = f[2] + 0
          printf "| %s | %s | %s | %s %% (%d of %d) | %s (%s / %s) | %s | %s / %s | %.0f | %s |\n", D[s], held, f[9], f[7], f[5] - f[6], f[5], f[8], f[14], f[17], f[11], f[12], f[13], (f[9] > 0 ? f[12] * 1e4 / f[9] : 0),
            (s in miss) ? miss[s] " (" missinfo[s] ")" : "-"
        } else {
          rate[s] = 0
          printf "| %s | none | | | | | | | %s |\n", D[s], (s in miss) ? miss[s] " (" missinfo[s] ")" : "-"
        }
      }
      if (("phoneprov" in seen) && ("kamailio" in seen)) {
        printf "\nphoneprov / Kamailio, highest rate held: %s\n", rate["kamailio"] > 0 ? sprintf("%.2fx", rate["phoneprov"] / rate["kamailio"]) : "-"
        printf "Target (issue 5): phoneprov >= 1.0x Kamailio: %s\n", (rate["kamailio"] > 0 && rate["phoneprov"] >= rate["kamailio"]) ? "PASS" : "MISS"
      }
      printf "\nA rate is held when SIPp, asked for that many registrations (REGISTER, 401, REGISTER with digest, 200) a second for %d s,", period
      printf " completed all but under %s %% of them and achieved at least %s %% of the rate (SIPp'"'"'s own call rate over the run).", lim, minach
      printf " CPU: user + system time of the server (all its threads and processes) and of SIPp over the run (drain included), in %% of one core;"
      printf " the machine has %d, and the loopback delivery partly runs in softirq, charged to neither.", ncores
      printf " Drops: datagrams the kernel dropped for a full receive buffer at the server'"'"'s socket / at SIPp'"'"'s; each costs a retransmission 500 ms later.\n"
    }' "$RESULTS"
}

# --- main ---------------------------------------------------------------------------
install_tools
build
command -v sipp >/dev/null || die "sipp not found (apt-get install sip-tester)"
case " $SERVERS " in
  *" phoneprov "*) [ -x "$PHONEPROV" ] || die "missing $PHONEPROV (build it, or unset NO_BUILD)"; check_phoneprov ;;
esac
case " $SERVERS " in
  *" kamailio "*) command -v kamailio >/dev/null || die "kamailio not found (apt-get install kamailio)"
                  kamailio -c -f "$KAM_CFG" -A "SIPPORT=$KAM_PORT" > "$RUN/kamailio-check.out" 2>&1 ||
                    { tail -5 "$RUN/kamailio-check.out" >&2; die "kamailio refuses $KAM_CFG"; } ;;
esac
write_users
MAXRATE=$(printf '%s\n' $RATES | sort -n | tail -1)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
: > "$RESULTS"
VERSIONS="sipp $({ sipp -v 2>&1 || true; } | grep -o 'v[0-9][^ ]*' | head -1 | sed 's/\.$//')"
case " $SERVERS " in *" kamailio "*) VERSIONS="$VERSIONS; $({ kamailio -v 2>&1 || true; } | head -1 | sed 's/^version: //; s/ *$//')" ;; esac
case " $SERVERS " in
  *" phoneprov "*)
    VERSIONS="phoneprov $(cd "$TOP" && git rev-parse --short HEAD)$(cd "$TOP" && git diff --quiet HEAD -- crates Cargo.lock || echo ' + uncommitted changes in crates/'); $VERSIONS" ;;
esac
say "$VERSIONS"
say "results: $RESULTS; SIPp statistics, screens and server logs in $RUN"
search
{
  echo "## SIP REGISTER with digest, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r), load average now $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "$VERSIONS. $USERS users, ${PERIOD} s per run, every run on a fresh server, SIPp on the same cores."
  echo "CPU idle just before the runs:${IDLE_NOTE%;}; load average during each run in $RESULTS."
  echo
  report
} | tee "$RUN/sip-register-$STAMP.md"
if [ -n "${PROFILE:-}" ]; then
  case " $SERVERS " in *" phoneprov "*) profile | tee -a "$RUN/sip-register-$STAMP.md" ;; esac
  case " $SERVERS " in *" kamailio "*) profile_kamailio | tee -a "$RUN/sip-register-$STAMP.md" ;; esac
fi
