import json, statistics, collections, sys
rows = collections.defaultdict(list)
for variant in ("before", "inthread", "helpers"):
    for w in ("w2", "w4"):
        try:
            for line in open(f"/tmp/{sys.argv[1]}-{w}-{variant}.jsonl"):
                r = json.loads(line)
                rows[(w, r["backend"], r["threads"], variant)].append((r["median"], r["per_cpu_s"]))
        except FileNotFoundError:
            pass
keys = sorted({(w, b, t) for (w, b, t, v) in rows})
for w, b, t in keys:
    out = []
    base = None
    for v in ("before", "inthread", "helpers"):
        vals = rows.get((w, b, t, v), [])
        if not vals:
            continue
        med = statistics.median(x for x, _ in vals); cpu = statistics.median(y for _, y in vals)
        if v == "before":
            base = (med, cpu)
        rel = f" ({med/base[0]:.3f}x wall, {cpu/base[1]:.3f}x cpu vs before)" if base and v != "before" else ""
        out.append(f"{v}: {med:.0f} [{', '.join(f'{x:.0f}' for x,_ in vals)}] cpu {cpu:.0f}{rel}")
    print(w, b, f"x{t}", " | ".join(out))
