#!/bin/bash
# tftp-bootstorm.sh — a TFTP boot storm against phoneprov and its peers.
#
# N phone-like clients (crates/sim tftp-storm: octet, no options, so 512-byte
# blocks, a retry every second) each fetch the SIP 8.12 set at once —
# SIPDefault.cnf, SIP<MAC>.cnf, XMLDefault.cnf.xml, a 458 B .loads, a 130 956 B
# .sbn and a 756 524 B .sb2 — from each server in turn, on loopback:
# phoneprov, tftpd-hpa, atftpd and dnsmasq. Every server is started fresh for
# every N, inside its own cgroup, so its CPU time and peak memory include any
# processes it forks (tftpd-hpa forks one per transfer).
#
#   bench/tftp-bootstorm.sh              # N = 50 200 1000, all four servers
#   bench/tftp-bootstorm.sh 50 200       # other sizes
#   SERVERS="phoneprov dnsmasq" bench/tftp-bootstorm.sh 1000
#
# Environment: SERVERS (default "phoneprov tftpd-hpa atftpd dnsmasq"),
# RUN_LIMIT (seconds one storm may take, default 240), RETRANSMIT_MS (the
# phones' retry interval, default 1000), NO_INSTALL=1 / NO_BUILD=1 to skip
# those steps, PHONEPROV / STORM to bench other builds (with NO_BUILD=1),
# ACCOUNTING=proc to skip cgroups.
#
# Needs root (tftpd-hpa setgroups, dnsmasq's fixed port 69, cgroups) and cargo.
# Installs tftpd-hpa, dnsmasq-base and jq with apt-get if missing; atftpd
# conflicts with tftpd-hpa in apt, so it is unpacked into bench/run/opt/.
# All traffic stays on 127.0.0.0/8. Output: the tables on stdout; raw JSON
# lines, server logs and the tables in bench/run/.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
RUN=$HERE/run
ROOT=$RUN/bootstorm-root
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(50 200 1000)
SERVERS=${SERVERS:-"phoneprov tftpd-hpa atftpd dnsmasq"}
RUN_LIMIT=${RUN_LIMIT:-240}
RETRANSMIT_MS=${RETRANSMIT_MS:-1000}
PHONEPROV=${PHONEPROV:-$TOP/target/release/phoneprov}
STORM=${STORM:-$TOP/target/release/tftp-storm}
declare -A PORT=([phoneprov]=16969 [tftpd-hpa]=16970 [atftpd]=16971 [dnsmasq]=69)

say() { echo "== $*" >&2; }
die() { echo "tftp-bootstorm: $*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "run as root: tftpd-hpa needs it even on a high port, dnsmasq's TFTP port is fixed at 69, and the CPU/memory accounting uses cgroups"
for n in "${SIZES[@]}"; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "not a number of phones: $n"; done
MAXN=$(printf '%s\n' "${SIZES[@]}" | sort -n | tail -1)
mkdir -p "$RUN"

# --- everything this script starts is stopped on exit -----------------------
SERVER_PID=""
STORM_PID=""
CGROUPS=()
POLICY_RC_ADDED=""
cleanup() {
  set +e
  if [ -n "$STORM_PID" ]; then kill -TERM "$STORM_PID" 2>/dev/null; wait "$STORM_PID" 2>/dev/null; fi
  stop_server
  for cg in "${CGROUPS[@]}"; do [ -d "$cg" ] && rmdir "$cg" 2>/dev/null; done
  if [ -n "$POLICY_RC_ADDED" ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools -------------------------------------------------------------------
install_tools() {
  local want=()
  command -v in.tftpd >/dev/null || want+=(tftpd-hpa)
  command -v dnsmasq >/dev/null || want+=(dnsmasq-base)
  command -v jq >/dev/null || want+=(jq)
  if [ ${#want[@]} -gt 0 ]; then
    [ -z "${NO_INSTALL:-}" ] || die "missing ${want[*]} and NO_INSTALL is set"
    say "installing ${want[*]}"
    # Keep the packages from starting their daemons (tftpd-hpa would take :69).
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
      POLICY_RC_ADDED=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${want[@]}" libwrap0 libpcre2-8-0 >/dev/null
    if [ -n "$POLICY_RC_ADDED" ]; then rm -f /usr/sbin/policy-rc.d; POLICY_RC_ADDED=""; fi
  fi
  ATFTPD=$(command -v atftpd || echo "$RUN/opt/atftpd/usr/sbin/atftpd")
  if [ ! -x "$ATFTPD" ]; then
    [ -z "${NO_INSTALL:-}" ] || die "atftpd missing and NO_INSTALL is set"
    say "unpacking atftpd into $RUN/opt/atftpd (it conflicts with tftpd-hpa in apt)"
    (cd "$RUN" && rm -f atftpd_*.deb &&
       { apt-get download atftpd > apt-download.log 2>&1 || { cat apt-download.log >&2; false; }; } &&
       mkdir -p opt/atftpd && dpkg-deb -x atftpd_*.deb opt/atftpd && rm -f atftpd_*.deb) ||
      die "could not unpack atftpd"
  fi
  command -v cargo >/dev/null || [ -n "${NO_BUILD:-}" ] ||
    die "cargo not found: install Rust with rustup (Debian 12's rustc is too old for this workspace)"
}

build() {
  if [ -n "${NO_BUILD:-}" ]; then return 0; fi
  say "building phoneprov and tftp-storm (release)"
  (cd "$TOP" && cargo build --release --quiet -p phoneprov -p phoneprov-sim)
}

# --- the served folder -------------------------------------------------------
make_root() {
  say "writing the SIP 8.12 set for $MAXN phones into $ROOT"
  rm -rf "$ROOT"; mkdir -p "$ROOT"
  head -c 458 /dev/urandom > "$ROOT/P0S3-8-12-00.loads"
  head -c 130956 /dev/urandom > "$ROOT/P003-8-12-00.sbn"
  head -c 756524 /dev/urandom > "$ROOT/P0S3-8-12-00.sb2"
  printf 'image_version: P0S3-8-12-00\nproxy1_address: 127.0.0.1\nnat_enable: 0\n' > "$ROOT/SIPDefault.cnf"
  printf '<Default>\n<callManagerGroup><members/></callManagerGroup>\n<loadInformation8 model="IP Phone 7940">P0S3-8-12-00</loadInformation8>\n</Default>\n' \
    > "$ROOT/XMLDefault.cnf.xml"
  local i mac
  for ((i = 1; i <= MAXN; i++)); do
    printf -v mac '0018B9%06X' "$i"
    printf 'line1_name: "%d"\nline1_authname: "%d"\nline1_password: "secret%d"\nphone_label: "%s"\n' \
      "$i" "$i" "$i" "$mac" > "$ROOT/SIP$mac.cnf"
  done
  chmod 755 "$ROOT"; chmod 644 "$ROOT"/*   # tftpd-hpa drops to nobody
}

# --- accounting: a cgroup per server run ------------------------------------
# v1 (memory + cpuacct hierarchies) or v2 (memory.peak); else /proc of the
# main pid (children only once reaped, peak RSS of the main process only).
ACCT=""
detect_accounting() {
  local mem cpu self
  mem=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/self/cgroup)
  cpu=$(awk -F: '$2 ~ /(^|,)cpuacct(,|$)/ {print $3}' /proc/self/cgroup)
  for d in /sys/fs/cgroup/cpuacct /sys/fs/cgroup/cpu,cpuacct /sys/fs/cgroup/cpuacct,cpu; do
    [ -f "$d/cpuacct.usage" ] && CG1_CPU=$d$cpu && break
  done
  CG1_MEM=/sys/fs/cgroup/memory$mem
  if [ "${ACCOUNTING:-}" = proc ]; then
    :
  elif [ -n "${CG1_CPU:-}" ] && [ -f "$CG1_MEM/memory.max_usage_in_bytes" ]; then
    local t1=$CG1_MEM/tftp-bootstorm-probe-$$ t2=$CG1_CPU/tftp-bootstorm-probe-$$
    if mkdir "$t1" 2>/dev/null && mkdir "$t2" 2>/dev/null &&
       sh -c "echo \$\$ > $t1/cgroup.procs && echo \$\$ > $t2/cgroup.procs" 2>/dev/null; then
      ACCT=cgroup-v1
    fi
    rmdir "$t1" "$t2" 2>/dev/null || true
  fi
  if [ -z "$ACCT" ] && [ "${ACCOUNTING:-}" != proc ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    # v2: a child of the root cgroup (a leaf with processes cannot have
    # children with controllers).
    local t=/sys/fs/cgroup/tftp-bootstorm-probe-$$
    grep -qw memory /sys/fs/cgroup/cgroup.subtree_control ||
      echo +memory > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
    if mkdir "$t" 2>/dev/null && [ -f "$t/memory.peak" ] &&
       sh -c "echo \$\$ > $t/cgroup.procs" 2>/dev/null; then
      ACCT=cgroup-v2
    fi
    rmdir "$t" 2>/dev/null || true
  fi
  if [ -z "$ACCT" ]; then
    ACCT=proc
    echo "WARNING: no usable cgroup; CPU is utime+stime+cutime+cstime of the server's main process and" \
         "peak RSS its VmHWM, so forked children count only once reaped and their memory not at all" >&2
  fi
  say "accounting: $ACCT"
}

# start_server NAME N: starts it in a fresh cgroup; sets SERVER_PID, CG_*.
start_server() {
  local name=$1 n=$2 port=${PORT[$1]} cap=$(($2 * 2 + 100)) log=$RUN/$1-$2.log
  local tag=tftp-bootstorm-$$-$name-$n enter=""
  if ss -Huln "sport = :$port" | grep -q .; then
    die "UDP port $port is already in use: $(ss -Hulpn "sport = :$port" | head -1)"
  fi
  case $ACCT in
    cgroup-v1)
      CG_MEM=$CG1_MEM/$tag CG_CPU=$CG1_CPU/$tag
      mkdir "$CG_MEM" "$CG_CPU"; CGROUPS+=("$CG_MEM" "$CG_CPU")
      enter="echo \$\$ > $CG_MEM/cgroup.procs; echo \$\$ > $CG_CPU/cgroup.procs;" ;;
    cgroup-v2)
      CG_V2=/sys/fs/cgroup/$tag; mkdir "$CG_V2"; CGROUPS+=("$CG_V2")
      enter="echo \$\$ > $CG_V2/cgroup.procs;" ;;
  esac
  local cmd
  case $name in
    phoneprov)
      cmd=("$PHONEPROV" tftp --root "$ROOT" --bind "127.0.0.1:$port" --max-transfers "$cap" -q)
      # One source address for every phone: lift the per-client cap too.
      if [ "$SINGLE_SOURCE" = 1 ]; then cmd+=(--max-per-client "$cap"); fi ;;
    tftpd-hpa)
      cmd=(in.tftpd -L -a "127.0.0.1:$port" -s "$ROOT") ;;
    atftpd)
      cmd=("$ATFTPD" --daemon --no-fork --port "$port" --bind-address 127.0.0.1 --user root --group root
           --maxthread "$cap" --logfile "$RUN/atftpd-$n.syslog" "$ROOT") ;;
    dnsmasq)
      cmd=(dnsmasq --port=0 --no-daemon --user=root --bind-interfaces --listen-address=127.0.0.1
           --enable-tftp --tftp-root="$ROOT" --tftp-max="$cap" --quiet-tftp
           --log-facility="$RUN/dnsmasq-$n.syslog") ;;
  esac
  sh -c "$enter exec \"\$@\"" server "${cmd[@]}" > "$log" 2>&1 &
  SERVER_PID=$!
  local i
  for ((i = 0; i < 50; i++)); do
    ss -Huln "sport = :$port" | grep -q . && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  die "$name did not start listening on 127.0.0.1:$port; see $log"
}

# Prints "cpu_seconds peak_bytes" for the running server.
server_usage() {
  case $ACCT in
    cgroup-v1) awk -v c="$(cat "$CG_CPU/cpuacct.usage")" -v m="$(cat "$CG_MEM/memory.max_usage_in_bytes")" \
                 'BEGIN { printf "%.3f %d\n", c / 1e9, m }' ;;
    cgroup-v2) awk -v c="$(awk '$1 == "usage_usec" {print $2}' "$CG_V2/cpu.stat")" -v m="$(cat "$CG_V2/memory.peak")" \
                 'BEGIN { printf "%.3f %d\n", c / 1e6, m }' ;;
    proc) awk -v hz="$(getconf CLK_TCK)" -v m="$(awk '/VmHWM/ {print $2 * 1024}' "/proc/$SERVER_PID/status")" \
            '{ sub(/^.*\) /, ""); printf "%.3f %d\n", ($12 + $13 + $14 + $15) / hz, m }' "/proc/$SERVER_PID/stat" ;;
  esac
}

# The main process's own VmHWM, for comparison with the cgroup's figure.
main_hwm() { awk '/VmHWM/ {print $2 * 1024}' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0; }

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  # Forked children (tftpd-hpa) that outlive their parent are still in the cgroup.
  local cg
  for cg in "${CGROUPS[@]}"; do
    if [ -f "$cg/cgroup.procs" ]; then xargs -r kill -KILL < "$cg/cgroup.procs" 2>/dev/null || true; fi
  done
  SERVER_PID=""
  for cg in "${CGROUPS[@]}"; do
    local j
    for ((j = 0; j < 20; j++)); do [ -d "$cg" ] && ! rmdir "$cg" 2>/dev/null || break; sleep 0.1; done
  done
  CGROUPS=()
  return 0
}

# --- one storm ---------------------------------------------------------------
RESULTS=$RUN/bootstorm-results.tsv
storm() {
  local name=$1 n=$2 port=${PORT[$1]} json usage cpu peak hwm
  say "$name, N=$n"
  start_server "$name" "$n"
  sleep 0.3
  local before; before=$(server_usage)
  # In the background with `wait`, so that Ctrl-C reaches the trap at once
  # (timeout puts the generator in a process group of its own).
  timeout --kill-after=5 "$RUN_LIMIT" "$STORM" --server "127.0.0.1:$port" --root "$ROOT" --phones "$n" \
    --retransmit-ms "$RETRANSMIT_MS" --deadline $((RUN_LIMIT - 10)) --file-deadline $((RUN_LIMIT - 10)) \
    $([ "$SINGLE_SOURCE" = 1 ] && echo --single-source) > "$RUN/storm.out" 2>>"$RUN/storm.err" &
  STORM_PID=$!
  wait "$STORM_PID" || true
  STORM_PID=""
  json=$(cat "$RUN/storm.out")
  usage=$(server_usage); hwm=$(main_hwm)
  cpu=$(awk -v a="${before% *}" -v b="${usage% *}" 'BEGIN { printf "%.3f", b - a }')
  peak=${usage#* }
  stop_server
  if [ -z "$json" ]; then
    json="{\"n\":$n,\"failures\":$n,\"retransmits\":null,\"p50_ms\":null,\"p99_ms\":null,\"max_ms\":null,\"wall_ms\":$((RUN_LIMIT * 1000)),\"bytes\":0,\"errors\":{\"killed by timeout after ${RUN_LIMIT}s\":$n}}"
  fi
  echo "$json" >> "$RUN/bootstorm-$STAMP.jsonl"
  jq -r --arg s "$name" --arg cpu "$cpu" --arg peak "$peak" --arg hwm "$hwm" \
    '[$s, .n, .failures, (.retransmits // "-"), (.p50_ms // "-"), (.p99_ms // "-"), (.max_ms // "-"),
      .wall_ms, .bytes, $cpu, $peak, $hwm,
      (.errors | to_entries | sort_by(-.value) | .[:3] | map("\(.value)x \(.key[:120])") | join("; "))] | @tsv' \
    <<<"$json" >> "$RESULTS"
}

# --- the report --------------------------------------------------------------
report() {
  awk -F'\t' -v acct="$ACCT" '
    function mib(b) { return b / 1048576 }
    function secs(ms) { return ms == "-" ? "-" : sprintf("%.2f", ms / 1000) }
    function cpg(i) { return B[i] > 0 ? CPU[i] / (B[i] / 1073741824) : -1 }
    function ratio(mine, best) { return (mine < 0 || best <= 0) ? "-" : sprintf("%.2fx", mine / best) }
    function verdict(ok) { return ok ? "PASS" : "MISS" }
    {
      i = ++rows; S[i] = $1; N[i] = $2; F[i] = $3; R[i] = $4; P50[i] = $5; P99[i] = $6; MAX[i] = $7
      W[i] = $8; B[i] = $9; CPU[i] = $10; PEAK[i] = $11; HWM[i] = $12; ERR[i] = $13
      if (!($2 in seen)) { seen[$2] = 1; order[++ns] = $2 }
    }
    END {
      allzero = 1
      for (k = 1; k <= ns; k++) {
        n = order[k]
        printf "\n### N = %d phones (SIP 8.12 set each, blksize 512)\n\n", n
        printf "| server | failures | client retransmits | p50 set (s) | p99 set (s) | max (s) | wall (s) | server CPU (s) | CPU s/GiB | peak RSS (MiB) | main VmHWM (MiB) |\n"
        printf "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        bp99 = bcpu = brss = -1; bp99s = bcpus = brsss = "none"; me = 0
        for (i = 1; i <= rows; i++) if (N[i] == n) {
          printf "| %s | %d | %s | %s | %s | %s | %s | %.2f | %s | %.1f | %s |\n", S[i], F[i], R[i], secs(P50[i]), secs(P99[i]),
            secs(MAX[i]), secs(W[i]), CPU[i], (cpg(i) < 0 ? "-" : sprintf("%.2f", cpg(i))), mib(PEAK[i]),
            (HWM[i] > 0 ? sprintf("%.1f", mib(HWM[i])) : "gone")
          if (F[i] > 0) { FAIL[++nf] = "  - " S[i] " N=" n ": " ERR[i]; if (S[i] == "phoneprov") allzero = 0 }
          if (S[i] == "phoneprov") { me = i; continue }
          # p99 is "-" when over 1% of the phones failed: the server never booted 99% of them.
          if (P99[i] != "-" && (bp99 < 0 || P99[i] + 0 < bp99)) { bp99 = P99[i] + 0; bp99s = S[i]  }
          if (cpg(i) >= 0 && (bcpu < 0 || cpg(i) < bcpu)) { bcpu = cpg(i); bcpus = S[i] }
          if (brss < 0 || PEAK[i] + 0 < brss) { brss = PEAK[i] + 0; brsss = S[i] }
        }
        if (me) {
          mp99 = P99[me] == "-" ? -1 : P99[me] + 0
          printf "\nphoneprov / best peer: p99 %s (best %s), CPU/GiB %s (best %s), peak RSS %s (best %s)\n",
            ratio(mp99, bp99), bp99s, ratio(cpg(me), bcpu), bcpus, ratio(PEAK[me] + 0, brss), brsss
          R99[n] = mp99 >= 0 && bp99 > 0 ? mp99 / bp99 : -1
          RCPU[n] = cpg(me) >= 0 && bcpu > 0 ? cpg(me) / bcpu : -1
          RSS[n] = PEAK[me] + 0; HAVE[n] = 1
        }
      }
      printf "\n### Targets (issue 2)\n\n"
      if (length(HAVE)) printf "- phoneprov: zero failures at every N: %s\n", verdict(allzero)
      if (nf) print "  failures seen (count x reason, top 3):"
      for (k = 1; k <= nf; k++) print FAIL[k]
      if (1000 in HAVE) {
        printf "- N=1000: phoneprov p99 <= 0.5x best peer: %s (%s)\n", verdict(R99[1000] >= 0 && R99[1000] <= 0.5),
          R99[1000] < 0 ? "no figure" : sprintf("%.2fx", R99[1000])
        printf "- N=1000: phoneprov CPU/GiB <= 0.5x best peer: %s (%s)\n", verdict(RCPU[1000] >= 0 && RCPU[1000] <= 0.5),
          RCPU[1000] < 0 ? "no figure" : sprintf("%.2fx", RCPU[1000])
      } else printf "- N=1000 targets: not measured in this run\n"
      worst = 0; for (n in RSS) if (RSS[n] > worst) worst = RSS[n]
      if (!length(HAVE)) print "- phoneprov was not in this run"
      if (length(HAVE)) printf "- phoneprov peak RSS < 64 MiB: %s (%.1f MiB at most)\n", verdict(worst < 64 * 1048576), mib(worst)
      printf "\nCPU and peak RSS: %s%s.\n", acct,
        acct ~ /cgroup/ ? " (the server and every process it forked; peak RSS is the cgroup'"'"'s peak charge: anonymous memory, page cache it pulled in, kernel memory). main VmHWM is the main process'"'"'s own high-water mark, which also counts shared pages of its binary and libraries (gone: the process had died)" : " (main process only, see the warning above)"
      print "Set times are the time by which 50%, 99% and all of the phones had their whole set; \"-\" when fewer than that many did, so a peer that failed over 1% of its phones has no p99 to compare with."
      print "CPU s/GiB divides the server'"'"'s CPU time by the bytes the phones received intact. Ratios below 1 favour phoneprov."
    }' "$RESULTS"
}

# --- main --------------------------------------------------------------------
install_tools
build
[ -x "$PHONEPROV" ] && [ -x "$STORM" ] || die "missing $PHONEPROV or $STORM (build them, or unset NO_BUILD)"
make_root
detect_accounting
# The phones (and dallying sockets) need ~2 descriptors each, the servers ~1 per transfer.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
SINGLE_SOURCE=0
if ! why=$("$STORM" --check-sources --phones "$MAXN" 2>&1); then
  SINGLE_SOURCE=1
  echo "WARNING: $why; every phone sends from 127.0.0.1 and phoneprov gets --max-per-client raised" >&2
fi
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
: > "$RESULTS"
say "results: $RESULTS, $RUN/bootstorm-$STAMP.jsonl"
for n in "${SIZES[@]}"; do
  for s in $SERVERS; do
    storm "$s" "$n"
    sleep 1
  done
done
{
  echo "## TFTP boot storm, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r)"
  report
} | tee "$RUN/bootstorm-$STAMP.md"
