//! `--format pdf`: rendered with poppler (`pdftoppm`: no blank page; `pdftotext`: the rule ids
//! and non-ASCII text come back out).

use std::path::Path;

use crate::common::*;

/// Whether poppler's tools are installed: required in CI, skipped with a note elsewhere.
fn poppler() -> bool {
    let ok = std::process::Command::new("pdftotext").arg("-v").output().is_ok()
        && std::process::Command::new("pdftoppm").arg("-v").output().is_ok();
    if !ok {
        let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(!in_ci, "pdftoppm/pdftotext missing: install poppler-utils (scripts/test-all.sh does)");
        eprintln!("note: poppler-utils not installed; skipping PDF rendering checks outside CI");
    }
    ok
}

fn pdf_text(pdf: &Path) -> String {
    let out = std::process::Command::new("pdftotext").args(["-enc", "UTF-8"]).arg(pdf).arg("-").output().unwrap();
    assert!(out.status.success(), "pdftotext failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Renders every page and returns, per page, how many pixels are not white.
fn inked_pixels(pdf: &Path) -> Vec<usize> {
    let prefix = pdf.with_extension("page");
    let out = std::process::Command::new("pdftoppm").args(["-r", "30"]).arg(pdf).arg(&prefix).output().unwrap();
    assert!(out.status.success(), "pdftoppm failed: {}", String::from_utf8_lossy(&out.stderr));
    let dir = pdf.parent().unwrap();
    let stem = prefix.file_name().unwrap().to_string_lossy().into_owned();
    let mut pages: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "ppm") && p.file_name().unwrap().to_string_lossy().starts_with(&stem)
        })
        .collect();
    pages.sort();
    pages.iter().map(|p| non_white(&std::fs::read(p).unwrap())).collect()
}

/// Counts non-white pixels of a binary PPM (P6, maxval 255).
fn non_white(ppm: &[u8]) -> usize {
    // Header: "P6" w h maxval, separated by whitespace, then one whitespace byte.
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while ppm[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while !ppm[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&ppm[start..i]).into_owned());
    }
    assert_eq!(fields[0], "P6");
    let pixels = &ppm[i + 1..];
    pixels.chunks_exact(3).filter(|p| p.iter().any(|&c| c < 250)).count()
}

#[test]
fn pdf_report_renders_with_rule_ids_and_no_blank_page() {
    let env = Env::new();
    // Piped stdout takes the binary as is.
    let a =
        env.run(["scan", "tx", "--to", USDC, "--data", APPROVE_UNLIMITED, "--format", "pdf", "--no-save"]).success();
    assert!(a.get_output().stdout.starts_with(b"%PDF-"));
    env.run(["scan", "tx", "--to", USDC, "--data", APPROVE_UNLIMITED, "-f", "pdf", "-o", "tx.pdf"])
        .success()
        .stdout(predicates::str::is_empty());
    let pdf = env.work().join("tx.pdf");
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
    if !poppler() {
        return;
    }
    let text = pdf_text(&pdf);
    for want in ["Scorpius security report", "approval-unlimited", "Recommendation", "page 1 of", USDC] {
        assert!(text.contains(want), "PDF text lacks {want:?}:\n{text}");
    }
    let inked = inked_pixels(&pdf);
    assert!(inked.len() >= 2, "title page and findings: {inked:?}");
    assert!(inked.iter().all(|&n| n > 200), "a blank page: {inked:?}");
}

#[test]
fn non_ascii_text_round_trips_and_many_scans_make_one_pdf() {
    let env = Env::new();
    let site = "https://пример-σελίδα.com";
    env.run(["scan", "domain", site, "-f", "json"]).success();
    env.run(["scan", "tx", "--to", USDC, "--data", SET_APPROVAL_FOR_ALL, "--no-intel", "-f", "json"]).success();
    env.run(["report", "--since", "2000-01-01", "--format", "pdf", "-o", "all.pdf"]).success();
    let pdf = env.work().join("all.pdf");
    if !poppler() {
        return;
    }
    let text = pdf_text(&pdf);
    assert!(text.contains("пример-σελίδα.com"), "Cyrillic and Greek survive:\n{text}");
    assert!(text.contains("nft-approval-for-all"), "{text}");
    assert_eq!(text.matches("Scorpius security report").count(), 2, "one title page per scan");
    let inked = inked_pixels(&pdf);
    assert!(inked.len() >= 4 && inked.iter().all(|&n| n > 200), "{inked:?}");
    let pages = inked.len();
    assert!(text.contains(&format!("page {pages} of {pages}")), "{text}");
}

#[test]
fn pdf_to_a_terminal_needs_an_output_file() {
    // `script` (util-linux) gives the command a pseudo-terminal as stdout.
    if std::process::Command::new("script").arg("--version").output().is_err() {
        eprintln!("note: `script` not installed; skipping the terminal check");
        return;
    }
    let env = Env::new();
    let line = format!("{BIN} scan tx --to {USDC} --data {APPROVE_UNLIMITED} --format pdf --no-save");
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"]);
    for (k, v) in env.std_cmd_in(&env.work()).get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = cmd.current_dir(env.work()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("-o FILE") && !text.contains("%PDF"), "{text}");
}
