//! `scorpius scan contract TARGET...`: finds the contracts each target names (bytecode files,
//! Foundry/Hardhat artifacts, build output and project directories, deployed addresses), reads
//! their code (from disk, or over JSON-RPC with proxies resolved), runs the core engine on each
//! and combines the per-contract reports into one.

use std::{
    collections::{BTreeSet, HashMap},
    path::{Component, Path, PathBuf},
    sync::Arc,
    time::Instant,
};

use alloy_primitives::Address;
use anyhow::{Context as _, Result};
use scorpius_core::{
    contract::{
        self, ContractInput,
        artifacts::{self, Artifact, BuildInfo},
        sourcemap::{self, SourceFile, SourceFiles},
        units::{self, ContractUnit, Skipped},
    },
    evm::parse,
    model::ScanReport,
    rpc::contract::read_chain,
};
use serde_json::{Value, json};

use super::CommonArgs;
use crate::{
    cli::GlobalArgs,
    exit::usage,
    output,
    rpc::{self, Rpc, RpcOptions},
};

/// Arguments of `scorpius scan contract`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to analyse (one or more; each kind is detected): a file of hex bytecode (runtime
    /// or creation code; - for stdin), a Foundry or Hardhat artifact JSON, a build output
    /// directory (Foundry `out/`, Hardhat `artifacts/`), a project directory (with
    /// foundry.toml or hardhat.config.*), or a deployed address (0x + 40 hex, needs
    /// --rpc-url).
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// JSON-RPC endpoint (http or https) for deployed addresses. Only scheme, host and port
    /// are ever shown: keys in the path or query stay private.
    #[arg(long, value_name = "URL", env = "SCORPIUS_RPC_URL", hide_env_values = true)]
    pub rpc_url: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// What the targets resolved to.
#[derive(Debug, Default)]
struct Plan {
    units: Vec<ContractUnit>,
    addresses: Vec<Address>,
    skipped: Vec<Skipped>,
}

/// Runs the scan.
pub fn run(args: &Args, global: &GlobalArgs) -> Result<u8> {
    let mut settings = args.common.settings(global, None)?;
    let report = scan(&args.targets, args.rpc_url.as_deref(), args.common.chain.is_some(), &mut settings)?;
    super::finish(&report, &settings, &args.common)
}

/// Analyses `targets` (files, directories, deployed addresses) into one report. A deployed
/// address needs `rpc_url`; the chain becomes the node's unless `chain_explicit`.
pub fn scan(
    targets: &[String],
    rpc_url: Option<&str>,
    chain_explicit: bool,
    settings: &mut super::Settings,
) -> Result<ScanReport> {
    let started = time::OffsetDateTime::now_utc();
    let clock = Instant::now();
    let mut plan = Plan::default();
    let mut cache = BuildInfos::default();
    for target in targets {
        resolve(target, &mut plan, &mut cache)?;
    }
    let mut chain_state = Value::Null;
    if !plan.addresses.is_empty() {
        let Some(url) = rpc_url.filter(|u| !u.trim().is_empty()) else {
            return Err(usage(
                "scanning a deployed address needs an RPC URL: pass --rpc-url URL or set SCORPIUS_RPC_URL",
            ));
        };
        let rpc = Rpc::connect(url, RpcOptions::default())?;
        let runtime = rpc::runtime()?;
        let (chain, block, units) =
            runtime.block_on(read_chain(&rpc, &plan.addresses, &settings.ctx.chain, chain_explicit))?;
        settings.ctx.chain = chain;
        chain_state = json!({"endpoint": rpc.endpoint(), "block": block});
        plan.units.extend(units);
    }
    let mut done = Vec::with_capacity(plan.units.len());
    for unit in plan.units {
        let report = contract::analyze_contract(&unit.input, &settings.ctx);
        tracing::info!(contract = %unit.label, findings = report.findings.len(), "analysed");
        done.push((unit, report));
    }
    Ok(units::combine(done, &plan.skipped, targets, &chain_state, &settings.ctx.chain, started, clock.elapsed()))
}

// ---------------------------------------------------------------------------------------------
// Targets

/// Adds what `target` names to the plan.
fn resolve(target: &str, plan: &mut Plan, cache: &mut BuildInfos) -> Result<()> {
    if target == "-" {
        let text = output::read_input("-", "bytecode")?;
        plan.units.push(text_unit(&text, "stdin")?);
        return Ok(());
    }
    let path = Path::new(target);
    if !path.exists() {
        let t = target.trim();
        if t.len() == 42 && (t.starts_with("0x") || t.starts_with("0X")) {
            plan.addresses.push(parse::address("TARGET", t)?);
            return Ok(());
        }
        return Err(usage(format!(
            "{target}: no such file or directory, and not an address (a TARGET is a bytecode file, an artifact, \
             a build output or project directory, or 0x followed by 40 hex digits)"
        )));
    }
    if path.is_dir() {
        return resolve_dir(path, plan, cache);
    }
    let text = output::read_input(target, "TARGET")?;
    let unit = if looks_like_json(&text) {
        artifact_unit(path, &text, cache, true)?.ok_or_else(|| {
            usage(format!(
                "{}: the contract has no deployed bytecode (an interface, an abstract contract or a library \
                 without code): nothing to analyse",
                shown(path)
            ))
        })?
    } else {
        text_unit(&text, &shown(path))?
    };
    plan.units.push(unit);
    Ok(())
}

fn looks_like_json(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// Hex bytecode (a file, stdin) or, from stdin, an artifact without build info.
fn text_unit(text: &str, name: &str) -> Result<ContractUnit> {
    if looks_like_json(text) {
        let artifact = artifacts::parse_artifact(text).with_context(|| name.to_owned())?;
        if artifact.deployed_bytecode.is_empty() {
            return Err(usage(format!("{name}: the artifact has no deployed bytecode: nothing to analyse")));
        }
        let label = artifact.contract_name.clone().unwrap_or_else(|| name.to_owned());
        let mut input = ContractInput::from_artifact(&artifact, SourceFiles::new());
        input.origin = Some(name.to_owned());
        return Ok(ContractUnit::new(input, label));
    }
    let (mut input, note) = contract::hex_input(name, text)?;
    if let Some(note) = &note {
        tracing::warn!("{name}: {note}");
    }
    input.origin = Some(name.to_owned());
    let mut unit = ContractUnit::new(input, name.to_owned());
    unit.notes = note.into_iter().collect();
    Ok(unit)
}

/// A directory: a Foundry or Hardhat project, or build output.
fn resolve_dir(dir: &Path, plan: &mut Plan, cache: &mut BuildInfos) -> Result<()> {
    if dir.join("foundry.toml").is_file() {
        let out = dir.join(foundry_out(&dir.join("foundry.toml")));
        if !has_artifacts(&out) {
            return Err(usage(format!(
                "{}: this Foundry project has not been built ({} has no artifacts): run `forge build` first",
                shown(dir),
                shown(&out)
            )));
        }
        return resolve_output(&out, plan, cache);
    }
    let hardhat =
        ["js", "ts", "cjs", "mjs", "cts", "mts"].iter().any(|e| dir.join(format!("hardhat.config.{e}")).is_file());
    if hardhat {
        let out = dir.join("artifacts");
        if !has_artifacts(&out) {
            return Err(usage(format!(
                "{}: this Hardhat project has not been built ({} has no artifacts): run `npx hardhat compile` first",
                shown(dir),
                shown(&out)
            )));
        }
        return resolve_output(&out, plan, cache);
    }
    if dir.join("build-info").is_dir() || has_artifacts(dir) {
        return resolve_output(dir, plan, cache);
    }
    Err(usage(format!(
        "{}: not a Foundry or Hardhat project (no foundry.toml or hardhat.config.*) and not build output \
         (no build-info/ and no <File>.sol/ artifact directories)",
        shown(dir)
    )))
}

/// The `out` directory a foundry.toml sets (`[profile.default] out`), `out` by default.
fn foundry_out(toml: &Path) -> String {
    use figment::{Figment, providers::Format as _, providers::Toml};
    match Figment::from(Toml::file(toml)).extract_inner::<String>("profile.default.out") {
        Ok(out) => out,
        Err(e) if e.missing() => "out".to_owned(),
        Err(e) => {
            tracing::warn!("{}: {e}; assuming out = \"out\"", shown(toml));
            "out".to_owned()
        }
    }
}

/// Whether `dir` holds `<File>.sol/` (or `.vy`) directories, directly or below (Hardhat nests
/// them under `contracts/`).
fn has_artifacts(dir: &Path) -> bool {
    fn walk(dir: &Path, depth: usize) -> bool {
        let Ok(entries) = std::fs::read_dir(dir) else { return false };
        entries.flatten().any(|e| {
            let p = e.path();
            p.is_dir()
                && (is_source_dir(&p)
                    || (depth > 0 && p.file_name().is_some_and(|n| n != "build-info") && walk(&p, depth - 1)))
        })
    }
    walk(dir, 8)
}

fn is_source_dir(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "sol" || e == "vy")
}

/// Every artifact of a build output directory.
fn resolve_output(out: &Path, plan: &mut Plan, cache: &mut BuildInfos) -> Result<()> {
    let mut files = Vec::new();
    collect_artifacts(out, 12, &mut files)?;
    files.sort();
    let before = plan.units.len();
    for f in files {
        if let Some(reason) = skip_reason(&f) {
            plan.skipped.push(Skipped { path: shown(&f), reason });
            continue;
        }
        let text = output::read_input(&f.to_string_lossy(), "artifact")?;
        if !looks_like_json(&text) {
            plan.skipped.push(Skipped { path: shown(&f), reason: "not an artifact" });
            continue;
        }
        let value: Value =
            serde_json::from_str(&text).map_err(|e| usage(format!("{}: not valid JSON ({e})", shown(&f))))?;
        if value.get("deployedBytecode").is_none() {
            plan.skipped.push(Skipped { path: shown(&f), reason: "not an artifact" });
            continue;
        }
        match artifact_unit(&f, &text, cache, false)? {
            Some(u) => plan.units.push(u),
            None => plan.skipped.push(Skipped { path: shown(&f), reason: "no deployed bytecode" }),
        }
    }
    let found = plan.units.len() - before;
    tracing::info!("{}: {found} contract(s) with code, {} file(s) skipped", shown(out), plan.skipped.len());
    if found == 0 {
        return Err(usage(format!(
            "{}: no deployable contract found (every artifact is an interface, abstract contract, test or script); \
             if the project has not been built, build it first",
            shown(out)
        )));
    }
    Ok(())
}

fn collect_artifacts(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| usage(format!("{}: {e}", shown(dir))))?;
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if depth > 0 && p.file_name().is_some_and(|n| n != "build-info") {
                collect_artifacts(&p, depth - 1, out)?;
            }
        } else if p.extension().is_some_and(|x| x == "json")
            && !p.to_string_lossy().ends_with(".dbg.json")
            && p.parent().is_some_and(is_source_dir)
        {
            out.push(p);
        }
    }
    Ok(())
}

/// Tests, scripts and test helpers are never deployed.
fn skip_reason(artifact: &Path) -> Option<&'static str> {
    let dir = artifact.parent()?.file_name()?.to_string_lossy();
    if dir.ends_with(".t.sol") || dir.ends_with(".s.sol") {
        return Some("test or script");
    }
    let p = artifact.to_string_lossy();
    (p.contains("forge-std") || p.contains("hardhat/console.sol")).then_some("test helper")
}

// ---------------------------------------------------------------------------------------------
// Artifacts and build info

/// Build-info files read so far, by directory.
#[derive(Debug, Default)]
struct BuildInfos {
    dirs: HashMap<PathBuf, Arc<Vec<(PathBuf, BuildInfo)>>>,
}

impl BuildInfos {
    /// Every build info in `dir` (newest first).
    fn in_dir(&mut self, dir: &Path) -> Result<Arc<Vec<(PathBuf, BuildInfo)>>> {
        if let Some(v) = self.dirs.get(dir) {
            return Ok(Arc::clone(v));
        }
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
            .map_err(|e| usage(format!("{}: {e}", shown(dir))))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json") && !p.to_string_lossy().ends_with(".output.json"))
            .map(|p| (std::fs::metadata(&p).and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH), p))
            .collect();
        files.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let mut infos = Vec::with_capacity(files.len());
        for (_, p) in files {
            let text = output::read_input(&p.to_string_lossy(), "build info")?;
            let info = BuildInfo::parse(&text).with_context(|| shown(&p))?;
            infos.push((p, info));
        }
        let infos = Arc::new(infos);
        self.dirs.insert(dir.to_path_buf(), Arc::clone(&infos));
        Ok(infos)
    }
}

/// The build output directory an artifact sits in: the nearest ancestor with `build-info/`,
/// else the parent of its `<File>.sol/` directory.
fn output_root(artifact: &Path) -> Option<PathBuf> {
    let dir = artifact.parent()?;
    dir.ancestors().find(|a| a.join("build-info").is_dir()).map(Path::to_path_buf).or_else(|| {
        let parent = dir.parent()?;
        Some(if parent.as_os_str().is_empty() { PathBuf::from(".") } else { parent.to_path_buf() })
    })
}

/// A unit for an artifact file; `None` when it has no deployed bytecode.
fn artifact_unit(path: &Path, text: &str, cache: &mut BuildInfos, alone: bool) -> Result<Option<ContractUnit>> {
    let mut artifact = artifacts::parse_artifact(text).with_context(|| shown(path))?;
    if artifact.deployed_bytecode.is_empty() {
        return Ok(None);
    }
    let out = output_root(path);
    // The project root, which paths in build info and artifacts are relative to.
    let root = out.as_deref().map(|o| normalize(&o.join("..")));
    let infos = match out.as_deref().map(|o| o.join("build-info")).filter(|d| d.is_dir()) {
        Some(d) => cache.in_dir(&d)?,
        None => Arc::new(Vec::new()),
    };
    let mut notes = Vec::new();
    let info = match hardhat_build_info(path)? {
        Some(p) => infos.iter().find(|(q, _)| same_file(q, &p)).map(|(_, i)| i),
        None => matching_build_info(&artifact, &infos),
    };
    // Hardhat artifacts carry no source map: take the contract from the compiler output.
    if artifact.deployed_source_map.is_none()
        && let (Some(info), Some(file), Some(name)) = (info, &artifact.source_path, &artifact.contract_name)
        && let Ok(full) = info.contract(file, name)
    {
        artifact.deployed_source_map = full.deployed_source_map;
        if artifact.source_id.is_none() {
            artifact.source_id = full.source_id;
        }
    }
    let mut sources = match info {
        Some(i) => used_sources(&artifact, &i.sources),
        None => {
            // Without build info only the artifact's own file is known.
            match (artifact.source_id, &artifact.source_path) {
                (Some(id), Some(p)) => SourceFiles::from([(id, SourceFile { path: p.clone(), content: None })]),
                _ => SourceFiles::new(),
            }
        }
    };
    if info.is_none() && artifact.deployed_source_map.is_some() {
        let note = "no build info found next to the artifact: source lines only for the contract's own file".to_owned();
        if alone {
            tracing::info!("{}: {note}", shown(path));
        }
        notes.push(note);
    }
    // Paths as the user sees them from here; contents from disk when build info has none.
    for s in sources.values_mut() {
        let (display, content) = locate_source(root.as_deref(), &s.path);
        if s.content.is_none() {
            s.content = content;
        }
        s.path = display;
    }
    let file = artifact.source_path.as_deref().map(|p| locate_source(root.as_deref(), p).0);
    if artifact.unlinked_libraries {
        let note = "unlinked library placeholders were replaced by the zero address".to_owned();
        tracing::warn!("{}: {note}", shown(path));
        notes.push(note);
    }
    let name = artifact.contract_name.clone();
    let mut input = ContractInput::from_artifact(&artifact, sources);
    input.origin = Some(file.clone().unwrap_or_else(|| shown(path)));
    let label = match (&file, &name) {
        (Some(f), Some(n)) => format!("{f}:{n}"),
        (None, Some(n)) => format!("{}:{n}", shown(path)),
        _ => shown(path),
    };
    let mut unit = ContractUnit::new(input, label);
    unit.file = file;
    unit.notes = notes;
    Ok(Some(unit))
}

/// The build info a Hardhat artifact's `.dbg.json` points at.
fn hardhat_build_info(artifact: &Path) -> Result<Option<PathBuf>> {
    let Some(stem) = artifact.file_stem() else { return Ok(None) };
    let dbg = artifact.with_file_name(format!("{}.dbg.json", stem.to_string_lossy()));
    if !dbg.is_file() {
        return Ok(None);
    }
    let text = output::read_input(&dbg.to_string_lossy(), "debug file")?;
    let v: Value = serde_json::from_str(&text).map_err(|e| usage(format!("{}: not valid JSON ({e})", shown(&dbg))))?;
    Ok(v.get("buildInfo").and_then(Value::as_str).and_then(|b| Some(dbg.parent()?.join(b))))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The build info whose source ids match the artifact's: its own file under its source id,
/// and (when the compiler output is kept) the contract itself. Newest first.
fn matching_build_info<'a>(a: &Artifact, infos: &'a [(PathBuf, BuildInfo)]) -> Option<&'a BuildInfo> {
    let (Some(id), Some(path)) = (a.source_id, a.source_path.as_deref()) else {
        return infos.first().map(|(_, i)| i).filter(|_| infos.len() == 1);
    };
    let candidates: Vec<&BuildInfo> =
        infos.iter().map(|(_, i)| i).filter(|i| i.sources.get(&id).is_some_and(|s| s.path == path)).collect();
    let with_contract = a
        .contract_name
        .as_ref()
        .and_then(|n| candidates.iter().copied().find(|i| i.contract_names().iter().any(|(f, c)| f == path && c == n)));
    with_contract.or_else(|| candidates.first().copied())
}

/// The source files a contract's source map refers to (all of them when there is no map).
fn used_sources(a: &Artifact, all: &SourceFiles) -> SourceFiles {
    let ids: Option<BTreeSet<u32>> = a.deployed_source_map.as_deref().and_then(|m| {
        let entries = sourcemap::parse(m).ok()?;
        Some(entries.iter().filter_map(|e| u32::try_from(e.file).ok()).collect())
    });
    all.iter()
        .filter(|(id, _)| ids.as_ref().is_none_or(|s| s.contains(id)) || Some(**id) == a.source_id)
        .map(|(id, s)| (*id, s.clone()))
        .collect()
}

/// A compiler path (`src/A.sol`, `@openzeppelin/…`) as shown to the user, and its content read
/// from disk when found (relative to the project root, or its node_modules).
fn locate_source(root: Option<&Path>, path: &str) -> (String, Option<String>) {
    let p = Path::new(path);
    let candidates: Vec<PathBuf> = if p.is_absolute() {
        vec![p.to_path_buf()]
    } else {
        let root = root.unwrap_or(Path::new("."));
        vec![root.join(p), root.join("node_modules").join(p)]
    };
    for c in &candidates {
        if c.is_file() {
            return (shown(c), std::fs::read_to_string(c).ok());
        }
    }
    // Not on disk: the path relative to the project root is still the best name.
    match (root, p.is_absolute()) {
        (Some(r), false) => (shown(&r.join(p)), None),
        _ => (path.to_owned(), None),
    }
}

/// A path as shown in reports: relative to the working directory when below it, without `.`
/// and resolvable `..` components.
fn shown(p: &Path) -> String {
    let p = normalize(p);
    let rel = match std::env::current_dir() {
        Ok(cwd) if p.is_absolute() => p.strip_prefix(&cwd).map(Path::to_path_buf).unwrap_or(p),
        _ => p,
    };
    let s = rel.to_string_lossy().into_owned();
    if s.is_empty() { ".".to_owned() } else { s }
}

/// Lexical normalisation: drops `.`, resolves `..` against a preceding normal component.
fn normalize(p: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.is_empty() { PathBuf::from(".") } else { out.iter().collect() }
}

// ---------------------------------------------------------------------------------------------
// Deployed contracts
