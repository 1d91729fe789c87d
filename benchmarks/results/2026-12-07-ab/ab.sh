#!/bin/bash
# A/B: W2 and W4 at 1 and 2 workers: before (6ebccd9), current in-thread, current with helpers; alternated 3 times.
for i in 1 2 3; do
  (cd /tmp/before && /work/venv-before/bin/python benchmarks/w2_video_decode.py --backends spdl-rgb24 --threads 1 2 --rounds 4 --passes 1 --out /tmp/ab-w2-before.jsonl > /dev/null 2>&1)
  (cd /work/main && SPDL_DEMUX_PROCESSES=0 /work/venv/bin/python benchmarks/w2_video_decode.py --backends spdl-rgb24 --threads 1 2 --rounds 4 --passes 1 --out /tmp/ab-w2-inthread.jsonl > /dev/null 2>&1)
  (cd /work/main && /work/venv/bin/python benchmarks/w2_video_decode.py --backends spdl-rgb24 --threads 1 2 --rounds 4 --passes 1 --out /tmp/ab-w2-helpers.jsonl > /dev/null 2>&1)
  (cd /tmp/before && /work/venv-before/bin/python benchmarks/w4_audio.py --backends spdl,spdl-futures --threads 1 2 --rounds 6 --passes 1 --out /tmp/ab-w4-before.jsonl > /dev/null 2>&1)
  (cd /work/main && SPDL_DEMUX_PROCESSES=0 /work/venv/bin/python benchmarks/w4_audio.py --backends spdl,spdl-futures --threads 1 2 --rounds 6 --passes 1 --out /tmp/ab-w4-inthread.jsonl > /dev/null 2>&1)
  (cd /work/main && /work/venv/bin/python benchmarks/w4_audio.py --backends spdl,spdl-futures --threads 1 2 --rounds 6 --passes 1 --out /tmp/ab-w4-helpers.jsonl > /dev/null 2>&1)
done
echo DONE > /tmp/ab.done
