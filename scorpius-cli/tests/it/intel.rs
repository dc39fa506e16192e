//! Threat intelligence: `intel status|lookup|import|export|remove`, `scan address`, `scan domain`
//! and the intel checks of `scan tx` (spender screening, known-good spenders, `--origin`,
//! `--history` address poisoning).
//!
//! Every test has its own intel store: [`Env`] points SCORPIUS_DATA_DIR into the test's temp dir,
//! so imports never touch the developer's store and never leak from one test into another.

use std::path::Path;

use serde_json::Value;
use sha2::Digest as _;

use crate::common::*;

/// The bundled intel sources the binary embeds.
const INTEL_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scorpius-core/data/intel");

/// Tornado Cash router: OFAC-listed in 2022, delisted on 2025-03-21.
const TORNADO_ROUTER: &str = "0xd90e2f925da726b50c4ed8d0fb90ad053324f31b";
/// Tornado Cash delisting date.
const TORNADO_DELISTED: &str = "2025-03-21";
/// Lazarus Group: on the OFAC list, not delisted.
const LAZARUS: &str = "0x08723392ed15743cc38513c4925f5e6be5c17243";
/// Permit2: a known-good spender.
const PERMIT2: &str = "0x000000000022D473030F116dDEE9F6B43aC78BA3";
/// Permit2 with the checksum broken (last `A` lowercased).
const PERMIT2_BAD_CHECKSUM: &str = "0x000000000022D473030F116dDEE9F6B43aC78Ba3";
/// USDT on Ethereum mainnet.
const USDT: &str = "0xdAC17F958D2ee523a2206206994597C13D831ec7";
/// An address no dataset knows.
const UNKNOWN: &str = "0x7e57ab1e0000000000000000000000000000c0de";

/// Addresses of the user feeds below (none is in a bundled dataset).
const FEED_1: &str = "0x5e7d2b1a0c9f8e7d6c5b4a392817f6e5d4c3b2a1";
const FEED_2: &str = "0x9876e1d2c3b4a5968778695a4b3c2d1e0f105432";
const FEED_3: &str = "0x98760a1b2c3d4e5f60718293a4b5c6d7e8f95432";

/// Phishing domains of the user feeds below (none is in a bundled list).
const FEED_DOMAIN_1: &str = "scorpius-airdrop-claim.com";
const FEED_DOMAIN_2: &str = "free-mint-scorpius.net";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A bundled intel source file.
fn intel_source(rel: &str) -> String {
    let p = Path::new(INTEL_DIR).join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// The bundled intel manifest.
fn manifest() -> Value {
    serde_json::from_str(&intel_source("manifest.json")).expect("manifest.json is JSON")
}

/// Every bundled dataset of the manifest: `datasets` and `fixtures` (the false-positive
/// corrections).
fn manifest_datasets() -> Vec<Value> {
    let m = manifest();
    let mut all = m["datasets"].as_array().expect("manifest datasets").clone();
    all.extend(m["fixtures"].as_array().cloned().unwrap_or_default());
    all
}

/// The version of a bundled dataset, per the manifest.
fn bundled_version(name: &str) -> String {
    manifest_datasets()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in the manifest"))["version"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `intel status --format json`.
fn status(env: &Env) -> Vec<Value> {
    stdout_json(&env.run(["intel", "status", "--format", "json"]).success())
        .as_array()
        .expect("status is a JSON array")
        .clone()
}

/// The status entries named `name`.
fn status_of<'a>(status: &'a [Value], name: &str) -> Vec<&'a Value> {
    status.iter().filter(|d| d["name"] == name).collect()
}

/// `intel lookup VALUE --format json`.
fn lookup(env: &Env, value: &str) -> Value {
    let r = stdout_json(&env.run(["intel", "lookup", value, "--format", "json"]).success());
    assert!(r["hits"].is_array(), "{r:#}");
    r
}

/// Datasets of a lookup's hits.
fn hit_datasets(lookup: &Value) -> Vec<String> {
    lookup["hits"].as_array().unwrap().iter().map(|h| h["dataset"].as_str().unwrap().to_owned()).collect()
}

/// `intel import FILE --format FORMAT --source SOURCE EXTRA…`, expected to succeed; returns the
/// `result` object.
fn import(env: &Env, file: &str, format: &str, source: &str, extra: &[&str]) -> Value {
    let mut args = vec!["intel", "import", file, "--format", format, "--source", source];
    args.extend(extra);
    let r = stdout_json(&env.run(args).success());
    assert_eq!(r["dataset"], source, "{r:#}");
    r["result"].clone()
}

/// Runs `scorpius ARGS`, expects exit code 2 and returns stderr.
fn usage_error(env: &Env, args: &[&str]) -> String {
    let a = env.run(args).code(2);
    let err = stderr_of(&a);
    assert!(
        a.get_output().stdout.is_empty(),
        "stdout on a usage error: {}",
        String::from_utf8_lossy(&a.get_output().stdout)
    );
    err
}

/// Every finding with `rule_id`.
fn findings<'a>(report: &'a Value, rule_id: &str) -> Vec<&'a Value> {
    report["findings"].as_array().expect("findings").iter().filter(|f| f["rule_id"] == rule_id).collect()
}

/// The only finding with `rule_id`.
fn finding<'a>(report: &'a Value, rule_id: &str) -> &'a Value {
    let f = findings(report, rule_id);
    assert_eq!(f.len(), 1, "expected one {rule_id} finding in {report:#}");
    f[0]
}

/// The version a report lists for `dataset`, if it lists it.
fn report_dataset_version(report: &Value, dataset: &str) -> Option<String> {
    report["datasets"]
        .as_array()
        .expect("report.datasets")
        .iter()
        .find(|d| d["name"] == dataset)
        .map(|d| d["version"].as_str().unwrap().to_owned())
}

/// A 32-byte ABI word holding an address.
fn address_word(address: &str) -> String {
    let hex = address.trim_start_matches("0x").to_lowercase();
    assert_eq!(hex.len(), 40, "{address}");
    format!("{hex:0>64}")
}

/// Calldata of `approve(spender, 2^256 - 1)`.
fn approve_unlimited(spender: &str) -> String {
    format!("0x095ea7b3{}{}", address_word(spender), "f".repeat(64))
}

/// Calldata of `transfer(to, amount)`.
fn transfer(to: &str, amount: u128) -> String {
    format!("0xa9059cbb{}{amount:064x}", address_word(to))
}

/// sha256 of a file, hex.
fn sha256_hex(p: &Path) -> String {
    hex::encode(sha2::Sha256::digest(std::fs::read(p).unwrap()))
}

// ---------------------------------------------------------------------------------------------
// intel status
// ---------------------------------------------------------------------------------------------

#[test]
fn status_lists_every_bundled_dataset_with_version_licence_and_count() {
    let env = Env::new();
    let st = status(&env);
    let expected = manifest_datasets();
    assert!(expected.len() >= 14, "manifest lists {} datasets", expected.len());
    for m in &expected {
        let name = m["name"].as_str().unwrap();
        let found = status_of(&st, name);
        assert_eq!(found.len(), 1, "{name} listed {} times in {st:#?}", found.len());
        let d = found[0];
        assert_eq!(d["bundled"], true, "{d:#}");
        assert_eq!(d["version"], m["version"], "{d:#}");
        assert_eq!(d["licence"], m["licence"], "{d:#}");
        assert!(!d["licence"].as_str().unwrap().is_empty(), "{d:#}");
        assert!(d["row_count"].as_u64().unwrap() > 0, "{d:#}");
        assert_eq!(d["row_count"], m["row_count"], "{d:#}");
        assert!(d["imported_at"].is_null(), "bundled datasets are not imported: {d:#}");
        // The count matches the data actually embedded.
        let rows = intel_source(m["file"].as_str().unwrap()).lines().skip(1).filter(|l| !l.trim().is_empty()).count();
        assert_eq!(d["row_count"].as_u64().unwrap() as usize, rows, "{name}: status count vs rows of its file");
    }
    for name in [
        "ofac-sanctions",
        "forta-labelled",
        "forta-starter-kits",
        "revokecash-whois",
        "eip7702-delegates",
        "polkadot-phishing",
        "metamask-phishing-deny",
        "metamask-phishing-allow",
        "metamask-tokenlist",
        "defihacklabs",
        "etherscan-labels",
        "forta-scam-detector-fp",
    ] {
        assert_eq!(status_of(&st, name).len(), 1, "{name} missing from intel status");
    }
    assert_eq!(st.len(), expected.len(), "nothing but the bundled datasets before any import: {st:#?}");
    // Reading the status creates no store.
    assert!(!env.data_dir().join("intel.sqlite").exists());
}

#[test]
fn status_table_names_the_datasets() {
    let env = Env::new();
    env.run(["intel", "status", "--format", "table"])
        .success()
        .stdout(predicates::str::contains("ofac-sanctions"))
        .stdout(predicates::str::contains("forta-scam-detector-fp"))
        .stdout(predicates::str::contains("bundled"));
}

#[test]
fn status_shows_an_imported_dataset_with_its_import_time() {
    let env = Env::new();
    let before = status(&env);
    let file = env.write("address.json", format!(r#"["{FEED_1}", "{FEED_2}"]"#));
    let r = import(
        &env,
        "address.json",
        "scamsniffer",
        "scamsniffer-addresses",
        &["--dataset-version", "2026-01-02", "--licence", "GPL-3.0"],
    );
    assert_eq!(r["outcome"], "imported");
    assert_eq!(r["rows"], 2);
    assert!(env.data_dir().join("intel.sqlite").is_file(), "the store lives in SCORPIUS_DATA_DIR");

    let after = status(&env);
    assert_eq!(after.len(), before.len() + 1);
    let d = status_of(&after, "scamsniffer-addresses");
    assert_eq!(d.len(), 1, "{after:#?}");
    let d = d[0];
    assert_eq!(d["bundled"], false);
    assert_eq!(d["version"], "2026-01-02");
    assert_eq!(d["licence"], "GPL-3.0");
    assert_eq!(d["row_count"], 2);
    assert_eq!(d["sha256"], sha256_hex(&file));
    let at = d["imported_at"].as_str().unwrap_or_else(|| panic!("no imported_at: {d:#}"));
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("imported_at `{at}` is not RFC 3339: {e}"));
    // The table shows it as imported (the name may wrap in the column).
    env.run(["intel", "status", "--format", "table"])
        .success()
        .stdout(predicates::str::contains("scamsniffer"))
        .stdout(predicates::str::contains("imported"));
}

// ---------------------------------------------------------------------------------------------
// intel lookup
// ---------------------------------------------------------------------------------------------

#[test]
fn lookup_tornado_router_is_formerly_sanctioned_not_dropped() {
    let env = Env::new();
    let r = lookup(&env, TORNADO_ROUTER);
    let hits = r["hits"].as_array().unwrap();
    let ofac: Vec<_> = hits.iter().filter(|h| h["dataset"] == "ofac-sanctions").collect();
    assert_eq!(ofac.len(), 1, "the delisted router is still in ofac-sanctions: {r:#}");
    let h = ofac[0];
    assert!(h["labels"].as_array().unwrap().contains(&Value::from("sanctioned")), "{h:#}");
    assert_eq!(h["delisted_at"], TORNADO_DELISTED);
    assert_eq!(h["dataset_version"], bundled_version("ofac-sanctions"));
    assert_eq!(h["kind"], "address");
    // No dataset reports it as currently sanctioned.
    for h in hits.iter().filter(|h| h["labels"].as_array().unwrap().contains(&Value::from("sanctioned"))) {
        assert_eq!(h["delisted_at"], TORNADO_DELISTED, "a sanctioned label without the delisting: {h:#}");
    }
    // The same in the table.
    env.run(["intel", "lookup", TORNADO_ROUTER, "--format", "table"])
        .success()
        .stdout(predicates::str::contains("sanctioned"))
        .stdout(predicates::str::contains(format!("delisted {TORNADO_DELISTED}")));
}

#[test]
fn lookup_permit2_is_a_known_spender() {
    let env = Env::new();
    let r = lookup(&env, PERMIT2);
    let hits = r["hits"].as_array().unwrap();
    assert!(
        hits.iter().any(|h| h["labels"].as_array().unwrap().contains(&Value::from("known-spender"))),
        "no known-spender label: {r:#}"
    );
    let malicious = ["sanctioned", "phishing", "drainer", "exploit", "exploited-spender", "scam-token", "poisoner"];
    for h in hits {
        for l in h["labels"].as_array().unwrap() {
            assert!(!malicious.contains(&l.as_str().unwrap()), "Permit2 labelled {l}: {h:#}");
        }
        assert_eq!(h["value"], PERMIT2, "values are shown checksummed");
    }
}

#[test]
fn lookup_bad_addresses_exit_2_naming_the_problem() {
    let env = Env::new();
    let err = usage_error(&env, &["intel", "lookup", PERMIT2_BAD_CHECKSUM]);
    assert!(err.contains("checksum"), "{err}");
    assert!(err.contains(PERMIT2), "the message gives the correct checksum: {err}");
    // Too short and too long (odd length): an address problem, not "not a domain".
    for (bad, want) in [("0x1234", "20 bytes"), ("0x000000000022D473030F116dDEE9F6B43aC78BA3a", "hex digits")] {
        let err = usage_error(&env, &["intel", "lookup", bad]);
        assert!(err.contains(want), "intel lookup {bad}: {err}");
    }
}

#[test]
fn lookup_unknown_values_say_unknown() {
    let env = Env::new();
    for v in [UNKNOWN, "unknown-site-for-scorpius-tests.org"] {
        let r = lookup(&env, v);
        assert_eq!(r["hits"], Value::Array(vec![]), "{r:#}");
        assert_eq!(r["value"], v);
        let a = env.run(["intel", "lookup", v, "--format", "table"]).success();
        let out = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
        assert!(out.contains("unknown") && out.contains("not the same as safe"), "{out}");
    }
}

// ---------------------------------------------------------------------------------------------
// intel import / export / remove
// ---------------------------------------------------------------------------------------------

#[test]
fn scamsniffer_import_is_screened_idempotent_and_replaced_on_update() {
    let env = Env::new();
    // ScamSniffer's blacklist/address.json: a JSON array of strings, in any case.
    env.write("address.json", format!(r#"["{FEED_1}", "{}"]"#, FEED_2.to_uppercase().replace("0X", "0x")));
    let before = stdout_json(&env.run(["scan", "address", FEED_1]).success());
    assert_eq!(rule_ids(&before), Vec::<String>::new(), "FEED_1 is in no bundled dataset");

    let r = import(&env, "address.json", "scamsniffer", "scamsniffer-addresses", &["--dataset-version", "v1"]);
    assert_eq!(r["outcome"], "imported", "{r:#}");
    assert_eq!(r["rows"], 2);

    // The default label of a ScamSniffer list is phishing, and scans name the dataset.
    for a in [FEED_1, FEED_2] {
        let report = stdout_json(&env.run(["scan", "address", a]).success());
        let f = finding(&report, "address-malicious");
        assert_eq!(f["severity"], "critical");
        assert_eq!(f["evidence"]["dataset"], "scamsniffer-addresses");
        assert_eq!(f["evidence"]["dataset_version"], "v1");
        assert_eq!(f["evidence"]["labels"], serde_json::json!(["phishing"]));
        assert_eq!(report_dataset_version(&report, "scamsniffer-addresses").as_deref(), Some("v1"));
    }

    // The same file again: nothing changes.
    let r = import(&env, "address.json", "scamsniffer", "scamsniffer-addresses", &["--dataset-version", "v1"]);
    assert_eq!(r["outcome"], "unchanged", "{r:#}");
    assert_eq!(r["rows"], 2);
    assert_eq!(status_of(&status(&env), "scamsniffer-addresses").len(), 1);

    // The feed grew by one address: the dataset is replaced.
    env.write("address.json", format!(r#"["{FEED_1}", "{FEED_2}", "{FEED_3}"]"#));
    assert!(lookup(&env, FEED_3)["hits"].as_array().unwrap().is_empty());
    let r = import(&env, "address.json", "scamsniffer", "scamsniffer-addresses", &["--dataset-version", "v2"]);
    assert_eq!(r["outcome"], "replaced", "{r:#}");
    assert_eq!(r["previous_rows"], 2);
    assert_eq!(r["rows"], 3);
    let st = status(&env);
    let d = status_of(&st, "scamsniffer-addresses");
    assert_eq!(d.len(), 1, "{st:#?}");
    assert_eq!(d[0]["row_count"], 3);
    assert_eq!(d[0]["version"], "v2");
    assert_eq!(hit_datasets(&lookup(&env, FEED_3)), ["scamsniffer-addresses"]);
    let report = stdout_json(&env.run(["scan", "address", FEED_1]).success());
    assert_eq!(finding(&report, "address-malicious")["evidence"]["dataset_version"], "v2");
}

/// A CSV feed whose rows 3 and 4 are bad.
const BAD_CSV: &str = "address,labels,chain,name
0x00000000000000000000000000000000000a11ce,drainer,1,Inferno
0x1234,phishing,1,
0x00000000000000000000000000000000000b0b00,nonsense,1,
";
const BAD_CSV_GOOD_ROW: &str = "0x00000000000000000000000000000000000a11ce";

fn check_bad_csv_rejected(env: &Env, source: &str) {
    let err = usage_error(env, &["intel", "import", "bad.csv", "--format", "csv", "--source", source]);
    assert!(err.contains("bad.csv:3:"), "{err}");
    assert!(err.contains("0x1234"), "{err}");
    assert!(err.contains("bad.csv:4:"), "{err}");
    assert!(err.contains("nonsense"), "{err}");
    assert!(err.contains("2 bad row"), "{err}");
    assert!(err.contains("nothing imported"), "{err}");
    assert!(!err.contains("bad.csv:2:"), "the good row is not reported: {err}");
}

#[test]
fn csv_with_bad_rows_imports_nothing() {
    let env = Env::new();
    env.write("bad.csv", BAD_CSV);
    let before = status(&env);
    check_bad_csv_rejected(&env, "my-csv");
    assert_eq!(status(&env), before, "a rejected file changes nothing");
    assert!(lookup(&env, BAD_CSV_GOOD_ROW)["hits"].as_array().unwrap().is_empty(), "the good row was not imported");
    assert!(rule_ids(&stdout_json(&env.run(["scan", "address", BAD_CSV_GOOD_ROW]).success())).is_empty());
}

#[test]
fn csv_with_bad_rows_leaves_the_previous_import_intact() {
    let env = Env::new();
    env.write("good.csv", format!("address,labels,chain,name\n{FEED_1},drainer,1,Inferno\n"));
    assert_eq!(import(&env, "good.csv", "csv", "my-csv", &[])["outcome"], "imported");
    let before = status(&env);
    env.write("bad.csv", BAD_CSV);
    check_bad_csv_rejected(&env, "my-csv");
    assert_eq!(status(&env), before, "the rejected update left the dataset as it was");
    assert!(lookup(&env, BAD_CSV_GOOD_ROW)["hits"].as_array().unwrap().is_empty());
    let r = lookup(&env, FEED_1);
    assert_eq!(hit_datasets(&r), ["my-csv"]);
    assert_eq!(r["hits"][0]["labels"], serde_json::json!(["drainer"]));
    assert_eq!(r["hits"][0]["name"], "Inferno");
    assert_eq!(r["hits"][0]["chain"], 1);
}

#[test]
fn txt_feed_with_comments() {
    let env = Env::new();
    env.write(
        "feed.txt",
        format!("# My drainer feed\n# one value per line\n\n{FEED_DOMAIN_1}   # the claim site\n  {FEED_1}\n\n# end\n"),
    );
    // A plain list says nothing about what it lists: a label is required.
    let err = usage_error(&env, &["intel", "import", "feed.txt", "--format", "txt", "--source", "my-txt"]);
    assert!(err.contains("--label"), "{err}");
    assert!(!env.data_dir().join("intel.sqlite").exists() || status_of(&status(&env), "my-txt").is_empty());

    let r = import(&env, "feed.txt", "txt", "my-txt", &["--label", "drainer"]);
    assert_eq!(r["outcome"], "imported", "{r:#}");
    assert_eq!(r["rows"], 2, "comments and blank lines are not rows");
    let d = lookup(&env, FEED_DOMAIN_1);
    assert_eq!(hit_datasets(&d), ["my-txt"]);
    assert_eq!(d["hits"][0]["labels"], serde_json::json!(["drainer"]));
    assert_eq!(d["hits"][0]["kind"], "domain");
    let a = lookup(&env, FEED_1);
    assert_eq!(hit_datasets(&a), ["my-txt"]);
    assert_eq!(a["hits"][0]["kind"], "address");
    let report = stdout_json(&env.run(["scan", "address", FEED_1]).success());
    assert_eq!(finding(&report, "address-malicious")["evidence"]["labels"], serde_json::json!(["drainer"]));
}

#[test]
fn eth_phishing_detect_config_feeds_scan_domain() {
    let env = Env::new();
    let url = format!("https://app.{FEED_DOMAIN_1}/claim?ref=1");
    for site in [FEED_DOMAIN_1, url.as_str()] {
        let r = stdout_json(&env.run(["scan", "domain", site]).success());
        assert_eq!(rule_ids(&r), Vec::<String>::new(), "{site} is in no bundled list: {r:#}");
    }
    env.write(
        "config.json",
        format!(
            r#"{{
  "version": 2,
  "tolerance": 1,
  "fuzzylist": ["metamask.io"],
  "whitelist": ["allowed-by-this-feed.org"],
  "blacklist": ["{FEED_DOMAIN_1}", "{FEED_DOMAIN_2}"]
}}"#
        ),
    );
    let r = import(&env, "config.json", "eth-phishing-detect", "my-metamask", &["--dataset-version", "7.0.0"]);
    assert_eq!(r["outcome"], "imported", "{r:#}");
    assert_eq!(r["rows"], 2, "only the blacklist is imported");
    assert!(lookup(&env, "allowed-by-this-feed.org")["hits"].as_array().unwrap().is_empty());
    let l = lookup(&env, FEED_DOMAIN_2);
    assert_eq!(hit_datasets(&l), ["my-metamask"]);
    assert_eq!(l["hits"][0]["labels"], serde_json::json!(["phishing"]), "default label of a deny list");

    for site in [FEED_DOMAIN_1, url.as_str()] {
        let a = env.run(["scan", "domain", site, "--fail-on", "high"]).code(1);
        let r = stdout_json(&a);
        let f = finding(&r, "domain-phishing");
        assert_eq!(f["severity"], "critical");
        assert_eq!(f["evidence"]["dataset"], "my-metamask");
        assert_eq!(f["evidence"]["dataset_version"], "7.0.0");
        assert_eq!(f["evidence"]["registrable_domain"], FEED_DOMAIN_1);
        assert_eq!(report_dataset_version(&r, "my-metamask").as_deref(), Some("7.0.0"));
    }
}

#[test]
fn import_rejects_bad_invocations_and_imports_nothing() {
    let env = Env::new();
    env.write("address.json", format!(r#"["{FEED_1}"]"#));
    let imp = |rest: &[&str]| {
        let mut args = vec!["intel", "import"];
        args.extend(rest);
        usage_error(&env, &args)
    };
    // Names of bundled datasets, including the false-positive corrections, are taken.
    for bundled in ["ofac-sanctions", "polkadot-phishing", "metamask-phishing-deny", "forta-scam-detector-fp"] {
        let err = imp(&["address.json", "--format", "scamsniffer", "--source", bundled]);
        assert!(err.contains(bundled) && err.contains("bundled"), "--source {bundled}: {err}");
    }
    for bad_name in ["Bad Name", "", "../escape"] {
        let err = imp(&["address.json", "--format", "scamsniffer", "--source", bad_name]);
        assert!(err.contains("--source"), "--source {bad_name:?}: {err}");
    }
    let err = imp(&["address.json", "--format", "yaml", "--source", "x"]);
    assert!(err.contains("yaml") && err.contains("--format"), "{err}");
    let err = imp(&["missing.json", "--format", "scamsniffer", "--source", "x"]);
    assert!(err.contains("missing.json"), "{err}");
    let err = imp(&["address.json", "--format", "scamsniffer", "--source", "x", "--label", "evil"]);
    assert!(err.contains("evil"), "{err}");
    env.write("not-an-array.json", r#"{"address": "0x1"}"#);
    let err = imp(&["not-an-array.json", "--format", "scamsniffer", "--source", "x"]);
    assert!(err.contains("not-an-array.json:1:") && err.contains("array"), "{err}");

    let st = status(&env);
    assert!(st.iter().all(|d| d["bundled"] == true), "nothing imported: {st:#?}");
    assert!(lookup(&env, FEED_1)["hits"].as_array().unwrap().is_empty());
}

#[test]
fn export_then_import_tsv_round_trips() {
    let env = Env::new();
    env.write(
        "feed.csv",
        format!(
            "address,labels,chain,name,confidence,reference\n\
             {FEED_1},\"drainer,phishing\",1,Inferno Drainer,0.9,https://example.org/inferno\n\
             {FEED_2},poisoner,,,,\n"
        ),
    );
    env.write("feed.txt", format!("{FEED_DOMAIN_2}\n"));
    assert_eq!(import(&env, "feed.csv", "csv", "mine", &[])["rows"], 2);
    assert_eq!(import(&env, "feed.txt", "txt", "other", &["--label", "phishing"])["rows"], 1);

    let a = env.run(["intel", "export", "--source", "mine", "--output", "mine.tsv"]).success();
    assert!(a.get_output().stdout.is_empty(), "--output writes the file, not stdout");
    let exported = std::fs::read_to_string(env.work().join("mine.tsv")).unwrap();
    let stdout_export =
        String::from_utf8(env.run(["intel", "export", "--source", "mine"]).success().get_output().stdout.clone())
            .unwrap();
    assert_eq!(exported, stdout_export);
    let lines: Vec<&str> = exported.lines().collect();
    assert!(lines[0].starts_with("kind\tchain\tvalue\tlabels"), "{exported}");
    assert_eq!(lines.len(), 3, "header and the two rows of `mine` only: {exported}");
    assert!(exported.contains(FEED_1) && exported.contains(FEED_2) && !exported.contains(FEED_DOMAIN_2), "{exported}");
    assert!(exported.contains("Inferno Drainer") && exported.contains("https://example.org/inferno"), "{exported}");

    let r = import(&env, "mine.tsv", "tsv", "mine-copy", &[]);
    assert_eq!(r["outcome"], "imported", "{r:#}");
    assert_eq!(r["rows"], 2);
    let again =
        String::from_utf8(env.run(["intel", "export", "--source", "mine-copy"]).success().get_output().stdout.clone())
            .unwrap();
    assert_eq!(again, exported, "the copy exports the same rows");

    let l = lookup(&env, FEED_1);
    let mut ds = hit_datasets(&l);
    ds.sort();
    assert_eq!(ds, ["mine", "mine-copy"]);
    for h in l["hits"].as_array().unwrap() {
        assert_eq!(h["labels"], serde_json::json!(["phishing", "drainer"]), "{h:#}");
        assert_eq!(h["name"], "Inferno Drainer");
        assert_eq!(h["chain"], 1);
        assert_eq!(h["reference"], "https://example.org/inferno");
    }

    // Without --source: every imported dataset.
    let all = String::from_utf8(env.run(["intel", "export"]).success().get_output().stdout.clone()).unwrap();
    assert!(all.contains(FEED_DOMAIN_2) && all.contains(FEED_1), "{all}");
    let err = usage_error(&env, &["intel", "export", "--source", "no-such-dataset"]);
    assert!(err.contains("no-such-dataset"), "{err}");
}

#[test]
fn remove_deletes_an_imported_dataset_once() {
    let env = Env::new();
    env.write("address.json", format!(r#"["{FEED_1}"]"#));
    env.write("domains.json", format!(r#"["{FEED_DOMAIN_1}"]"#));
    import(&env, "address.json", "scamsniffer", "ss-addresses", &[]);
    import(&env, "domains.json", "scamsniffer", "ss-domains", &[]);
    assert_eq!(hit_datasets(&lookup(&env, FEED_1)), ["ss-addresses"]);
    assert_eq!(hit_datasets(&lookup(&env, FEED_DOMAIN_1)), ["ss-domains"]);

    for source in ["ss-addresses", "ss-domains"] {
        let a = env.run(["intel", "remove", "--source", source]).success();
        assert!(stderr_of(&a).contains(source), "{}", stderr_of(&a));
    }
    assert!(lookup(&env, FEED_1)["hits"].as_array().unwrap().is_empty());
    assert!(lookup(&env, FEED_DOMAIN_1)["hits"].as_array().unwrap().is_empty());
    assert!(rule_ids(&stdout_json(&env.run(["scan", "address", FEED_1]).success())).is_empty());
    assert!(rule_ids(&stdout_json(&env.run(["scan", "domain", FEED_DOMAIN_1]).success())).is_empty());
    let st = status(&env);
    assert!(st.iter().all(|d| d["bundled"] == true), "{st:#?}");

    let err = usage_error(&env, &["intel", "remove", "--source", "ss-addresses"]);
    assert!(err.contains("ss-addresses"), "{err}");
    // Bundled datasets cannot be removed.
    let err = usage_error(&env, &["intel", "remove", "--source", "ofac-sanctions"]);
    assert!(err.contains("ofac-sanctions"), "{err}");
    assert_eq!(status_of(&status(&env), "ofac-sanctions").len(), 1);
}

// ---------------------------------------------------------------------------------------------
// scan address
// ---------------------------------------------------------------------------------------------

#[test]
fn scan_address_sanctioned() {
    let env = Env::new();
    // The test address is on the list and not delisted.
    let row = intel_source("ofac-sanctions.tsv")
        .lines()
        .find(|l| l.split('\t').nth(2) == Some(LAZARUS))
        .map(|l| l.split('\t').map(str::to_owned).collect::<Vec<_>>())
        .expect("LAZARUS in ofac-sanctions.tsv");
    assert_eq!(row[7], "", "delisted_at of {LAZARUS}");
    let version = bundled_version("ofac-sanctions");

    let a = env.run(["scan", "address", LAZARUS, "--fail-on", "high"]).code(1);
    let r = stdout_json(&a);
    assert_eq!(r["kind"], "address");
    let f = finding(&r, "address-sanctioned");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["evidence"]["dataset"], "ofac-sanctions");
    assert_eq!(f["evidence"]["dataset_version"], version.as_str());
    assert_eq!(f["evidence"]["labels"][0], "sanctioned");
    assert!(findings(&r, "address-formerly-sanctioned").is_empty(), "{r:#}");
    assert_eq!(r["risk"]["level"], "critical");
    assert_eq!(report_dataset_version(&r, "ofac-sanctions").as_deref(), Some(version.as_str()));
    assert!(r["subject"]["labels"].as_array().unwrap().iter().any(|l| l["dataset"] == "ofac-sanctions"), "{r:#}");
    // At the threshold: exit 1; without --fail-on: exit 0.
    env.run(["scan", "address", LAZARUS, "--fail-on", "critical"]).code(1);
    env.run(["scan", "address", LAZARUS]).code(0);
}

#[test]
fn scan_address_formerly_sanctioned_tornado() {
    let env = Env::new();
    let r = stdout_json(&env.run(["scan", "address", TORNADO_ROUTER]).success());
    let f = finding(&r, "address-formerly-sanctioned");
    assert_eq!(f["evidence"]["delisted_at"], TORNADO_DELISTED);
    assert_eq!(f["evidence"]["dataset"], "ofac-sanctions");
    assert!(findings(&r, "address-sanctioned").is_empty(), "delisted is not sanctioned: {r:#}");
}

#[test]
fn scan_address_unknown_is_unknown_not_safe() {
    let env = Env::new();
    let r = stdout_json(&env.run(["scan", "address", UNKNOWN, "--fail-on", "info"]).code(0));
    assert_eq!(rule_ids(&r), Vec::<String>::new());
    assert_eq!(r["risk"]["score"], 0);
    assert_eq!(r["subject"]["labels"], Value::Array(vec![]));
    let note = r["subject"]["note"].as_str().unwrap_or_else(|| panic!("no subject.note: {r:#}"));
    assert!(note.contains("unknown") && note.contains("not the same as safe"), "{note}");
    assert!(!r.to_string().contains("\"safe\""), "never a `safe` verdict: {r:#}");
    assert!(report_dataset_version(&r, "ofac-sanctions").is_some(), "the datasets consulted are listed: {r:#}");
}

#[test]
fn scan_address_bad_input_exits_2() {
    let env = Env::new();
    let err = usage_error(&env, &["scan", "address", UNKNOWN, "--no-intel"]);
    assert!(err.contains("--no-intel"), "{err}");
    let err = usage_error(&env, &["scan", "address", PERMIT2_BAD_CHECKSUM]);
    assert!(err.contains("checksum"), "{err}");
    let err = usage_error(&env, &["scan", "address", "0x1234"]);
    assert!(err.contains("20 bytes"), "{err}");
    let err = usage_error(&env, &["scan", "address", "vitalik.eth"]);
    assert!(err.contains("address"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// scan domain
// ---------------------------------------------------------------------------------------------

/// The first domain of the bundled MetaMask deny list.
fn metamask_denied_domain() -> String {
    let tsv = intel_source("metamask-phishing-deny.tsv");
    let row: Vec<&str> = tsv.lines().nth(1).expect("a row").split('\t').collect();
    assert_eq!(row[0], "domain");
    row[2].to_owned()
}

#[test]
fn scan_domain_on_the_metamask_deny_list() {
    let env = Env::new();
    let d = metamask_denied_domain();
    let version = bundled_version("metamask-phishing-deny");
    for site in [d.clone(), format!("https://{d}/connect-wallet"), d.to_uppercase()] {
        let r = stdout_json(&env.run(["scan", "domain", &site, "--fail-on", "critical"]).code(1));
        assert_eq!(r["kind"], "domain");
        let f = finding(&r, "domain-phishing");
        assert_eq!(f["severity"], "critical", "{site}");
        assert_eq!(f["evidence"]["dataset"], "metamask-phishing-deny", "{site}: {f:#}");
        assert_eq!(f["evidence"]["dataset_version"], version.as_str());
        assert_eq!(report_dataset_version(&r, "metamask-phishing-deny").as_deref(), Some(version.as_str()));
    }
}

#[test]
fn scan_domain_real_site_has_no_findings() {
    let env = Env::new();
    for site in ["app.uniswap.org", "https://app.uniswap.org/swap", "uniswap.org"] {
        let r = stdout_json(&env.run(["scan", "domain", site, "--fail-on", "info"]).code(0));
        assert_eq!(rule_ids(&r), Vec::<String>::new(), "{site}: {r:#}");
        assert_eq!(r["subject"]["registrable_domain"], "uniswap.org");
    }
}

#[test]
fn scan_domain_cyrillic_lookalike_names_the_real_site() {
    let env = Env::new();
    // "unіswap.org" with U+0456 CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I, and its punycode.
    let lookalike = "un\u{0456}swap.org";
    let r0 = stdout_json(&env.run(["scan", "domain", lookalike]).success());
    let puny = r0["subject"]["host"].as_str().unwrap().to_owned();
    assert!(puny.starts_with("xn--"), "{r0:#}");
    for site in [lookalike.to_owned(), puny, format!("https://{lookalike}/#/swap")] {
        let r = stdout_json(&env.run(["scan", "domain", &site]).success());
        let f = finding(&r, "domain-lookalike");
        assert_eq!(f["evidence"]["impersonates"], "uniswap.org", "{site}: {f:#}");
        assert!(f["message"].as_str().unwrap().contains("uniswap.org"), "{f:#}");
        // A warning, not a block.
        assert!(matches!(f["severity"].as_str().unwrap(), "low" | "medium"), "{site}: {f:#}");
        assert!(findings(&r, "domain-phishing").is_empty(), "{site}: {r:#}");
    }
}

#[test]
fn scan_domain_garbage_exits_2() {
    let env = Env::new();
    for bad in ["ht tp://", "", "https://"] {
        let err = usage_error(&env, &["scan", "domain", bad]);
        assert!(err.contains("domain"), "{bad:?}: {err}");
    }
}

// ---------------------------------------------------------------------------------------------
// scan tx: spenders, known-good spenders, --origin
// ---------------------------------------------------------------------------------------------

#[test]
fn scan_tx_origin_on_a_deny_list_adds_domain_phishing() {
    let env = Env::new();
    let d = metamask_denied_domain();
    let origin = format!("https://{d}/claim");
    let data = approve_unlimited(SPENDER);
    let r = stdout_json(&env.run(["scan", "tx", "--to", USDC, "--data", &data, "--origin", &origin]).success());
    let f = finding(&r, "domain-phishing");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["location"]["path"], "origin");
    assert_eq!(f["evidence"]["dataset"], "metamask-phishing-deny");
    assert_eq!(severity_of(&r, "approval-unlimited"), "medium");
    assert!(report_dataset_version(&r, "metamask-phishing-deny").is_some(), "{:#}", r["datasets"]);

    // A real site as the origin adds nothing.
    let r = stdout_json(
        &env.run(["scan", "tx", "--to", USDC, "--data", &data, "--origin", "https://app.uniswap.org"]).success(),
    );
    assert_eq!(rule_ids(&r), ["approval-unlimited"]);
}

#[test]
fn scan_tx_origin_garbage_exits_2() {
    let env = Env::new();
    let data = approve_unlimited(SPENDER);
    for bad in ["ht tp://", "https://"] {
        let err = usage_error(&env, &["scan", "tx", "--to", USDC, "--data", &data, "--origin", bad]);
        assert!(err.contains("--origin"), "{bad:?}: {err}");
    }
}

#[test]
fn scan_tx_approval_to_tornado_router_is_formerly_sanctioned_spender() {
    let env = Env::new();
    let r = stdout_json(&env.run(["scan", "tx", "--to", USDC, "--data", &approve_unlimited(TORNADO_ROUTER)]).success());
    let f = finding(&r, "address-formerly-sanctioned");
    assert_eq!(f["evidence"]["role"], "spender");
    assert_eq!(f["evidence"]["delisted_at"], TORNADO_DELISTED);
    assert_eq!(f["evidence"]["dataset"], "ofac-sanctions");
    assert_eq!(f["evidence"]["dataset_version"], bundled_version("ofac-sanctions"));
    assert!(findings(&r, "address-sanctioned").is_empty(), "{r:#}");
    assert_eq!(severity_of(&r, "approval-unlimited"), "medium");

    // --no-intel: no screening at all.
    let r = stdout_json(
        &env.run(["scan", "tx", "--to", USDC, "--data", &approve_unlimited(TORNADO_ROUTER), "--no-intel"]).success(),
    );
    assert_eq!(rule_ids(&r), ["approval-unlimited"]);
    assert!(report_dataset_version(&r, "ofac-sanctions").is_none(), "{:#}", r["datasets"]);
}

#[test]
fn scan_tx_approval_to_a_sanctioned_spender_is_critical() {
    let env = Env::new();
    let a =
        env.run(["scan", "tx", "--to", USDC, "--data", &approve_unlimited(LAZARUS), "--fail-on", "critical"]).code(1);
    let r = stdout_json(&a);
    let f = finding(&r, "address-sanctioned");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["evidence"]["role"], "spender");
}

#[test]
fn scan_tx_unlimited_approval_to_permit2_is_lowered() {
    let env = Env::new();
    let r = stdout_json(&env.run(["scan", "tx", "--to", USDC, "--data", &approve_unlimited(PERMIT2)]).success());
    assert_eq!(rule_ids(&r), ["approval-unlimited"], "Permit2 itself is not flagged: {r:#}");
    let f = finding(&r, "approval-unlimited");
    assert_eq!(f["severity"], "low", "medium lowered one level: {f:#}");
    assert_eq!(f["evidence"]["spender"], PERMIT2);
    let labels = f["evidence"]["spender_labels"].as_array().unwrap_or_else(|| panic!("no spender_labels: {f:#}"));
    assert!(labels.contains(&Value::from("known-spender")), "{f:#}");
    assert_eq!(
        report_dataset_version(&r, "ofac-sanctions").as_deref(),
        Some(bundled_version("ofac-sanctions").as_str()),
        "{:#}",
        r["datasets"]
    );

    // The same approval to an unknown spender stays medium, without spender_labels.
    let r = stdout_json(&env.run(["scan", "tx", "--to", USDC, "--data", &approve_unlimited(SPENDER)]).success());
    let f = finding(&r, "approval-unlimited");
    assert_eq!(f["severity"], "medium");
    assert!(f["evidence"]["spender_labels"].is_null(), "{f:#}");
}

#[test]
fn scan_tx_screens_imported_feeds() {
    let env = Env::new();
    env.write("address.json", format!(r#"["{FEED_1}"]"#));
    import(&env, "address.json", "scamsniffer", "my-drainers", &["--label", "drainer"]);
    let r = stdout_json(&env.run(["scan", "tx", "--to", USDC, "--data", &approve_unlimited(FEED_1)]).success());
    let f = finding(&r, "address-malicious");
    assert_eq!(f["evidence"]["role"], "spender");
    assert_eq!(f["evidence"]["dataset"], "my-drainers");
    assert_eq!(f["evidence"]["labels"], serde_json::json!(["drainer"]));
    assert!(report_dataset_version(&r, "my-drainers").is_some(), "{:#}", r["datasets"]);
}

// ---------------------------------------------------------------------------------------------
// scan tx --history: address poisoning
// ---------------------------------------------------------------------------------------------

/// The wallet of the history.
const WALLET: &str = "0x7a16ff8270133f063aab6c9977183d9e72835428";
/// The counterparty the wallet really pays: 0x1234…abcd.
const PAYEE: &str = "0x1234c0ffee254729296a45a3885639ac7e10abcd";
/// A mined look-alike of PAYEE: the same 4 leading and 4 trailing hex digits.
const LOOKALIKE: &str = "0x12349f0e2d1c3b4a5968778695a4b3c2d1e5abcd";
/// A near miss: 3 leading and 4 trailing hex digits of PAYEE.
const NEAR_MISS: &str = "0x123f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c1fabcd";
/// The poisoner's transaction sender.
const POISONER: &str = "0x5e7d2b1a0c9f8e7d6c5b4a392817f6e5d4c3b2a1";

/// A history in which the wallet paid PAYEE 1,500, 2,500 and 1,500 USDT, then a poisoner made
/// a zero-value `transferFrom(wallet, LOOKALIKE, 0)`.
fn history() -> String {
    let usdt = USDT.to_lowercase();
    format!(
        r#"{{
  "wallet": "{WALLET}",
  "transfers": [
    {{"tx_hash": "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060", "log_index": 41, "block": 19283001,
      "timestamp": 1708531200, "token": "{usdt}", "token_symbol": "USDT", "from": "{WALLET}", "to": "{PAYEE}",
      "value": "1500000000", "initiator": "{WALLET}"}},
    {{"tx_hash": "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22061", "log_index": 7, "block": "19290000",
      "token": "{usdt}", "token_symbol": "USDT", "from": "{WALLET}", "to": "{PAYEE}", "value": "2500000000",
      "initiator": "{WALLET}"}},
    {{"tx_hash": "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22062", "log_index": 3, "block": "0x1263c3b",
      "token": "{usdt}", "token_symbol": "USDT", "from": "{WALLET}", "to": "{PAYEE}", "value": "0x59682f00",
      "initiator": "{WALLET}"}},
    {{"tx_hash": "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22063", "log_index": 9, "block": 19300000,
      "token": "{usdt}", "token_symbol": "USDT", "from": "{WALLET}", "to": "{LOOKALIKE}", "value": "0",
      "initiator": "{POISONER}"}}
  ]
}}"#
    )
}

#[test]
fn history_transfer_to_a_lookalike_is_poisoning() {
    let env = Env::new();
    env.write("history.json", history());
    let data = transfer(LOOKALIKE, 1_500_000_000);
    let a = env
        .run(["scan", "tx", "--to", USDT, "--data", &data, "--history", "history.json", "--fail-on", "high"])
        .code(1);
    let r = stdout_json(&a);
    let f = finding(&r, "poisoning-lookalike");
    assert_eq!(f["severity"], "high");
    let e = &f["evidence"];
    assert_eq!(e["recipient"].as_str().unwrap().to_lowercase(), LOOKALIKE);
    assert_eq!(e["imitates"].as_str().unwrap().to_lowercase(), PAYEE);
    assert_eq!(e["prefix_len"], 4);
    assert_eq!(e["suffix_len"], 4);
    assert_eq!(e["random_match_probability"], "2.33e-10", "16^-8");
    assert_eq!(e["tx_hash"], "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22063");
    assert!(f["message"].as_str().unwrap().to_lowercase().contains(PAYEE), "{f:#}");

    // The same payment to a look-alike that never appeared in the history is still caught.
    let fresh = "0x1234000000000000000000000000000000f0abcd";
    let r = stdout_json(
        &env.run(["scan", "tx", "--to", USDT, "--data", &transfer(fresh, 1), "--history", "history.json"]).success(),
    );
    assert_eq!(finding(&r, "poisoning-lookalike")["evidence"]["imitates"].as_str().unwrap().to_lowercase(), PAYEE);

    // A native-coin payment to the look-alike too.
    let r = stdout_json(
        &env.run(["scan", "tx", "--to", LOOKALIKE, "--value", "1000000000000000000", "--history", "history.json"])
            .success(),
    );
    assert_eq!(findings(&r, "poisoning-lookalike").len(), 1, "{r:#}");
}

#[test]
fn history_transfer_to_the_real_payee_or_a_near_miss_is_clean() {
    let env = Env::new();
    env.write("history.json", history());
    for to in [PAYEE, NEAR_MISS] {
        let data = transfer(to, 1_500_000_000);
        let r =
            stdout_json(&env.run(["scan", "tx", "--to", USDT, "--data", &data, "--history", "history.json"]).success());
        let ids = rule_ids(&r);
        assert!(!ids.iter().any(|id| id.starts_with("poisoning")), "transfer to {to}: {ids:?}");
    }
    // Without --history, no poisoning check.
    let r = stdout_json(&env.run(["scan", "tx", "--to", USDT, "--data", &transfer(LOOKALIKE, 1)]).success());
    assert!(findings(&r, "poisoning-lookalike").is_empty(), "{r:#}");
}

#[test]
fn malformed_history_exits_2_naming_the_field() {
    let env = Env::new();
    let good = history();
    let cases = [
        // A misspelt optional field must not be silently ignored.
        (good.replacen("\"initiator\"", "\"initator\"", 1), "initator"),
        (good.replacen("\"block\": 19283001,", "", 1), "block"),
        (good.replacen("\"1500000000\"", "\"15OO\"", 1), "15OO"),
        (good.replacen("\"transfers\"", "\"transfer\"", 1), "transfer"),
        ("[]".to_owned(), "history"),
        ("{ not json".to_owned(), "history"),
    ];
    let data = transfer(PAYEE, 1);
    for (i, (text, want)) in cases.iter().enumerate() {
        let name = format!("bad-{i}.json");
        env.write(&name, text);
        let err = usage_error(&env, &["scan", "tx", "--to", USDT, "--data", &data, "--history", &name]);
        assert!(err.contains("history"), "case {i}: {err}");
        assert!(err.contains(want), "case {i}: want `{want}` in: {err}");
    }
    let err = usage_error(&env, &["scan", "tx", "--to", USDT, "--data", &data, "--history", "no-such-file.json"]);
    assert!(err.contains("no-such-file.json"), "{err}");
}

/// A bad address value in the history names the field (regression: the message used to be
/// only serde_json's "invalid string length at line 1 column 17").
#[test]
fn malformed_history_address_names_the_field() {
    let env = Env::new();
    env.write("bad.json", r#"{"wallet": "0x12", "transfers": []}"#);
    let err = usage_error(&env, &["scan", "tx", "--to", USDT, "--history", "bad.json"]);
    assert!(err.contains("wallet"), "{err}");
}
