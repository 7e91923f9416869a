#!/usr/bin/env bash
# The fuzzing suite (docs/testing.md, "Fuzzing"). Builds credbroker-fuzz with libFuzzer and
# AddressSanitizer into its own scratch path (.build-fuzz, so the ordinary build keeps its
# flags), then runs each target from its committed seeds (Fuzz/corpus/TARGET,
# Fuzz/regressions/TARGET) with its dictionary, and prints per target the executions,
# executions per second, corpus size and crashes.
#
#   scripts/fuzz.sh [--seconds N | --runs N] [--corpus-dir DIR] [--keep]
#                   [--no-build | --build-only] [TARGET...]
#
#   --seconds N      fuzz each target for N seconds (default 30: the short mode `make test` runs)
#   --runs N         fuzz each target for N executions instead (the nightly long mode:
#                    scripts/fuzz.sh --runs 100000000 --corpus-dir DIR)
#   --corpus-dir DIR keep the inputs libFuzzer finds in DIR/TARGET, to start from them
#                    next time (default: the scratch directory)
#   --keep           keep the scratch directory (grown corpus, logs) even when all pass
#   --no-build       use the binary already in .build-fuzz
#   --build-only     build it and stop (before several runs in parallel with --no-build)
#   TARGET...        some of: api api-json audit-verify import-file policy provider-answer token-response vault-record (default: all)
#
# New inputs libFuzzer finds never go into the committed corpus.
# A crash, a broken invariant, a leak, a timeout (10 s for one input) or running out of
# memory (2 GiB) fails the run: the script names the artifact, keeps the scratch directory
# and exits 1. Reproduce a crash with the ordinary build:
#   swift build --product credbroker-fuzz && .build/debug/credbroker-fuzz TARGET ARTIFACT
# and, once fixed, add the artifact to Fuzz/regressions/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
runs=
keep=0
build=1
build_only=0
corpus_dir=
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="${2:?--seconds needs a number}"; runs=; shift 2 ;;
        --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
        --corpus-dir) corpus_dir="${2:?--corpus-dir needs a directory}"; shift 2 ;;
        --keep) keep=1; shift ;;
        --no-build) build=0; shift ;;
        --build-only) build_only=1; shift ;;
        -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fuzz.sh: error: unknown option \"$1\"" >&2; exit 64 ;;
        *) targets+=("$1"); shift ;;
    esac
done
case "$seconds$runs" in *[!0-9]*) echo "fuzz.sh: error: --seconds and --runs take whole numbers" >&2; exit 64 ;; esac
if [ -n "$corpus_dir" ]; then
    mkdir -p "$corpus_dir"
    case "$(cd "$corpus_dir" && pwd -P)/" in
        "$(pwd -P)/Fuzz/"*) echo "fuzz.sh: error: --corpus-dir must be outside Fuzz/ (the committed corpus holds seeds only)" >&2; exit 64 ;;
    esac
fi

scratch_path=.build-fuzz
if [ "$build" = 1 ]; then
    runtime=$(ls /opt/swift/usr/lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a 2>/dev/null | head -1 || true)
    [ -n "$runtime" ] || runtime=$(ls "$(dirname "$(command -v swift)")"/../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a 2>/dev/null | head -1 || true)
    [ -n "$runtime" ] || { echo "fuzz.sh: error: the toolchain has no libclang_rt.fuzzer_no_main-x86_64.a" >&2; exit 1; }
    start=$(date +%s)
    echo "fuzz.sh: building credbroker-fuzz with libFuzzer and AddressSanitizer into $scratch_path"
    # What -sanitize=fuzzer does, spelled out: -sanitize=fuzzer links libFuzzer's main
    # whole-archive, and SwiftPM links every executable with --defsym main=<module>_main,
    # so the two mains clash. Instead: the same coverage instrumentation (inline 8-bit
    # counters, PC tables, comparison tracing) for Swift, and through -Xcc for the C
    # targets (CSystemShims); libFuzzer without its main; and
    # CREDBROKER_LIBFUZZER, which makes CLibFuzzer call LLVMFuzzerRunDriver from ours
    # (libFuzzer is C++: it needs libstdc++).
    swift build -c release --scratch-path "$scratch_path" --product credbroker-fuzz \
        -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,indirect-calls,inline-8bit-counters,pc-table,trace-cmp \
        -Xcc -fsanitize=fuzzer-no-link,address -Xcc -DCREDBROKER_LIBFUZZER \
        -Xlinker --whole-archive -Xlinker "$runtime" -Xlinker --no-whole-archive -Xlinker -lstdc++
    echo "fuzz.sh: built in $(( $(date +%s) - start )) s"
fi
[ "$build_only" = 1 ] && exit 0
binary="$(swift build -c release --scratch-path "$scratch_path" --show-bin-path)/credbroker-fuzz"
[ -x "$binary" ] || { echo "fuzz.sh: error: $binary is missing; run without --no-build" >&2; exit 1; }

# Target names and -max_len come from the binary, so the list lives in one place.
declare -A max_len options
all=()
while IFS=$'\t' read -r name length flags _; do
    all+=("$name")
    max_len[$name]=$length
    [ "$flags" = - ] && flags=
    options[$name]=$flags
done < <("$binary" list)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
    [ -n "${max_len[$t]:-}" ] || { echo "fuzz.sh: error: unknown target \"$t\" (targets: ${all[*]})" >&2; exit 64; }
done

scratch=$(mktemp -d "${TMPDIR:-/tmp}/credbroker-fuzz.XXXXXX")
if [ -n "$runs" ]; then budget=(-runs="$runs"); mode="$runs runs"; else budget=(-max_total_time="$seconds"); mode="$seconds s"; fi
echo "fuzz.sh: $mode per target; scratch directory $scratch"

failed=0
report=()
for t in "${targets[@]}"; do
    work="${corpus_dir:-$scratch/corpus}/$t"
    artifacts="$scratch/artifacts/$t"
    mkdir -p "$work" "$artifacts" "$scratch/tmp/$t"
    seeds=(Fuzz/corpus/"$t")
    [ -d Fuzz/regressions/"$t" ] && seeds+=(Fuzz/regressions/"$t")
    dict=()
    [ -f Fuzz/dictionaries/"$t".dict ] && dict=(-dict=Fuzz/dictionaries/"$t".dict)
    log="$scratch/$t.log"
    read -r -a extra <<< "${options[$t]}"
    command=("$binary" "$t" "${budget[@]}" -max_len="${max_len[$t]}" -rss_limit_mb=2048 -timeout=10
             -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" "${extra[@]}" "$work" "${seeds[@]}")
    echo "fuzz.sh: $t: ${command[*]}"
    set +e
    # TMPDIR: the targets' own files (the harness's audit log, the vault) go to the scratch
    # directory too. SWIFT_BACKTRACE: libFuzzer reports a crash itself; the Swift runtime's
    # backtracer would read memory AddressSanitizer has poisoned and report that instead.
    TMPDIR="$scratch/tmp/$t" SWIFT_BACKTRACE=enable=no \
        "${command[@]}" > "$log" 2>&1
    status=$?
    set -e
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    per_second=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    corpus=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 | sed 's/corp: //' || true)
    found=$(find "$artifacts" -type f | wc -l)
    if [ "$status" != 0 ] || [ "$found" != 0 ]; then
        failed=1
        result="FAILED (exit $status)"
        echo "fuzz.sh: $t FAILED; the log's end:" >&2
        tail -40 "$log" >&2
        for a in "$artifacts"/*; do [ -e "$a" ] && echo "fuzz.sh: $t: artifact $a" >&2; done
    else
        result=ok
    fi
    report+=("$(printf '%-15s %14s %10s %12s %8s %8s  %s' "$t" "${executions:-?}" "${per_second:-?}" "${corpus:-?}" "${rss:-?}" "$found" "$result")")
done

echo
printf '%-15s %14s %10s %12s %8s %8s  %s\n' target executions exec/s corpus rss_mb crashes result
for line in "${report[@]}"; do echo "$line"; done
if [ "$failed" = 1 ]; then
    echo "fuzz.sh: failures; logs and artifacts kept in $scratch" >&2
    exit 1
fi
if [ "$keep" = 1 ]; then
    echo "fuzz.sh: kept $scratch (grown corpus under corpus/, logs)"
else
    rm -rf "$scratch"
fi
