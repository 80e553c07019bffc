#!/usr/bin/env bash
# Issue 33: seeds 4 and 5 of the five compute-matched rows (the seed list
# 0, 1, 2, 4, 5 was fixed before any of these runs), one run at a time, each
# committed (results.json, history.csv, flags.txt) as soon as it ends.
# Resumable: a finished, committed run is skipped; a run killed midway resumes
# from its newest checkpoint (apps/train.py does that itself).
#
#   nohup nice -n 19 bash docs/results/compute_matched_convnet_cifar10/run_n5.sh &
#
# Run it from the repository root, with the real CIFAR-10 unpacked to
# ~/.cache/keras_tna/cifar10-jpeg (tests/conftest.py does it) and the project's
# virtual environment active.
set -u
E=configs/evidence
T=docs/results/table1_convnet_cifar10_20ep/runs
C=docs/results/compute_matched_convnet_cifar10/runs
for seed in 4 5; do
  for row in "20ep single $T/single" "20ep tna $T/tna" "20ep ensemble $T/ensemble" \
             "wide20 single $C/wide20/single" "single40 single $C/single40/single"; do
    set -- $row
    flagfile=$E/convnet_cifar10_$1.flags method=$2 dir=$3/seed_$seed
    if git ls-files --error-unmatch "$dir/results.json" >/dev/null 2>&1; then
      echo "skip $dir (committed)"; continue
    fi
    echo "$(date -u +%FT%TZ) start $dir"
    nice -n 19 python apps/train.py --flagfile=$flagfile --methods=$method --seeds=$seed
    echo "$(date -u +%FT%TZ) end $dir rc=$?"
    [ -f "$dir/results.json" ] || continue
    git add -f "$dir/results.json" "$dir/history.csv" "$dir/flags.txt"
    git commit -q -m "Issue 33: ${dir#docs/results/} finished" -- \
      "$dir/results.json" "$dir/history.csv" "$dir/flags.txt"
  done
done
