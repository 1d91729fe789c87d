import time, os, sys, resource
sys.path.insert(0, "/work/main/benchmarks")
import w3_clips as w3
import spdl.io
spdl.io.set_executor_sizes(decode=1)
path = w3.clip_path(); windows = w3.WINDOWS
def cpu(): r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
def spec(**opts):
    futs = spdl.io.streaming_demux("video", path, windows)
    out = []
    for f in futs:
        frames = spdl.io.decode_packets(f.result(), **opts).result()
        out.append(spdl.io.convert_frames(frames).result())
    return out
def win(**opts):
    return spdl.io.load_video_windows(path, windows, **opts)
cases = {
 "spec 224 rgb24": lambda: spec(width=224, height=224),
 "windows 224 rgb24": lambda: win(width=224, height=224),
 "spec native yuv420p": lambda: spec(pix_fmt="yuv420p"),
 "windows native yuv420p": lambda: win(pix_fmt="yuv420p"),
}
for name, fn in cases.items(): fn()
res = {k: [] for k in cases}
for r in range(5):
    for name, fn in cases.items():
        w0, c0 = time.perf_counter(), cpu(); fn(); res[name].append((time.perf_counter()-w0, cpu()-c0))
import statistics
for name, v in res.items():
    wall = statistics.median(x for x,_ in v); c = statistics.median(y for _,y in v)
    print(f"{name:28s} {len(windows)/wall:6.2f} windows/s wall, {len(windows)/c:6.2f} per CPU-s")
