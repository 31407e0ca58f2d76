#!/usr/bin/env bash
# Fuzzes ShardTrain's decoders with libFuzzer and AddressSanitizer (the package in Fuzz/, built once per change).
#
#   scripts/fuzz.sh TARGET SECONDS   run one target for SECONDS on a copy of its seed corpus Tests/Fuzz/TARGET
#   scripts/fuzz.sh all SECONDS      run every target in turn for SECONDS each
#   scripts/fuzz.sh seeds            rewrite the generated seeds (frames, job specs, model files) from the encoders
#
# Targets: frame (WireCodec.decode), jobspec (JobSpec.decode), csv (CSVReader.parse), npy (NumpyReader.read),
# safetensors (SafetensorsFile.decode), modelfile (ModelFile.read). The working corpus, the log and any crashing
# input (crash-…, leak-…, oom-…, timeout-…) go to out/fuzz/TARGET/; the script exits non-zero when a target fails.
# Extra libFuzzer options or corpus folders can be passed in FUZZ_OPTIONS (e.g. FUZZ_OPTIONS=-runs=1000000).
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(frame jobspec csv npy safetensors modelfile)
usage() { echo "usage: scripts/fuzz.sh {$(IFS='|'; echo "${targets[*]}")|all} SECONDS | scripts/fuzz.sh seeds" >&2; exit 2; }

if [[ ${1:-} == seeds ]]; then
    swift build --package-path Fuzz --force-resolved-versions --product fuzz-seeds
    exec Fuzz/.build/debug/fuzz-seeds Tests/Fuzz
fi
(($# == 2)) && [[ $2 =~ ^[0-9]+$ ]] || usage
if [[ $1 == all ]]; then
    selected=("${targets[@]}")
else
    [[ " ${targets[*]} " == *" $1 "* ]] || usage
    selected=("$1")
fi
seconds=$2

for target in "${selected[@]}"; do
    swift build --package-path Fuzz --force-resolved-versions -c release -Xswiftc -sanitize=fuzzer,address \
        --product "fuzz-$target"
done

# Readers that take a path get each input through a file in this folder (memory, not disk).
input_dir=$(mktemp -d "$( [[ -d /dev/shm ]] && echo /dev/shm || echo "${TMPDIR:-/tmp}" )/shardtrain-fuzz.XXXXXX")
trap 'rm -rf "$input_dir"' EXIT
export SHARDTRAIN_FUZZ_DIR=$input_dir
# A Swift trap goes straight to libFuzzer (which saves the input): Swift's own backtracer, started first,
# can take minutes to symbolicate an AddressSanitizer binary.
export SWIFT_BACKTRACE=enable=no

failed=()
for target in "${selected[@]}"; do
    work=out/fuzz/$target
    rm -rf "$work/corpus"
    mkdir -p "$work/corpus"
    cp Tests/Fuzz/"$target"/* "$work/corpus/"
    echo "fuzz: $target for $seconds s (log: $work/fuzz.log)" >&2
    # -timeout: one input may take at most 10 s; -rss_limit_mb and -malloc_limit_mb: 512 MB.
    # shellcheck disable=SC2086
    if Fuzz/.build/release/fuzz-"$target" -max_total_time="$seconds" -rss_limit_mb=512 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$work/" ${FUZZ_OPTIONS:-} "$work/corpus" >"$work/fuzz.log" 2>&1; then
        grep -E '^#[0-9]+[[:space:]]+DONE' "$work/fuzz.log" | tail -1 >&2 || true
        grep -E '^stat::number_of_executed_units' "$work/fuzz.log" >&2 || true
    else
        failed+=("$target")
        tail -40 "$work/fuzz.log" >&2
    fi
done
if ((${#failed[@]})); then
    echo "fuzz: FAILED: ${failed[*]} (inputs in out/fuzz/<target>/)" >&2
    exit 1
fi
