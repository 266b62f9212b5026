# shellcheck shell=bash
# shellcheck disable=SC2154 # root, prog, baseline, out, target_ratio, pid, proc_name: set by the caller
#
# Shared pieces of scripts/bench-provider and scripts/bench-resource: authflow side by side with
# a Node.js baseline from bench/oidc-provider under wrk, with CPU accounting, waits for a quiet
# machine, interleaved rounds, medians and the markdown results file. Defines functions and a few
# variables only; source it from a `set -euo pipefail` script:
#
#   source "$root/scripts/lib/wrk-bench.sh"
#
# The caller sets:
#   root           the repository root             prog          its name, for messages
#   baseline       bench/oidc-provider's path      out           the markdown file to write
#   target_ratio   the req/s ratio authflow/baseline aimed at
#   work, pids     via make_workdir; pids: the server processes stopped on exit
#   pid[NAME]      (associative) the server side's process ids for NAME, separated by blanks;
#                  their CPU is counted together
#   proc_name[PID] (associative) a name for each of those processes; needed when a NAME has
#                  more than one, optional otherwise
# and defines two functions called from here:
#   run NAME SECONDS LABEL   one wrk run against NAME: calls `measure NAME SECONDS LABEL WRK_ARGS...`
#                            and, unless LABEL is warmup, prints the figures in $work/last
#   table FILE               the markdown table of the runs in FILE
#
# Provides: log die rel, read_settings (the BENCH_* knobs), ensure_tools, find_target_dir,
# build_worktree, make_workdir cleanup, wait_listening, lua_done, machine_ticks proc_ticks to_ticks,
# others_building busy_pct over wait_quiet, measure timed run_rounds, median ratio_of figures,
# md_head md_run_rows md_results, finish.

log() { printf '==> %s\n' "$*" >&2; }
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }
# A path as a reader can use it: relative to the checkout, or `target/...` for a build
# directory elsewhere (CARGO_TARGET_DIR), never this machine's absolute path.
rel() {
    local p="${1#"$root"/}"
    if [ -n "${target_dir:-}" ] && [ "${p#"$target_dir"/}" != "$p" ]; then
        p="target/${p#"$target_dir"/}"
    fi
    printf '%s' "$p"
}

# --- settings ------------------------------------------------------------------------------
# read_settings: the BENCH_* knobs common to both scripts (see their headers) into seconds,
# rounds, warmup, connections, threads, wait_max, max_other, retries, checked; ncpu, hz.
read_settings() {
    local v
    seconds="${BENCH_SECONDS:-10}"
    rounds="${BENCH_ROUNDS:-3}"
    warmup="${BENCH_WARMUP:-3}"
    connections="${BENCH_CONNECTIONS:-32}"
    threads="${BENCH_THREADS:-2}"
    wait_max="${BENCH_WAIT_MAX:-1800}"
    max_other="${BENCH_MAX_OTHER:-15}"
    retries="${BENCH_RETRIES:-3}"
    for v in seconds rounds warmup connections threads wait_max max_other retries; do
        [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
    done
    if [ "$seconds" -lt 1 ] || [ "$rounds" -lt 1 ]; then die "BENCH_SECONDS and BENCH_ROUNDS must be >= 1"; fi
    ncpu="$(nproc)"
    hz="$(getconf CLK_TCK)"
}

# --- tools ---------------------------------------------------------------------------------
# ensure_tools: wrk (installed through apt when missing), node, curl, and bench/oidc-provider's
# node_modules (npm ci when missing).
ensure_tools() {
    local sudo
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    if ! command -v wrk >/dev/null 2>&1; then
        log "installing wrk (apt)"
        timeout 600 $sudo apt-get update -qq >/dev/null
        timeout 600 $sudo apt-get install -y -qq wrk >/dev/null
    fi
    command -v node >/dev/null 2>&1 || die "node is not installed (bench/oidc-provider needs Node.js >= 20)"
    command -v curl >/dev/null 2>&1 || die "curl is not installed"
    if [ ! -d "$baseline/node_modules/oidc-provider" ]; then
        log "installing bench/oidc-provider dependencies (npm ci)"
        (cd "$baseline" && timeout 600 npm ci --no-audit --no-fund --loglevel=error)
    fi
}

# --- authflow binary -----------------------------------------------------------------------
# find_target_dir: cargo's target directory into target_dir.
find_target_dir() {
    target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
    target_dir="${target_dir:-$root/target}"
}

# build_worktree: builds the release binary from the working tree. Sets git_rev (for the
# results file), build (the command) and bin.
build_worktree() {
    git_rev="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    if [ -n "$(git status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]; then
        git_rev="$git_rev + uncommitted changes under crates/ or Cargo.*"
    fi
    build=(cargo build --release -q -p authflow-cli)
    log "building authflow (${build[*]})"
    timeout 3600 "${build[@]}"
    # shellcheck disable=SC2034 # for the caller
    bin="$target_dir/release/authflow"
}

# --- servers -------------------------------------------------------------------------------
# make_workdir: a temporary directory into work and an empty pids; on exit, cleanup stops the
# processes in pids and removes work.
make_workdir() {
    work="$(mktemp -d)"
    pids=()
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}

# wait_listening NAME OUTFILE ERRFILE PID: the `http://127.0.0.1:PORT` a server printed.
wait_listening() {
    local name="$1" outf="$2" errf="$3" p="$4" addr=""
    for _ in $(seq 1 150); do
        addr="$(grep -so 'listening on http://[^ ]*' "$outf" | head -n1 | sed 's/^listening on //')"
        [ -n "$addr" ] && break
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$addr" ]; then
        echo "$prog: $name did not start; its output:" >&2
        cat "$outf" "$errf" >&2
        exit 1
    fi
    [[ "$addr" =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || die "$name listens on $addr, not on 127.0.0.1"
    printf '%s\n' "$addr"
}

# lua_done: the wrk Lua `done` callback that prints the error counts measure reads.
lua_done() {
    cat <<'LUA'
done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("bench: requests=%d status_errors=%d socket_errors=%d\n",
        summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
LUA
}

# --- CPU accounting ------------------------------------------------------------------------
# "busy total" clock ticks of the whole machine, summed over all cores.
machine_ticks() { awk '/^cpu /{t=0; for(i=2;i<=9;i++) t+=$i; print t-$5-$6, t; exit}' /proc/stat; }
# user+system clock ticks of one process, all its threads.
proc_ticks() { awk '{sub(/.*\) /,""); print $12+$13}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# `times` output (e.g. 0m1.230s) to clock ticks.
to_ticks() { awk -v s="$1" -v hz="$hz" 'BEGIN{split(s,a,"m"); sub(/s$/,"",a[2]); printf "%d", (a[1]*60+a[2])*hz}'; }

# --- quiet machine -------------------------------------------------------------------------
# Compilers, and cargo commands that build (a long-lived `cargo run` server is left to the CPU check).
others_building() {
    local p
    for p in rustc clippy-driver cargo-clippy; do pgrep -a -x "$p" || true; done
    pgrep -a -x cargo | grep -E ' (build|b|test|t|check|c|clippy|doc|bench|install|nextest|llvm-cov)( |$)' || true
}
# Percentage of the machine's CPU busy over 2 seconds (the servers are idle then).
busy_pct() {
    local b0 t0 b1 t1
    read -r b0 t0 < <(machine_ticks)
    sleep 2
    read -r b1 t1 < <(machine_ticks)
    awk -v b="$((b1 - b0))" -v t="$((t1 - t0))" 'BEGIN{printf "%.1f", (t>0? 100*b/t : 0)}'
}
over() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a>b)}'; }
waited=0
busy_starts=0
# Waits, within the BENCH_WAIT_MAX budget, until no cargo/rustc runs and the CPU is idle.
wait_quiet() {
    local said="" busy
    while :; do
        if [ -n "$(others_building)" ]; then
            [ -n "$said" ] || { log "other cargo/rustc processes are running; waiting (budget left $((wait_max - waited))s):"; others_building | cut -c1-160 >&2; }
        else
            busy="$(busy_pct)"
            waited=$((waited + 2))
            over "$busy" "$max_other" || return 0
            [ -n "$said" ] || log "the machine is ${busy}% busy without the benchmark; waiting (budget left $((wait_max - waited))s)"
        fi
        said=1
        if [ "$waited" -ge "$wait_max" ]; then
            log "WARNING: the machine is still busy after ${waited}s of waiting; measuring anyway"
            busy_starts=$((busy_starts + 1))
            return 0
        fi
        sleep 5
        waited=$((waited + 5))
    done
}

# --- runs ----------------------------------------------------------------------------------
# measure NAME SECONDS LABEL WRK_ARGS...: one run of `wrk -t$threads -c$connections
# -d${SECONDS}s WRK_ARGS...` (WRK_ARGS: the Lua script, headers, the URL) against NAME, whose
# server processes are ${pid[NAME]}. Unless LABEL is warmup, writes to $work/last
#   LABEL NAME REQ/S LATENCY NON2XX SOCKET_ERRORS SERVER_CORES WRK_CORES OTHER_CORES OTHER_PCT SPLIT
# (CPU as cores busy on average, OTHER_PCT as a share of the whole machine, SPLIT the server
# cores per process when the server side has several, else -).
measure() {
    local n="$1" secs="$2" label="$3" f="$work/wrk.$3.$1" b0 t0 b1 t1 wu ws p i
    local -a procs s0=() s1=()
    shift 3
    read -ra procs <<<"${pid[$n]}"
    read -r b0 t0 < <(machine_ticks)
    for p in "${procs[@]}"; do s0+=("$(proc_ticks "$p")"); done
    (
        rc=0
        timeout $((secs + 30)) wrk -t"$threads" -c"$connections" -d"${secs}s" "$@" >"$f" || rc=$?
        times >"$f.times" # line 2: CPU time of this subshell's waited-for children, i.e. wrk
        exit "$rc"
    ) || { cat "$f" >&2; die "wrk against $n failed"; }
    read -r b1 t1 < <(machine_ticks)
    for p in "${procs[@]}"; do s1+=("$(proc_ticks "$p")"); done
    for p in "${procs[@]}"; do
        kill -0 "$p" 2>/dev/null || die "$n${proc_name[$p]:+ (${proc_name[$p]})} exited during the run"
    done
    [ "$label" = warmup ] && return 0
    wu="$(to_ticks "$(awk 'NR==2{print $1}' "$f.times")")"
    ws="$(to_ticks "$(awk 'NR==2{print $2}' "$f.times")")"
    local rps lat se ke cpu s=0 split=- cores
    rps="$(sed -n 's/^Requests\/sec: *//p' "$f")"
    lat="$(awk '$1=="Latency"{print $2; exit}' "$f")"
    se="$(sed -n 's/.*status_errors=\([0-9]*\).*/\1/p' "$f")"
    ke="$(sed -n 's/.*socket_errors=\([0-9]*\).*/\1/p' "$f")"
    if [ -z "$rps" ] || [ -z "$se" ]; then cat "$f" >&2; die "could not read wrk's output for $n"; fi
    for i in "${!procs[@]}"; do s=$((s + s1[i] - s0[i])); done
    if [ "${#procs[@]}" -gt 1 ]; then
        split=""
        for i in "${!procs[@]}"; do
            cores="$(awk -v d="$((s1[i] - s0[i]))" -v t="$((t1 - t0))" -v c="$ncpu" 'BEGIN{if(t<1)t=1; printf "%.2f", c*d/t}')"
            split="${split:+$split+}${proc_name[${procs[i]}]}:$cores"
        done
    fi
    cpu="$(awk -v b="$((b1 - b0))" -v t="$((t1 - t0))" -v s="$s" -v w="$((wu + ws))" -v c="$ncpu" \
        'BEGIN{o=b-s-w; if(o<0)o=0; if(t<1)t=1; printf "%.2f %.2f %.2f %.1f", c*s/t, c*w/t, c*o/t, 100*o/t}')"
    echo "$label $n $rps $lat $se $ke $cpu $split" >"$work/last"
}

# timed NAME ROUND: a timed run, repeated (up to BENCH_RETRIES times) while other processes
# took more than BENCH_MAX_OTHER percent of the CPU; kept runs go to $work/runs, discarded
# ones to $work/discarded.
timed() {
    local attempt=0
    while :; do
        wait_quiet
        run "$1" "$seconds" "$2"
        if over "$(awk '{print $10}' "$work/last")" "$max_other" && [ "$attempt" -lt "$retries" ]; then
            log "discarding this run: other processes used more than ${max_other}% of the CPU; running it again"
            cat "$work/last" >>"$work/discarded"
            attempt=$((attempt + 1))
            continue
        fi
        cat "$work/last" >>"$work/runs"
        return 0
    done
}

# run_rounds NAME1 NAME2: waits for a quiet machine, warms both up, then BENCH_ROUNDS rounds of
# timed runs, NAME1 first in odd rounds and NAME2 first in even ones. Sets load_before,
# uptime_before, uptime_after (without leading blanks) and started.
run_rounds() {
    local n r
    local -a order
    wait_quiet
    load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
    uptime_before="$(uptime | sed 's/^ *//')"
    log "load averages before the runs: $load_before ($ncpu cores)"

    if [ "$warmup" -gt 0 ]; then
        log "warming up (${warmup}s each)"
        for n in "$@"; do run "$n" "$warmup" warmup; done
    fi

    started="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    log "timed runs: $rounds rounds x ${seconds}s, order alternating"
    : >"$work/runs"
    : >"$work/discarded"
    for r in $(seq 1 "$rounds"); do
        if [ $((r % 2)) -eq 1 ]; then order=("$1" "$2"); else order=("$2" "$1"); fi
        for n in "${order[@]}"; do timed "$n" "$r"; done
    done
    uptime_after="$(uptime | sed 's/^ *//')"
}

# --- figures -------------------------------------------------------------------------------
# median FIELD NAME: the median of a field (3 = req/s) over NAME's kept runs;
# field "eff" = req/s per server core.
median() {
    awk -v f="$1" -v n="$2" '$2==n{print (f=="eff" ? ($7>0 ? $3/$7 : 0) : $f)}' "$work/runs" | sort -g |
        awk '{v[NR]=$1} END{if(NR%2) printf "%.2f", v[(NR+1)/2]; else printf "%.2f", (v[NR/2]+v[NR/2+1])/2}'
}
ratio_of() { awk -v a="$1" -v o="$2" 'BEGIN{printf "%.2f", (o>0? a/o : 0)}'; }

# figures NAME1 NAME2: from the kept runs, sets med_a, med_o (median req/s of NAME1, NAME2),
# ratio, meets (ratio >= target_ratio: yes or no), eff_a, eff_o, eff_ratio (the same per server
# CPU core), status_errors and socket_errors (summed).
figures() {
    med_a="$(median 3 "$1")"
    med_o="$(median 3 "$2")"
    ratio="$(ratio_of "$med_a" "$med_o")"
    meets="$(awk -v r="$ratio" -v t="$target_ratio" 'BEGIN{print (r>=t? "yes" : "no")}')"
    eff_a="$(median eff "$1")"
    eff_o="$(median eff "$2")"
    eff_ratio="$(ratio_of "$eff_a" "$eff_o")"
    status_errors="$(awk '{s+=$5} END{print s+0}' "$work/runs")"
    socket_errors="$(awk '{s+=$6} END{print s+0}' "$work/runs")"
}

# --- results file --------------------------------------------------------------------------
# md_head TITLE: the title, and the settings table's header and first rows (date, machine).
md_head() {
    local cpu_model
    cpu_model="$(lscpu | sed -n 's/^Model name: *//p' | head -n1)"
    echo "# $1"
    echo
    echo "Written by \`scripts/$prog\` from its own measurements; do not edit by hand."
    echo
    echo "| | |"
    echo "| --- | --- |"
    echo "| date | $started |"
    echo "| machine | $ncpu cores (\`nproc\`), ${cpu_model:-unknown CPU} (\`lscpu\` model name), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) |"
}

# md_run_rows: the settings table's last rows (node, wrk, runs, load, other work).
md_run_rows() {
    local max_seen load_verdict quiet_note
    max_seen="$(awk 'BEGIN{m=0} {if($10>m)m=$10} END{printf "%.1f", m}' "$work/runs")"
    load_verdict="$(awk -v l="${load_before%% *}" -v c="$ncpu" 'BEGIN{print (l>=c? "high" : (l>=c/2? "moderate" : "low"))}')"
    if [ "$busy_starts" -gt 0 ]; then
        quiet_note="still busy at the start of $busy_starts timed run(s) after waiting ${waited}s in all: those figures are disturbed"
    elif [ "$waited" -gt 0 ]; then
        quiet_note="quiet at the start of every timed run (waited ${waited}s in all for that)"
    else
        quiet_note="quiet at the start of every timed run"
    fi
    echo "| node | $(node -v) |"
    echo "| wrk | $(wrk -v 2>&1 | head -n1 | awk '{print $2}') |"
    echo "| runs | $rounds rounds x ${seconds}s per server, order alternating by round, after ${warmup}s warm-up each; wrk -t$threads -c$connections |"
    echo "| load before the runs | \`$uptime_before\`: 1-min load ${load_before%% *} on $ncpu cores, **$load_verdict** (it lags by about a minute, so it still counts the build just before) |"
    echo "| load after the runs | \`$uptime_after\` (counts the benchmark itself) |"
    echo "| other work on the machine | $quiet_note: no cargo/rustc running and CPU at most ${max_other}% busy over 2 s; during the kept runs other processes used at most ${max_seen}% of the machine; runs where they used more than ${max_other}% were discarded and repeated (up to ${retries} times): $(wc -l <"$work/discarded") discarded |"
}

# md_results NAME1 NAME2: the Results section: the kept runs (with the caller's table), the
# medians and ratios from figures, the discarded runs and a note if any answer was not 2xx.
md_results() {
    echo
    echo "## Results"
    echo
    table "$work/runs"
    echo
    echo "| | median of $rounds |"
    echo "| --- | ---: |"
    echo "| $1 | $med_a req/s |"
    echo "| $2 | $med_o req/s |"
    echo "| **ratio $1 / $2** | **${ratio}x** (target ≥ ${target_ratio}x: **$meets**) |"
    echo "| req/s per server CPU core: $1 | $eff_a |"
    echo "| req/s per server CPU core: $2 | $eff_o |"
    echo "| ratio per server CPU core | ${eff_ratio}x |"
    echo
    if [ -s "$work/discarded" ]; then
        echo "Discarded runs (other processes took more than ${max_other}% of the CPU; each was run again):"
        echo
        table "$work/discarded"
        echo
    fi
    if [ "$status_errors" -gt 0 ]; then
        echo "**Invalid: $status_errors non-2xx responses during the timed runs.**"
        echo
    fi
}

# finish: moves $out.tmp, the results file written, to $out; fails if a timed run saw non-2xx
# answers, warns about socket errors.
finish() {
    mv "$out.tmp" "$out"
    log "wrote $(rel "$out")"
    [ "$status_errors" -eq 0 ] || die "$status_errors non-2xx responses during the timed runs: the figures are invalid"
    [ "$socket_errors" -eq 0 ] || log "WARNING: $socket_errors socket errors during the timed runs"
}
