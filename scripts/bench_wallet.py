#!/usr/bin/env python3
"""Wallet-scan benchmark on a real local chain (docs/PERFORMANCE.md, issue 4).

For each size, starts a fresh anvil, deploys the compiled fixtures (tests/contracts/out), and
has anvil's first dev account grant ERC-20 approvals spread over tokens and single-NFT
approvals; Multicall3 is placed at its canonical address. Then runs

    scorpius scan wallet W --rpc-url URL --format json --no-save

several times and prints the median wall time and the HTTP requests the scan sent for state
reads and for logs (the binary counts every HTTP request, retries included, and reports the
counts in the JSON report's subject.coverage.rpc_requests).

    ./scripts/test-all.sh            # or: npm ci   (installs the pinned anvil)
    cargo build --release -p scorpius-cli
    python3 scripts/bench_wallet.py [--runs 5] [--sizes 100:20:10,500:100:50]

A size is APPROVALS:TOKENS:NFT_APPROVALS; the default includes the issue's target case
(500 ERC-20 approvals over 100 tokens and 50 NFT approvals).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANVIL = ROOT / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
W = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11"
MAX = "f" * 64


def artifact(name):
    return json.loads((ROOT / f"tests/contracts/out/{name}.sol/{name}.json").read_text())


def word(v):
    return format(v, "064x")


def addr_word(a):
    return a.lower().removeprefix("0x").rjust(64, "0")


def string_tail(s):
    b = s.encode()
    return word(len(b)) + b.hex().ljust(((len(b) + 31) // 32) * 64, "0")


def selector(sig):
    # keccak256 is not in Python's hashlib; the few selectors needed are fixed.
    return {
        "mint(address,uint256)": "40c10f19",
        "approve(address,uint256)": "095ea7b3",
    }[sig]


class Rpc:
    def __init__(self, url):
        self.url = url
        self.id = 0

    def call(self, method, params):
        self.id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self.id, "method": method, "params": params}).encode()
        req = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            out = json.loads(r.read())
        if "error" in out:
            raise RuntimeError(f"{method}: {out['error']}")
        return out["result"]

    def send(self, to, data, wait=False):
        tx = {"from": W, "data": data, "gas": "0x1000000"}
        if to:
            tx["to"] = to
        h = self.call("eth_sendTransaction", [tx])
        if wait:
            for _ in range(6000):
                rcpt = self.call("eth_getTransactionReceipt", [h])
                if rcpt:
                    assert rcpt["status"] == "0x1", rcpt
                    return rcpt
                time.sleep(0.01)
            raise RuntimeError("no receipt")
        return h


def start_anvil():
    p = subprocess.Popen([str(ANVIL), "--port", "0", "--hardfork", "prague"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    for line in p.stdout:
        if line.startswith("Listening on "):
            # anvil logs every transaction: keep draining its stdout or it blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
            return p, "http://" + line.split()[-1]
    raise RuntimeError("anvil did not start")


def setup(rpc, approvals, tokens, nft_approvals):
    token_code = artifact("TestToken")["bytecode"]["object"]
    nft_code = artifact("TestNFT")["bytecode"]["object"]
    rpc.call("anvil_setCode", [MULTICALL3, artifact("Multicall3")["deployedBytecode"]["object"]])
    addrs = []
    for i in range(tokens):
        name, sym = f"Token {i}", f"T{i}"
        head = word(0x60) + word(0x60 + 32 + ((len(name) + 31) // 32) * 32) + word(18)
        rcpt = rpc.send(None, token_code + head + string_tail(name) + string_tail(sym), wait=True)
        addrs.append(rcpt["contractAddress"])
        rpc.send(addrs[-1], "0x" + selector("mint(address,uint256)") + addr_word(W) + word(10**24))
    for i in range(approvals):
        spender = format(0x5000 + i, "040x")
        rpc.send(addrs[i % tokens], "0x" + selector("approve(address,uint256)") + addr_word(spender) + MAX)
    nft_head = word(0x40) + word(0x80) + string_tail("NFT") + string_tail("NFT")
    nft = rpc.send(None, nft_code + nft_head, wait=True)["contractAddress"]
    for i in range(nft_approvals):
        rpc.send(nft, "0x" + selector("mint(address,uint256)") + addr_word(W) + word(i + 1))
        spender = format(0x9000 + i, "040x")
        rpc.send(nft, "0x" + selector("approve(address,uint256)") + addr_word(spender) + word(i + 1))
    # The last transaction mined means all earlier ones are (anvil mines in order).
    rpc.send(addrs[0], "0x" + selector("approve(address,uint256)") + addr_word(W) + word(0), wait=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", default="100:20:10,250:50:25,500:100:50,1000:200:100")
    ap.add_argument("--bin", default=str(ROOT / "target/release/scorpius"))
    args = ap.parse_args()
    if not ANVIL.exists():
        sys.exit("anvil is missing: run `npm ci` (or ./scripts/test-all.sh) first")
    env = dict(os.environ)
    env["SCORPIUS_DATA_DIR"] = str(ROOT / "target/bench-wallet-data")
    sys.stdout.reconfigure(line_buffering=True)
    print(f"{'approvals':>9} {'tokens':>6} {'nft':>4} {'median s':>9} {'min s':>7} {'state req':>9} {'log req':>7} {'findings':>8}")
    for size in args.sizes.split(","):
        approvals, tokens, nfts = (int(x) for x in size.split(":"))
        anvil, url = start_anvil()
        try:
            t0 = time.time()
            setup(Rpc(url), approvals, tokens, nfts)
            setup_s = time.time() - t0
            times, report = [], None
            for _ in range(args.runs):
                t = time.perf_counter()
                out = subprocess.run([args.bin, "scan", "wallet", W, "--rpc-url", url, "--format", "json", "--no-save"],
                                     capture_output=True, text=True, env=env, check=True)
                times.append(time.perf_counter() - t)
                report = json.loads(out.stdout)
            req = report["subject"]["coverage"]["rpc_requests"]
            inventory = len(report["subject"]["approvals"])
            assert inventory == approvals + nfts, f"inventory {inventory} != {approvals + nfts}"
            print(f"{approvals:>9} {tokens:>6} {nfts:>4} {statistics.median(times):>9.3f} {min(times):>7.3f} "
                  f"{req['state']:>9} {req['logs']:>7} {len(report['findings']):>8}   (setup {setup_s:.1f} s)")
        finally:
            anvil.kill()
            anvil.wait()


if __name__ == "__main__":
    main()
