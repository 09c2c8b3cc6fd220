#!/usr/bin/env bash
# Rebuilds the three versions of prog.c and regenerates every capture in this
# directory: v{1,2,3}-pod{0..3}.perf.txt (perf script text, one process run
# per "pod"), then prints the shares table (shares.py).
#
# Needs gcc, perf and python3, run as root (or kernel.perf_event_paranoid <= 1
# for the cpu-clock software event with call graphs). Binaries and perf.data
# live in a temporary directory that is removed at the end; nothing but the
# .perf.txt files is written here.
#
# Knobs (environment): REQUESTS (2000) and UNIT (2400 xorshift iterations per
# cost unit) set the work of one run: ~0.8 s for v1 on a 2-core AMD EPYC VM,
# ~1.07 s for v2, ~800 / ~1070 samples; the run is this short so that the 12
# files stay under 4 MB. FREQ (999 Hz) and PODS (4) set the sampling.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
REQUESTS=${REQUESTS:-2000}
UNIT=${UNIT:-2400}
FREQ=${FREQ:-999}
PODS=${PODS:-4}
CFLAGS=(-O1 -fno-omit-frame-pointer -g)

work=$(mktemp -d /tmp/rc.XXXXXX) # short: it is in every frame line
trap 'rm -rf "$work"' EXIT

for v in 1 2 3; do
    gcc "${CFLAGS[@]}" -DVARIANT="$v" -o "$work/prog-v$v" "$here/prog.c"
done

for v in 1 2 3; do
    # Every version runs as the same path, so comm ("prog") and the dso name
    # are equal across versions, as for one app's successive releases.
    cp "$work/prog-v$v" "$work/prog"
    for ((pod = 0; pod < PODS; pod++)); do
        # setarch -R: no ASLR, so libc's addresses are the same in every run.
        # -N: no build-id cache in ~/.debug.
        setarch "$(uname -m)" -R \
            perf record -q -N -e cpu-clock -g -F "$FREQ" -o "$work/perf.data" \
            -- "$work/prog" "$REQUESTS" "$UNIT"
        # Symbolize while the binary exists. These fields are what
        # stackcollapse-perf.pl and inferno-collapse-perf read: a header line
        # per sample, then "ip symbol (dso)" per frame, leaf first, and a
        # blank line between samples. period (ns for cpu-clock) gives a
        # nanoseconds sample type; the symbol offsets (+0x..) are left out.
        perf script -i "$work/perf.data" -F comm,pid,tid,time,period,event,ip,sym,dso \
            > "$here/v$v-pod$pod.perf.txt"
        echo "v$v pod$pod: $(grep -c ' cpu-clock: ' "$here/v$v-pod$pod.perf.txt") samples"
    done
done

python3 "$here/shares.py" "$here"
