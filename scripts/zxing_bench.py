#!/usr/bin/env python3
"""zxing-cpp side of the scanner benchmark (crates/scan/benches/scan.rs runs it in the same run).

Reads a manifest of JSON lines {"id": ..., "path": ...}, decodes each image with zxing-cpp
(QR only, library defaults otherwise: try_rotate, try_downscale, try_invert), and prints one JSON
line per image: {"id", "texts": [...], "cpu_ms"}. CPU time is this thread's CPU time around the
read call alone (the image is loaded and converted to grey before the clock starts), one core.

Needs zxing-cpp 3.1.1, pillow and numpy: scripts/setup.sh installs them, pinned in
scripts/python-tools.txt, into the project venv, whose python3 the bench runs.
Usage: scripts/zxing_bench.py MANIFEST.jsonl > results.jsonl
"""
import json
import sys
import time

try:
    import numpy as np
    import zxingcpp
    from PIL import Image
except ImportError as e:  # the Rust bench prints this and carries on without zxing figures
    print(json.dumps({"error": f"missing python package: {e}"}))
    sys.exit(0)


def main() -> None:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    fmt = zxingcpp.BarcodeFormat.QRCode
    with open(sys.argv[1], encoding="utf-8") as manifest:
        items = [json.loads(line) for line in manifest if line.strip()]
    # warm up (first call loads tables)
    zxingcpp.read_barcodes(np.full((64, 64), 255, dtype=np.uint8), formats=fmt)
    for item in items:
        try:
            arr = np.ascontiguousarray(np.asarray(Image.open(item["path"]).convert("L")))
        except Exception as e:  # unreadable file: report, keep going
            print(json.dumps({"id": item["id"], "texts": [], "cpu_ms": 0.0, "error": str(e)}))
            continue
        t0 = time.thread_time()
        results = zxingcpp.read_barcodes(arr, formats=fmt)
        t1 = time.thread_time()
        texts = [r.text for r in results if r.valid]
        print(json.dumps({"id": item["id"], "texts": texts, "cpu_ms": (t1 - t0) * 1000.0}), flush=True)


if __name__ == "__main__":
    main()
