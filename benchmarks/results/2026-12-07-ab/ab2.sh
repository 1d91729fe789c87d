#!/bin/bash
rm -f /tmp/ab2-*.jsonl
for i in 1 2 3; do
  (cd /work/main && SPDL_DEMUX_PROCESSES=0 /work/venv/bin/python benchmarks/w4_audio.py --backends spdl,spdl-futures,torchcodec --threads 1 2 --rounds 6 --passes 1 --out /tmp/ab2-w4-inthread.jsonl > /dev/null 2>&1)
  (cd /work/main && /work/venv/bin/python benchmarks/w4_audio.py --backends spdl,spdl-futures,torchcodec --threads 1 2 --rounds 6 --passes 1 --out /tmp/ab2-w4-helpers.jsonl > /dev/null 2>&1)
done
(cd /work/main && /work/venv/bin/python benchmarks/w5_gil_pressure.py --backends spdl-load-audio,spdl-load-audio-in-thread,gil-floor-audio --threads 1 2 --rounds 6 --out /tmp/ab2-w5.jsonl > /tmp/ab2-w5.log 2>&1)
echo DONE > /tmp/ab2.done
