#!/usr/bin/env python3
"""Whole-process timing of the `scorpius` binary (docs/PERFORMANCE.md).

Runs each command N times (after warm-up runs) and prints min / median / p90 wall time in
milliseconds. The baseline is `true`'s process start on the same machine in the same run, so
figures can be compared across noisy machines as a ratio.

    cargo build --release -p scorpius-cli
    python3 scripts/bench_cli.py [--runs 50] [--bin target/release/scorpius]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASES = [
    ("baseline: /bin/true", ["/bin/true"]),
    (
        "scan tx approve, --no-intel",
        ["{bin}", "scan", "tx", "--no-intel", "--to", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "--data",
         "0x095ea7b3000000000000000000000000000000000022d473030f116ddee9f6b43ac78ba3"
         "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "--format", "json"],
    ),
    (
        "scan tx approve (full intel)",
        ["{bin}", "scan", "tx", "--to", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "--data",
         "0x095ea7b3000000000000000000000000000000000022d473030f116ddee9f6b43ac78ba3"
         "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "--format", "json"],
    ),
    ("scan tx drainer batch (json file)", ["{bin}", "scan", "tx", "--json", "examples/tx/drainer-batch.json", "--format", "json"]),
    ("scan address (full intel)", ["{bin}", "scan", "address", "0xd90e2f925da726b50c4ed8d0fb90ad053324f31b", "--format", "json"]),
    ("scan domain", ["{bin}", "scan", "domain", "https://app.uniswap.org", "--format", "json"]),
    ("scan signature permit2", ["{bin}", "scan", "signature", "examples/signatures/permit2-single.json", "--format", "json"]),
]


def run_once(cmd):
    """Wall time (ms) and peak resident memory (MiB) of one run."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = (time.perf_counter() - t0) * 1000
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        sys.exit(f"command failed: {' '.join(cmd)}")
    return elapsed, usage.ru_maxrss / 1024


def measure(cmd, runs, warmup=5):
    for _ in range(warmup):
        run_once(cmd)
    samples = [run_once(cmd) for _ in range(runs)]
    times = sorted(t for t, _ in samples)
    rss = statistics.median(r for _, r in samples)
    return times[0], statistics.median(times), times[int(len(times) * 0.9) - 1], rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--bin", default=str(ROOT / "target/release/scorpius"))
    args = ap.parse_args()
    if not Path(args.bin).exists():
        sys.exit(f"{args.bin} not found: run `cargo build --release -p scorpius-cli` first")
    # Keep the developer's imported feeds out of the measurement.
    os.environ["SCORPIUS_DATA_DIR"] = os.path.join(os.environ.get("TMPDIR", "/tmp"), "scorpius-bench-empty")
    print(f"{'case':40} {'min ms':>8} {'median ms':>10} {'p90 ms':>8} {'RSS MiB':>8}")
    for name, cmd in CASES:
        cmd = [c.replace("{bin}", args.bin) for c in cmd]
        lo, med, p90, rss = measure(cmd, args.runs)
        print(f"{name:40} {lo:8.2f} {med:10.2f} {p90:8.2f} {rss:8.1f}")


if __name__ == "__main__":
    main()
