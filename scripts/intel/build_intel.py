#!/usr/bin/env python3
"""Convert the raw public threat-intel seeds into Scorpius' bundled TSV form.

Usage (from the repository root):

    python3 scripts/intel/build_intel.py --src ../shared/data/intel --out scorpius-core/data/intel

Standard library only (Python 3.11+). The output is deterministic: every dataset is
deduplicated on (kind, chain, value), rows are sorted, and running the script twice
gives byte-identical files. Every mapping decision lives in this file and is explained
in docs/data-sources.md; run with --stats to print per-dataset input/output counts and
the reasons rows were dropped.

Output, one file per dataset: <out>/<dataset>.tsv (UTF-8, LF, no quoting) with the
columns in COLUMNS, plus <out>/manifest.json and the false-positive regression fixture
<out>/fp/forta-scam-detector-fp.tsv.
"""

from __future__ import annotations

import argparse
import collections
import csv
import hashlib
import json
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SRC = REPO_ROOT / ".." / "shared" / "data" / "intel"
DEFAULT_OUT = REPO_ROOT / "scorpius-core" / "data" / "intel"

COLUMNS = [
    "kind", "chain", "value", "labels", "confidence",
    "first_seen", "last_seen", "delisted_at", "name", "reference",
]

# Fixed label vocabulary; labels are always written in this order.
LABELS = [
    "sanctioned", "phishing", "drainer", "exploit", "exploited-spender", "mixer",
    "scam-token", "poisoner", "scam-delegate", "exchange", "bridge", "dex",
    "known-spender", "wallet-delegate", "deprecated-spender", "token", "defi", "mev-bot",
]
LABEL_ORDER = {label: i for i, label in enumerate(LABELS)}
KINDS = ("address", "domain", "bytecode_hash", "selector")

# OFAC removed Tornado Cash from the SDN list on this date.
TORNADO_DELISTED_AT = "2025-03-21"

ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
# An address embedded in free text, not part of a longer hex string (e.g. a tx hash).
ADDRESS_IN_TEXT_RE = re.compile(r"(?<![0-9a-fA-Fx])0x[0-9a-fA-F]{40}(?![0-9a-fA-F])")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TX_RE = re.compile(r"0x[0-9a-fA-F]{64}")

MAX_JOINED = 3  # names / references kept per merged row


# --------------------------------------------------------------------------- helpers

def norm_address(raw: str) -> str | None:
    s = (raw or "").strip()
    if ADDRESS_RE.match(s):
        return s.lower()
    return None


_DOMAIN_BAD_CHARS = re.compile(r"[\s<>\"'\\{}|^`\[\]]")


def norm_domain(raw: str) -> str | None:
    """Lowercase, trim, drop scheme/userinfo/path/query/port and trailing dots.

    Internationalised names are kept as given (no punycode conversion)."""
    s = (raw or "").strip().lower()
    s = re.sub(r"^[a-z][a-z0-9+.-]*://", "", s)
    s = re.split(r"[/?#]", s, maxsplit=1)[0]
    if "@" in s:
        s = s.rsplit("@", 1)[1]
    s = re.sub(r":\d*$", "", s)
    s = s.strip(".")
    if s.startswith("*."):
        s = s[2:]
    if not s or "." not in s or len(s) > 253 or _DOMAIN_BAD_CHARS.search(s):
        return None
    if any(part == "" or len(part) > 63 for part in s.split(".")):
        return None
    return s


def clean(text) -> str:
    """Field sanitiser: no tabs/newlines inside a field, trimmed, single spaces."""
    if text is None:
        return ""
    s = str(text).replace("\t", " ").replace("\r", " ").replace("\n", " ")
    return re.sub(r" {2,}", " ", s).strip()


def mdy_to_iso(s: str) -> str:
    m = re.match(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$", s or "")
    if not m:
        return ""
    month, day, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
    return f"{year:04d}-{month:02d}-{day:02d}"


def read_csv_dicts(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def read_json(path: Path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def chain_sort_key(chain: str):
    return (-1, 0) if chain == "*" else (0, int(chain))


# --------------------------------------------------------------------------- dataset

class Dataset:
    """Accumulates rows for one output file, merging duplicates on (kind, chain, value)."""

    def __init__(self, name: str, *, version: str, source: str, licence: str, note: str = ""):
        self.name = name
        self.version = version
        self.source = source
        self.licence = licence
        self.note = note
        self.source_files: list[str] = []
        self.rows: dict[tuple, dict] = {}
        self.input_rows = 0
        self.emitted = 0
        self.dropped: collections.Counter = collections.Counter()
        self.skipped_files: list[str] = []
        self.licence_files: list[str] = []  # upstream licence / source notes, copied to <out>/LICENSES/

    def use(self, rel: str) -> None:
        if rel not in self.source_files:
            self.source_files.append(rel)

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] += n

    def add(self, kind, chain, value, labels=(), confidence=0.5, first_seen="",
            last_seen="", delisted_at="", name="", reference="") -> None:
        assert kind in KINDS, kind
        chain = str(chain)
        assert chain == "*" or chain.isdigit(), chain
        labels = set(labels)
        unknown = labels - set(LABELS)
        assert not unknown, f"labels outside vocabulary: {unknown}"
        for d in (first_seen, last_seen, delisted_at):
            assert d == "" or DATE_RE.match(d), d
        assert 0.0 <= confidence <= 1.0
        self.emitted += 1
        key = (kind, chain, value)
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = {
                "labels": set(), "confidence": confidence, "first_seen": "", "last_seen": "",
                "delisted_at": "", "names": [], "refs": [],
            }
        row["labels"] |= labels
        row["confidence"] = max(row["confidence"], confidence)
        if first_seen and (not row["first_seen"] or first_seen < row["first_seen"]):
            row["first_seen"] = first_seen
        if last_seen and last_seen > row["last_seen"]:
            row["last_seen"] = last_seen
        if delisted_at and delisted_at > row["delisted_at"]:
            row["delisted_at"] = delisted_at
        name, reference = clean(name), clean(reference)
        if name and name not in row["names"]:
            row["names"].append(name)
        if reference and reference not in row["refs"]:
            row["refs"].append(reference)

    @staticmethod
    def _join(items: list[str]) -> str:
        if len(items) <= MAX_JOINED:
            return "; ".join(items)
        return "; ".join(items[:MAX_JOINED]) + f" (+{len(items) - MAX_JOINED} more)"

    def render(self) -> bytes:
        lines = ["\t".join(COLUMNS)]
        for key in sorted(self.rows, key=lambda k: (k[0], chain_sort_key(k[1]), k[2])):
            kind, chain, value = key
            r = self.rows[key]
            fields = [
                kind, chain, value,
                ",".join(sorted(r["labels"], key=LABEL_ORDER.__getitem__)),
                f"{r['confidence']:.1f}",
                r["first_seen"], r["last_seen"], r["delisted_at"],
                self._join(r["names"]), self._join(r["refs"]),
            ]
            fields = [clean(f) for f in fields]
            assert len(fields) == len(COLUMNS)
            lines.append("\t".join(fields))
        return ("\n".join(lines) + "\n").encode("utf-8")


# --------------------------------------------------------------------------- shared tag mapping

# Etherscan-style malicious tags (Forta datasets, dawsbot, Forta blocklists).
_FAKE_PHISHING_RE = re.compile(r"^fake_phishing\s*\d*$", re.I)
_EXPLOIT_RE = re.compile(r"exploit|hack|attack|heist|stolen|thief|compromise|privkey|drain", re.I)
_TOKEN_LIKE_RE = re.compile(r"\([^()]*\)\s*$")  # "Name (SYMBOL)"
_RUG_RE = re.compile(r"\brug|exit scam|ponzi", re.I)
_PHISH_RE = re.compile(r"phish|fake|scam|impersonat", re.I)
_SALE_RE = re.compile(r"sale|presale|crowdsale", re.I)

CATEGORY_LABELS = {
    "phish-hack": {"phishing"},
    "etherscan-phish-hack-list": {"phishing"},
    "exploit": {"exploit"},
    "etherscan-exploit-list": {"exploit"},
    "heist": {"exploit"},
    "etherscan-heist-list": {"exploit"},
    "spam-token": {"scam-token"},
    "scam": {"phishing"},
}


def classify_tag(tag: str, category: str, is_contract: bool | None = None) -> set[str]:
    """Map an Etherscan-style name tag (plus the list it came from) to our labels.

    Order matters: the specific tag wins over the generic list category."""
    t = clean(tag)
    tl = t.lower()
    if _FAKE_PHISHING_RE.match(t):
        # Etherscan's numbered Fake_Phishing tags are mostly address-poisoning EOAs.
        # Known contracts (Forta's is_contract) only get `phishing`.
        return {"phishing"} if is_contract else {"phishing", "poisoner"}
    if "drainer" in tl:
        return {"drainer", "phishing"}
    if "deployer" in tl and _PHISH_RE.search(tl):
        return {"phishing"}  # e.g. "Phishing Token Deployer"
    if _EXPLOIT_RE.search(tl):
        return {"exploit"}
    if "spam" in tl:
        return {"scam-token"}
    if _RUG_RE.search(tl):
        return {"scam-token"}
    if "token" in tl and _PHISH_RE.search(tl) and not _SALE_RE.search(tl):
        return {"scam-token"}  # e.g. "Scam: RHOC Token" (but "Fake: Hero Token Sale" is phishing)
    if _TOKEN_LIKE_RE.search(t):
        # "meta.com (META)", "Tether (USDT)": impersonating / phishing token contracts.
        return {"scam-token", "phishing"}
    if _PHISH_RE.search(tl):
        return {"phishing"}
    return set(CATEGORY_LABELS.get(category, set()))


# --------------------------------------------------------------------------- builders

class Builder:
    def __init__(self, src: Path):
        self.src = src
        self.datasets: list[Dataset] = []
        self.notes: list[str] = []       # oddities found in the sources
        self.tornado: set[str] = set()   # Tornado Cash addresses delisted 2025-03-21
        self.ofac_removed: set[str] = set()  # once in the 0xB10C lists, gone by the 2024-09 snapshot
        self.known_contracts: set[str] = set()
        self._load_known_contracts()

    def p(self, rel: str) -> Path:
        return self.src / rel

    def new(self, name, licence_files=(), **kw) -> Dataset:
        ds = Dataset(name, **kw)
        ds.licence_files = list(licence_files)
        self.datasets.append(ds)
        return ds

    def _load_known_contracts(self) -> None:
        """Contract-ness facts from Forta's datasets (used to avoid calling contracts poisoner EOAs)."""
        for r in read_csv_dicts(self.p("forta-labelled/labels/1/phishing_scams.csv")):
            if r["is_contract"].strip() == "True" and norm_address(r["address"]):
                self.known_contracts.add(norm_address(r["address"]))
        for rel in ("forta-labelled/labels/1/malicious_smart_contracts.csv",
                    "forta-labelled/labels/10/malicious_smart_contracts.csv"):
            for r in read_csv_dicts(self.p(rel)):
                a = norm_address(r["contract_address"])
                if a:
                    self.known_contracts.add(a)

    # ------------------------------------------------------------------ OFAC
    def ofac(self) -> None:
        ds = self.new("ofac-sanctions", licence_files=["ofac-0xb10c/LICENSE", "ofac-ultrasound/LICENSE"],
                      version="2024-09 (0xB10C lists) + 2026-06 (ultrasound)",
                      source="0xB10C/ofac-sanctioned-digital-currency-addresses (lists branch); "
                             "ultrasoundmoney/ofac-ethereum-addresses",
                      licence="MIT")
        base = self.p("ofac-0xb10c")
        assets: dict[str, set[str]] = collections.defaultdict(set)  # address -> assets
        for txt in sorted(base.glob("sanctioned_addresses_*.txt")):
            asset = txt.stem.removeprefix("sanctioned_addresses_")
            entries = [l.strip() for l in txt.read_text(encoding="utf-8").splitlines() if l.strip()]
            js = base / f"sanctioned_addresses_{asset}.json"
            if js.exists() and sorted(read_json(js)) != sorted(entries):
                self.notes.append(f"ofac-0xb10c: {asset} TXT and JSON lists differ")
            ds.use(f"ofac-0xb10c/{txt.name}")
            ds.input_rows += len(entries)
            for e in entries:
                a = norm_address(e)
                if a is None:
                    ds.drop(f"not an EVM address ({asset} list)")
                    continue
                assets[a].add(asset)
        ds.use("ofac-0xb10c/eth_first_seen_in_lists_branch.csv")
        first_seen = {}
        for r in read_csv_dicts(self.p("ofac-0xb10c/eth_first_seen_in_lists_branch.csv")):
            a = norm_address(r["address"])
            if a:
                first_seen[a] = r["first_seen_in_lists_branch"].strip()
        gone = sorted(set(first_seen) - set(assets))
        self.ofac_removed = set(gone)
        if gone:
            self.notes.append(
                f"ofac-0xb10c: {len(gone)} address(es) in eth_first_seen_in_lists_branch.csv are not in "
                f"the 2024-09 asset lists (removed earlier, date unknown; not bundled): {', '.join(gone)}")

        ds.use("ofac-ultrasound/data.csv")
        ds.use("ofac-ultrasound/history_first_last_seen.csv")
        us_names = {}
        for r in read_csv_dicts(self.p("ofac-ultrasound/data.csv")):
            ds.input_rows += 1
            a = norm_address(r["address"])
            if a is None:
                ds.drop("not an EVM address (ultrasound)")
                continue
            us_names[a] = r["name"].strip()
        us_hist = {}
        for r in read_csv_dicts(self.p("ofac-ultrasound/history_first_last_seen.csv")):
            a = norm_address(r["address"])
            if a:
                us_hist[a] = r
        if set(us_hist) != set(us_names):
            self.notes.append("ofac-ultrasound: data.csv and history_first_last_seen.csv hold different addresses")

        # Tornado Cash: the 0xB10C snapshot (2024-09) predates the 2025-03-21 delisting, the
        # ultrasound snapshot (first taken 2025-12-18) postdates it. Every 0xB10C address that
        # is absent from ultrasound dropped off the SDN list between the two snapshots; the
        # only crypto-address delisting in that window was Tornado Cash's.
        self.tornado = set(assets) - set(us_names)

        for a in sorted(set(assets) | set(us_names)):
            tc = a in self.tornado
            labels = {"sanctioned"} | ({"mixer"} if tc else set())
            fs = [d for d in (first_seen.get(a, ""), us_hist.get(a, {}).get("first_seen", "")) if d]
            refs = []
            if a in assets:
                refs.append("0xb10c:" + ",".join(sorted(assets[a])))
            if a in us_names:
                refs.append("ultrasound")
            ds.add("address", "*", a, labels, 1.0,
                   first_seen=min(fs) if fs else "",
                   last_seen=us_hist.get(a, {}).get("last_seen", "").strip(),
                   delisted_at=TORNADO_DELISTED_AT if tc else "",
                   name="Tornado Cash" if tc else us_names.get(a, ""),
                   reference=";".join(refs))

    # ------------------------------------------------------------------ Forta labelled
    def forta_labelled(self) -> None:
        ds = self.new("forta-labelled", licence_files=["forta-labelled/LICENSE"],
                      version="2023-01", source="forta-network/labelled-datasets",
                      licence="MIT")
        rel = "forta-labelled/labels/1/etherscan_malicious_labels.csv"
        ds.use(rel)
        for r in read_csv_dicts(self.p(rel)):
            ds.input_rows += 1
            a = norm_address(r["banned_address"])
            if a is None:
                ds.drop("invalid address")
                continue
            labels = classify_tag(r["wallet_tag"], r["data_source"].strip(), a in self.known_contracts)
            if not labels:
                ds.drop("unmappable tag")
                continue
            ds.add("address", "1", a, labels, 0.8, name=r["wallet_tag"],
                   reference="etherscan_malicious_labels.csv")
        rel = "forta-labelled/labels/1/phishing_scams.csv"
        ds.use(rel)
        for r in read_csv_dicts(self.p(rel)):
            ds.input_rows += 1
            a = norm_address(r["address"])
            if a is None:
                ds.drop("invalid address")
                continue
            labels = classify_tag(r["etherscan_tag"], r["etherscan_labels"].strip() or "phish-hack",
                                  r["is_contract"].strip() == "True")
            ds.add("address", "1", a, labels, 0.8, name=r["etherscan_tag"], reference="phishing_scams.csv")
        for chain in ("1", "10"):
            rel = f"forta-labelled/labels/{chain}/malicious_smart_contracts.csv"
            ds.use(rel)
            for r in read_csv_dicts(self.p(rel)):
                ds.input_rows += 1
                source = r.get("source", "")
                creator_label = (r.get("contract_creator_etherscan_label") or "").strip()
                incident = clean(r.get("notes", ""))
                ref = r.get("contract_creation_tx", "").strip() or incident or "malicious_smart_contracts.csv"
                a = norm_address(r["contract_address"])
                if a is None:
                    ds.drop("invalid address")
                else:
                    labels = classify_tag(r["contract_tag"], creator_label or "exploit", True)
                    ctag_ = r.get("contract_creator_tag", "")
                    ds.add("address", chain, a, labels or {"exploit"}, 0.8,
                           name=r["contract_tag"] or (f"deployed by {ctag_}" if ctag_ else incident),
                           reference=ref)
                c = norm_address(r.get("contract_creator", ""))
                ctag = r.get("contract_creator_tag", "")
                hack_repo = "github.com" in source or "etherscan.io" in source
                if c and (creator_label or ctag or hack_repo):
                    labels = classify_tag(ctag, creator_label or "exploit", c in self.known_contracts)
                    ds.add("address", chain, c, labels or {"exploit"}, 0.8,
                           name=ctag or (f"deployer of {r['contract_tag']}" if r["contract_tag"] else incident),
                           reference=ref)
                elif c:
                    ds.drop("creator with no label (not bundled)")

    # ------------------------------------------------------------------ Forta starter kits
    NETWORK_CHAINS = {
        "mainnet": "1", "ethereum": "1", "eth": "1", "bsc": "56", "arbitrum": "42161", "arb": "42161",
        "polygon": "137", "avax": "43114", "avalanche": "43114", "optimism": "10", "opt": "10",
        "op": "10", "base": "8453", "fantom": "250", "zksync": "324",
    }

    def forta_starter_kits(self) -> None:
        ds = self.new("forta-starter-kits", licence_files=["forta-starter-kits/LICENSE"],
                      version="2025-08", source="forta-network/starter-kits",
                      licence="MIT",
                      note="attack lists only; scam_detector_fp_list.csv is shipped separately as the "
                           "false-positive regression fixture fp/forta-scam-detector-fp.tsv")
        # 1. Early-attack true-positive list (DeFi attacks of 2023-2024).
        rel = "forta-starter-kits/early_attack_tp_list.csv"
        ds.use(rel)
        with open(self.p(rel), newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        header = rows[0]
        col = {h: header.index(h) for h in reversed(header)}  # first occurrence wins
        for r in rows[1:]:
            ds.input_rows += 1
            network = r[col["Network"]]
            if "no attack" in network.lower():
                ds.drop("not an attack (per Network column)")
                continue
            chains = []
            for tok in re.split(r"[/,\s]+", network.lower()):
                ch = self.NETWORK_CHAINS.get(tok)
                if ch and ch not in chains:
                    chains.append(ch)
            addrs = []
            for field in ("Attacker", "Attacker Smart Contracts"):
                for m in ADDRESS_IN_TEXT_RE.findall(r[col[field]]):
                    if m.lower() not in addrs:
                        addrs.append(m.lower())
            if not addrs:
                ds.drop("no EVM attacker address")
                continue
            comment = r[col["Comment"]].lower()
            conf = 0.7 if ("mev" in comment or "front" in comment) else 0.9
            txs = TX_RE.findall(r[col["ExploitTxHash"]])
            ref = txs[0].lower() if txs else "early_attack_tp_list.csv"
            for a in addrs:
                for ch in chains or ["*"]:
                    ds.add("address", ch, a, {"exploit"}, conf,
                           first_seen=mdy_to_iso(r[col["Date"]]),
                           name=r[col["Attack Name"]], reference=ref)
        # 2. Manual scam-detector alert list: keep the drainer / ice-phishing entries.
        rel = "forta-starter-kits/scam_detector_manual_alert_list_v2.tsv"
        ds.use(rel)
        with open(self.p(rel), newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh, delimiter="\t"):
                ds.input_rows += 1
                a = norm_address(r["Entity"])
                if a is None:
                    ds.drop("manual list: not an address")
                    continue
                category, comment, attribution = r["Threat category"], r["Comment"], r["Attribution"]
                if comment.strip().lower() == "test entry":
                    ds.drop("manual list: test entry")
                    continue
                if "ice phishing" not in category.lower() and "drainer" not in attribution.lower():
                    ds.drop("manual list: threat category Unknown (twitter-bot alert, no verdict)")
                    continue
                chain = r["Chain ID"].strip()
                ds.add("address", chain if chain.isdigit() else "*", a, {"drainer", "phishing"}, 0.8,
                       first_seen=mdy_to_iso(r["Date"]),
                       name=attribution or comment, reference=comment or "scam_detector_manual_alert_list_v2.tsv")
        # 3. Older Etherscan blocklists bundled with the Forta bots.
        for rel in ("forta-starter-kits/blocklist-addr-tx-py_etherscan_blocklist.csv",
                    "forta-starter-kits/exploiter-addresses-py_etherscan_blocklist.csv"):
            ds.use(rel)
            for r in read_csv_dicts(self.p(rel)):
                ds.input_rows += 1
                a = norm_address(r["banned_address"])
                if a is None:
                    ds.drop("invalid address")
                    continue
                labels = classify_tag(r["wallet_tag"], r["data_source"].strip(), a in self.known_contracts)
                if not labels:
                    ds.drop("unmappable tag")
                    continue
                ds.add("address", "1", a, labels, 0.8, name=r["wallet_tag"], reference=Path(rel).name)
        ds.skipped_files.append(
            "forta-starter-kits/scam-detector-py_ice_phishing_mappings.csv: bot configuration, no intel")

    def fp_fixture(self, out: Path) -> tuple[int, int]:
        rel = "forta-starter-kits/scam_detector_fp_list.csv"
        lines = ["chain\tvalue\tname"]
        n_in = 0
        for r in read_csv_dicts(self.p(rel)):
            n_in += 1
            lines.append("\t".join([clean(r["chain_id"]), clean(r["address"]).lower(), clean(r["comment"])]))
        data = ("\n".join(lines) + "\n").encode("utf-8")
        (out / "fp").mkdir(parents=True, exist_ok=True)
        (out / "fp" / "forta-scam-detector-fp.tsv").write_bytes(data)
        self.fp_sha = hashlib.sha256(data).hexdigest()
        return n_in, len(lines) - 1

    # ------------------------------------------------------------------ RevokeCash whois
    _MALICIOUS_SPENDER_RE = re.compile(r"exploiter|hacker|drainer|attacker|scam", re.I)

    def revokecash(self) -> None:
        ds = self.new("revokecash-whois", licence_files=["revokecash-whois/SOURCE.md"],
                      version="2026-03-09", source="RevokeCash/whois (manual labels)",
                      licence="MIT")
        rel = "revokecash-whois/manual_labels.csv"
        ds.use(rel)
        for r in read_csv_dicts(self.p(rel)):
            ds.input_rows += 1
            a = norm_address(r["address"])
            chain = r["chain_id"].strip()
            if a is None or not chain.isdigit():
                ds.drop("not an EVM address / chain (ScamSniffer-keyed entry)")
                continue
            other = json.loads(r["other_json"] or "{}")
            if r["kind"] == "tokens":
                spam = other.get("isSpam")
                labels = {"scam-token"} if spam is True else {"token"}
                ds.add("address", chain, a, labels, 0.8 if spam is not True else 0.9,
                       name=other.get("symbol", ""), reference=other.get("note", "") or "manual_labels.csv")
                continue
            risks = json.loads(r["risk_factors_json"]) if r["risk_factors_json"].strip() else []
            types = {x.get("type") for x in risks}
            incident = "; ".join(sorted({x.get("data", "") for x in risks if x.get("data")}))
            name = r["label"] or r["name"]
            labels = set()
            if "exploit" in types:
                if self._MALICIOUS_SPENDER_RE.search(f"{r['name']} {r['label']}"):
                    labels.add("drainer")  # attacker-controlled spender (front-end / DNS hijacks)
                else:
                    labels.add("exploited-spender")
            if "deprecated" in types:
                labels.add("deprecated-spender")
            unknown = types - {"exploit", "deprecated"}
            if unknown:
                self.notes.append(f"revokecash-whois: unhandled risk types {sorted(unknown)}")
            if not labels:
                labels.add("known-spender")
            conf = 0.9 if types else 0.8
            ds.add("address", chain, a, labels, conf, name=name, reference=incident or "manual_labels.csv")

    # ------------------------------------------------------------------ EIP-7702 delegates
    def eip7702(self) -> None:
        ds = self.new("eip7702-delegates", licence_files=["eip7702-delegates/LICENSE-bundlebear"],
                      version="2025",
                      source="Jam516/BundleBear (EIP-7702 delegate labels) + RevokeCash/whois (scam delegates)",
                      licence="MIT",
                      note="generic_tooling delegates (Multicall3, batch executors, ...) are listed with "
                           "empty labels: known code, no verdict")
        rel = "eip7702-delegates/eip7702_delegates_labelled.csv"
        ds.use(rel)
        for r in read_csv_dicts(self.p(rel)):
            ds.input_rows += 1
            a = norm_address(r["address"])
            if a is None:
                ds.drop("invalid address")
                continue
            cls = r["class"].strip()
            confirmed = r["also_in_revokecash_scam_list"].strip() == "True"
            if cls == "malicious_sweeper":
                labels, conf = {"scam-delegate"}, (0.9 if confirmed else 0.8)
            elif cls == "wallet_or_app":
                labels, conf = {"wallet-delegate"}, 0.8
            elif cls == "generic_tooling":
                labels, conf = set(), 0.5
            else:
                ds.drop(f"unknown class {cls}")
                continue
            if confirmed and cls != "malicious_sweeper":
                self.notes.append(f"eip7702: {a} is {cls} but also on the revoke.cash scam list")
            src_name = r["source"].strip()
            ref = src_name + ("+revokecash" if confirmed and src_name != "revokecash_whois" else "")
            ds.add("address", "*", a, labels, conf, name=r["name"], reference=ref)

    # ------------------------------------------------------------------ polkadot
    def polkadot(self) -> None:
        ds = self.new("polkadot-phishing", licence_files=["polkadot-phishing/LICENSE"],
                      version="undated snapshot", source="polkadot-js/phishing",
                      licence="Apache-2.0")
        rel = "polkadot-phishing/all.json"
        ds.use(rel)
        data = read_json(self.p(rel))
        trailing = [d.strip() for d in data["deny"] if d.strip().endswith(".")]
        if trailing:
            plain = {d.strip() for d in data["deny"]}
            twins = sum(1 for d in trailing if d.rstrip(".") in plain)
            self.notes.append(f"polkadot-phishing: {len(trailing)} deny entries end with a trailing dot (FQDN form); "
                              f"{twins} of them duplicate a plain entry and were merged")
        for d in data["deny"]:
            ds.input_rows += 1
            v = norm_domain(d)
            if v is None:
                ds.drop("invalid domain")
                continue
            ds.add("domain", "*", v, {"phishing"}, 0.8, reference="all.json deny")
        for d in data.get("denySub", []):
            ds.input_rows += 1
            ds.drop("denySub entry is a URL path on a shared host (e.g. twitter.com/...): not a domain verdict")
        ds.skipped_files.append("polkadot-phishing/all.json `allow`: hosting suffixes exempt from wildcard "
                                "blocking, not an allow list")
        rel = "polkadot-phishing/address.json"
        ds.use(rel)
        for site, addrs in sorted(read_json(self.p(rel)).items()):
            for x in addrs:
                ds.input_rows += 1
                a = norm_address(x)
                if a is None:
                    ds.drop("address.json: Substrate (ss58) address, not EVM")
                    continue
                ds.add("address", "*", a, {"phishing"}, 0.8, name=site, reference="address.json")

    # ------------------------------------------------------------------ MetaMask eth-phishing-detect
    def metamask(self) -> None:
        rel = "metamask-eth-phishing-detect/config.json"
        cfg = read_json(self.p(rel))
        common = dict(licence_files=["metamask-eth-phishing-detect/LICENSE"], version="1.2.0",
                      source="MetaMask/eth-phishing-detect (npm eth-phishing-detect)",
                      licence="LicenseRef-DBAD-1.1")
        deny = self.new("metamask-phishing-deny", **common)
        allow = self.new("metamask-phishing-allow", **common,
                         note="allow-listed domains are benign (labels empty); in the upstream detector the "
                              "whitelist overrides the blacklist and the fuzzy match")
        fuzzy = self.new("metamask-fuzzylist", **common,
                         note=f"protected brand domains for look-alike detection (labels empty); upstream "
                              f"Levenshtein tolerance = {cfg.get('tolerance')}")
        whitelist = set()
        for ds, key, labels, conf in ((allow, "whitelist", set(), 0.9),
                                      (deny, "blacklist", {"phishing"}, 0.8),
                                      (fuzzy, "fuzzylist", set(), 1.0)):
            ds.use(rel)
            for d in cfg[key]:
                ds.input_rows += 1
                v = norm_domain(d)
                if v is None:
                    ds.drop(f"invalid domain in {key}")
                    continue
                if key == "whitelist":
                    whitelist.add(v)
                if key == "blacklist" and v in whitelist:
                    self.notes.append(f"metamask: {v} is in both blacklist and whitelist (whitelist wins upstream)")
                ref = f"config.json {key}" + (f" (tolerance {cfg.get('tolerance')})" if key == "fuzzylist" else "")
                ds.add("domain", "*", v, labels, conf, reference=ref)
        for d in cfg["fuzzylist"]:
            if norm_domain(d) not in whitelist:
                self.notes.append(f"metamask: fuzzylist entry {d} is not in the whitelist")
        deny.skipped_files.append(
            "metamask-eth-phishing-detect/hosts.txt, alexa.json, dapps.json: derived or test files")

    # ------------------------------------------------------------------ etherscan labels (benign)
    SCAN_CHAINS = {
        "etherscan": "1", "optimism": "10", "bscscan": "56", "polygonscan": "137",
        "ftmscan": "250", "arbiscan": "42161", "avalanche": "43114",
    }
    # Any of these makes an entry non-benign: it is left out of the benign dataset entirely
    # (malicious intel comes from the Forta / dawsbot / OFAC datasets). `blocked` is not one of
    # them: Etherscan puts it on the USDT contract itself, so it is not a verdict.
    ES_MALICIOUS = {
        "phish-hack", "heist", "exploit", "spam-token", "scam", "high-risk", "compromised",
        "something-fishy", "ofac-sanctions-lists", "tornado-cash", "ethereum-mixer",
        "bancor-contract-vulnerability",
    }
    ES_EXCHANGE = {
        "exchange", "hot-wallet", "cold-wallet", "binance-deposit", "fiat-gateway", "otc",
        # centralised-exchange brand tags
        "abcc", "allbit", "ascendex", "bgogo", "binance", "bitfinex", "bithumb", "bitmart", "bitmex",
        "bitstamp", "bittrex", "cobinhood", "coinbase", "coinbit", "coinhako", "coinone", "coinsquare",
        "coss-io", "crex24", "crypto-com", "deribit", "digifinex", "ftx", "gate-io", "gemini", "hitbtc",
        "hoo-com", "hotbit", "huobi", "korbit", "kraken", "kryptono", "kucoin", "latoken", "lcx-ag",
        "liquid", "maskex", "okx", "paribu", "poloniex", "quadrigacx", "remitano", "resfinex", "tidex",
        "topbtc", "trade-io", "upbit", "yunbi", "zb-com",
    }
    ES_BRIDGE = {
        "bridge", "optimism-bridge", "orbit-bridge", "arbitrum-one", "wormhole", "hop-protocol",
        "across-protocol", "synapse", "connext", "celer-network", "multichain", "anyswap",
    }
    ES_DEX = {
        "dex", "amm", "dex-ag", "0x-protocol", "0x-protocol-ecosystem", "1inch", "airswap", "balancer",
        "bancor", "beethoven-x", "bscswap", "burgerswap", "canary-exchange", "cow-protocol", "curve-fi",
        "dexalot", "dutchx", "dydx", "firebird-finance", "hydro-protocol", "hyperjump", "idex",
        "kyberswap", "loopring", "lydia-finance", "mcdex", "mdex", "morpheus-swap", "pancakeswap",
        "pangolin", "paraswap", "quickswap", "rubicon", "saddle-finance", "spiritswap", "spookyswap",
        "sudoswap", "sushiswap", "swipeswap", "switcheo", "tokenlon", "trader-joe", "wigoswap",
    }
    ES_DEFI = {
        "defi", "lending", "loans", "yield-farming", "vaults", "derivatives", "options-trading",
        "liquidity", "staking", "aave", "abracadabra-money", "alchemix-finance", "alpaca-finance",
        "augmented-finance", "aura-finance", "beefy-finance", "benqi-finance", "bzx", "cap-finance",
        "compound", "convex-finance", "cream-finance", "defi-saver", "dforce", "enzyme-finance",
        "fei-protocol", "furucombo", "gearbox-protocol", "harvest-finance", "hundred-finance",
        "idle-finance", "index-protocol", "instadapp", "inverse-finance", "jarvis-network", "lido",
        "liquity", "lyra-finance", "maker", "mstable", "nexus-mutual", "olympusdao", "opyn",
        "origin-protocol", "pancake-bunny", "pendle", "pooltogether", "premia", "rari-capital",
        "reflexer-finance", "ribbon-finance", "rocket-pool", "scream", "set-protocol", "synthetix",
        "tarot", "unit-protocol", "venus-protocol", "yearn-finance", "zapper-fi",
    }
    ES_MEV = {"mev-bot", "backrunning-bots"}
    # Account-file names that denote a token contract: "Compound: cETH Token", "X: Old Token 2",
    # "Aave: vWETH Token V3" (but not "Token Sale", "Token Vesting", "Token Bridge", ...).
    ES_TOKEN_NAME_RE = re.compile(r"\btoken(\s+v?\d+)?$", re.I)
    ES_DEPRECATED = {"deprecated", "old-contract"}
    # Contracts users grant token approvals to (by label name).
    ES_SPENDER_NAME_RE = re.compile(
        r"permit2|\brouter\b|seaport|\bconduit\b|: exchange proxy$|transfer ?proxy|aggregation router|"
        r"\bsettlement$|vault relayer|\bspender\b", re.I)
    ES_NOT_SPENDER_NAME_RE = re.compile(
        r"^router: 0x|oracle|global settlement|governor|deployer|flash wallet|sandbox", re.I)
    # Spender families that were exploited / shut down: never called known-good here.
    ES_NOT_KNOWN_SPENDER_TAGS = {"multichain", "anyswap"}

    def etherscan_labels(self) -> None:
        ds = self.new("etherscan-labels", licence_files=["etherscan-labels-brianleect/LICENSE"],
                      version="2023", source="brianleect/etherscan-labels",
                      licence="MIT",
                      note="benign entity context only; entries carrying any malicious Etherscan tag are left out")
        for folder in sorted(self.SCAN_CHAINS, key=lambda f: int(self.SCAN_CHAINS[f])):
            chain = self.SCAN_CHAINS[folder]
            files = {kind: f"etherscan-labels-brianleect/data/{folder}/combined/combined{kind}Labels.json"
                     for kind in ("Account", "Token")}
            loaded = {kind: read_json(self.p(rel)) for kind, rel in files.items()}
            token_addrs = {norm_address(k) for k in loaded["Token"]} - {None}
            # An address tagged malicious in either file is left out of both.
            malicious = {norm_address(k) for data in loaded.values() for k, e in data.items()
                         if set(e.get("labels") or []) & self.ES_MALICIOUS} - {None}
            for kind in ("Account", "Token"):
                ds.use(files[kind])
                for key, entry in loaded[kind].items():
                    ds.input_rows += 1
                    a = norm_address(key)
                    if a is None:
                        ds.drop("not an address key (aggregate 'Sum of N Accounts' / 'genesis')")
                        continue
                    tags = set(entry.get("labels") or [])
                    name = clean(entry.get("name", ""))
                    if a in malicious:
                        ds.drop("carries a malicious/sanctions tag (not benign)")
                        continue
                    labels = set()
                    is_token = (kind == "Token" or a in token_addrs or "token-contract" in tags
                                or self.ES_TOKEN_NAME_RE.search(name))
                    if is_token:
                        # A token contract: its tags describe the issuing project (an exchange's
                        # or a DEX's own token is not an exchange or a DEX), so `token` only.
                        labels.add("token")
                    else:
                        if tags & self.ES_EXCHANGE:
                            labels.add("exchange")
                        if tags & self.ES_BRIDGE:
                            labels.add("bridge")
                        if tags & self.ES_DEX:
                            labels.add("dex")
                        if tags & self.ES_DEFI:
                            labels.add("defi")
                        if tags & self.ES_MEV:
                            labels.add("mev-bot")
                        if (self.ES_SPENDER_NAME_RE.search(name) and not self.ES_NOT_SPENDER_NAME_RE.search(name)
                                and not tags & self.ES_NOT_KNOWN_SPENDER_TAGS):
                            old = tags & self.ES_DEPRECATED or re.search(r"\bold\b", name, re.I)
                            labels.add("deprecated-spender" if old else "known-spender")
                    if not labels:
                        ds.drop("no mappable benign category")
                        continue
                    ds.add("address", chain, a, labels, 0.6 if labels == {"token"} else 0.7,
                           name=name or ",".join(sorted(tags)),
                           reference=f"{folder}/combined{kind}Labels.json")

    # ------------------------------------------------------------------ dawsbot eth-labels
    DAWSBOT_CHAINS = {
        "etherscan": "1", "optimism": "10", "bscscan": "56", "gnosis": "100", "basescan": "8453",
        "celo": "42220", "arbiscan": "42161", "polygonscan": "137",
    }

    def dawsbot(self) -> None:
        ds = self.new("eth-labels-dawsbot", licence_files=["eth-labels-dawsbot/LICENSE"],
                      version="2022-08 + 2024-06-17", source="dawsbot/eth-labels",
                      licence="MIT")
        rel = "eth-labels-dawsbot/etherscan_phish-hack_2022-08.csv"
        ds.use(rel)
        for r in read_csv_dicts(self.p(rel)):
            ds.input_rows += 1
            a = norm_address(r["address"])
            if a is None:
                ds.drop("invalid address (spreadsheet-mangled, e.g. 1.43E+48)")
                continue
            labels = classify_tag(r["nameTag"], "phish-hack", a in self.known_contracts)
            ds.add("address", "1", a, labels, 0.7, name=r["nameTag"], reference="etherscan_phish-hack_2022-08.csv")
        rel = "eth-labels-dawsbot/malicious_labels_2024-06-17.csv"
        ds.use(rel)
        skip = {
            "take-action": "take-action tag: victims asked to revoke approvals, not malicious",
            "blocked": "blocked tag: ambiguous Etherscan tag (also on the USDT contract itself), not a verdict",
            "high-risk": "high-risk tag (Forsage-style ponzi), no matching label",
            "compromised": "compromised tag: victim wallet",
        }
        for r in read_csv_dicts(self.p(rel)):
            ds.input_rows += 1
            a = norm_address(r["address"])
            chain = self.DAWSBOT_CHAINS.get(r["chain_site"].strip())
            label = r["label"].strip()
            if a is None:
                ds.drop("invalid address")
                continue
            if chain is None:
                ds.drop(f"unknown chain site {r['chain_site']}")
                continue
            if label in skip:
                ds.drop(skip[label])
                continue
            delisted = ""
            is_tc = a in self.tornado or "tornado" in r["name_tag"].lower()
            if label == "ofac-sanctions-lists":
                if a in self.ofac_removed:
                    ds.drop("ofac-sanctions-lists tag on an address already off the OFAC list by 2024-09")
                    continue
                labels = {"sanctioned"}
                if is_tc:
                    labels.add("mixer")
                    delisted = TORNADO_DELISTED_AT
            elif label == "tornado-cash":
                labels = {"mixer"}
                if a in self.tornado:
                    labels.add("sanctioned")
                    delisted = TORNADO_DELISTED_AT
            elif label in CATEGORY_LABELS:
                labels = classify_tag(r["name_tag"], label, a in self.known_contracts)
            else:
                ds.drop(f"unmapped label {label}")
                continue
            ds.add("address", chain, a, labels, 0.7, delisted_at=delisted, name=r["name_tag"],
                   reference=f"{r['chain_site'].strip()} {label}")

    # ------------------------------------------------------------------ MetaMask token list
    def tokenlist(self) -> None:
        ds = self.new("metamask-tokenlist", licence_files=["tokenlists/metamask-contract-metadata/LICENSE"],
                      version="2.5.0", source="MetaMask/contract-metadata "
                      "(npm @metamask/contract-metadata)", licence="ISC")
        rel = "tokenlists/metamask-contract-metadata/contract-map.json"
        ds.use(rel)
        for key, meta in read_json(self.p(rel)).items():
            ds.input_rows += 1
            a = norm_address(key)
            if a is None:
                ds.drop("invalid address")
                continue
            ds.add("address", "1", a, {"token"}, 0.9, name=meta.get("symbol", ""), reference=meta.get("name", ""))

    # ------------------------------------------------------------------ DeFiHackLabs
    DHL_CHAINS = {
        "mainnet": "1", "ethereum": "1", "bsc": "56", "arbitrum": "42161", "base": "8453",
        "polygon": "137", "avalanche": "43114", "optimism": "10", "fantom": "250", "blast": "81457",
        "gnosis": "100", "moonriver": "1285", "moonbeam": "1284", "linea": "59144", "mantle": "5000",
        "zksync": "324",
    }

    def defihacklabs(self) -> None:
        ds = self.new("defihacklabs", version="2025-06", source="SunWeb3Sec/DeFiHackLabs (PoC headers)",
                      licence="Apache-2.0",
                      note="attacker EOAs and attack contracts only; vulnerable (victim) contracts are not bundled")
        rel = "defihacklabs_incidents_to_2025-06.csv"
        ds.use(rel)
        conflicts = 0
        for r in read_csv_dicts(self.p(rel)):
            ds.input_rows += 1
            fork, hint = r["fork_chain"].strip().lower(), r["chain_hint"].strip().lower()
            chain = self.DHL_CHAINS.get(fork) or self.DHL_CHAINS.get(hint) or "*"
            if fork and hint and self.DHL_CHAINS.get(fork) and self.DHL_CHAINS.get(hint) \
                    and self.DHL_CHAINS[fork] != self.DHL_CHAINS[hint]:
                conflicts += 1
            month = r["month"].strip()
            first_seen = f"{month}-01" if re.match(r"^\d{4}-\d{2}$", month) else ""
            incident = re.sub(r"_exp$", "", Path(r["poc_file"]).stem)
            txs = TX_RE.findall(r["attack_txs"])
            ref = txs[0].lower() if txs else r["poc_file"]
            addrs = []
            for field in ("attacker_addresses", "attack_contract_addresses"):
                for x in re.split(r"[;,\s]+", r[field]):
                    a = norm_address(x)
                    if a and a not in addrs:
                        addrs.append(a)
                    elif x.strip() and not a:
                        ds.drop(f"invalid address in {field}")
            if not addrs:
                ds.drop("incident without attacker/attack-contract address")
                continue
            for a in addrs:
                ds.add("address", chain, a, {"exploit"}, 0.9, first_seen=first_seen, name=incident, reference=ref)
        if conflicts:
            self.notes.append(f"defihacklabs: {conflicts} incident(s) where chain_hint and fork_chain disagree "
                              f"(fork_chain used: it is the chain the PoC actually forks)")

    # ------------------------------------------------------------------ run
    def build_all(self) -> None:
        self.ofac()  # first: defines the Tornado Cash delisted set used by other datasets
        self.forta_labelled()
        self.forta_starter_kits()
        self.revokecash()
        self.eip7702()
        self.polkadot()
        self.metamask()
        self.etherscan_labels()
        self.dawsbot()
        self.tokenlist()
        self.defihacklabs()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", type=Path, default=DEFAULT_SRC, help="raw seeds (default: ../shared/data/intel)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output dir (default: scorpius-core/data/intel)")
    ap.add_argument("--stats", action="store_true", help="print per-dataset counts and drop reasons")
    args = ap.parse_args(argv)
    src, out = args.src, args.out
    if not src.is_dir():
        print(f"source directory not found: {src}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)

    b = Builder(src)
    b.build_all()

    written = set()
    manifest = []
    lic_dir = out / "LICENSES"
    lic_written = set()
    for ds in b.datasets:
        for rel in ds.licence_files:
            dest = rel.replace("/", "--") + ".txt"
            lic_dir.mkdir(parents=True, exist_ok=True)
            (lic_dir / dest).write_bytes((src / rel).read_bytes())
            lic_written.add(dest)
    for stale in sorted(lic_dir.glob("*.txt")) if lic_dir.exists() else []:
        if stale.name not in lic_written:
            stale.unlink()
    for ds in sorted(b.datasets, key=lambda d: d.name):
        data = ds.render()
        fname = f"{ds.name}.tsv"
        (out / fname).write_bytes(data)
        written.add(fname)
        manifest.append({
            "name": ds.name,
            "file": fname,
            "version": ds.version,
            "source": ds.source,
            "licence": ds.licence,
            "row_count": len(ds.rows),
            "input_rows": ds.input_rows,
            "source_files": ds.source_files,
            "sha256": hashlib.sha256(data).hexdigest(),
            "licence_files": ["LICENSES/" + rel.replace("/", "--") + ".txt" for rel in ds.licence_files],
            "note": ds.note,
        })
    fp_in, fp_out = b.fp_fixture(out)
    # Remove stale dataset files from earlier runs (only *.tsv directly in the output dir).
    for stale in sorted(out.glob("*.tsv")):
        if stale.name not in written:
            stale.unlink()

    doc = {
        "format": 1,
        "columns": COLUMNS,
        "labels": LABELS,
        "datasets": manifest,
        "fixtures": [{
            "name": "forta-scam-detector-fp",
            "file": "fp/forta-scam-detector-fp.tsv",
            "columns": ["chain", "value", "name"],
            "version": "2025-08",
            "source": "forta-network/starter-kits (scam_detector_fp_list.csv)",
            "licence": "MIT",
            "row_count": fp_out,
            "source_files": ["forta-starter-kits/scam_detector_fp_list.csv"],
            "sha256": b.fp_sha,
            "licence_files": ["LICENSES/forta-starter-kits--LICENSE.txt"],
            "note": "benign addresses that were once scam-detector false positives: a regression fixture, not intel",
        }],
    }
    (out / "manifest.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    total = 0
    for m in manifest:
        total += m["row_count"]
        print(f"{m['name']:<24} {m['row_count']:>7} rows  (input {m['input_rows']})")
    print(f"{'fp/forta-scam-detector-fp':<24} {fp_out:>7} rows  (input {fp_in})")
    print(f"{'total':<24} {total:>7} rows")
    if args.stats:
        for ds in sorted(b.datasets, key=lambda d: d.name):
            labels = collections.Counter(l for r in ds.rows.values() for l in r["labels"])
            print(f"\n## {ds.name}: input {ds.input_rows}, added {ds.emitted}, output {len(ds.rows)}, "
                  f"merged duplicates {ds.emitted - len(ds.rows)}")
            for reason, n in sorted(ds.dropped.items()):
                print(f"  dropped {n:>6}  {reason}")
            for f in ds.skipped_files:
                print(f"  not read: {f}")
            print("  labels: " + ", ".join(f"{l}={labels[l]}" for l in LABELS if labels[l])
                  + (f", (none)={sum(1 for r in ds.rows.values() if not r['labels'])}"
                     if any(not r["labels"] for r in ds.rows.values()) else ""))
        if b.notes:
            print("\n## source notes")
            for n in b.notes:
                print("  - " + n)
        print(f"\nTornado Cash delisted set: {len(b.tornado)} addresses")
    return 0


if __name__ == "__main__":
    sys.exit(main())
