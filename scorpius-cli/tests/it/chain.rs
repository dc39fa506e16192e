//! A real local chain for the tests: anvil from the pinned npm package on a free port, the
//! compiled fixtures of `tests/contracts/out/`, a small JSON-RPC client (anvil's dev accounts
//! are unlocked, so `eth_sendTransaction` needs no signing), and an HTTP proxy in front of anvil
//! that counts requests and injects the faults real nodes show (capped log ranges, a node that
//! starts failing).

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command as StdCommand, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use serde_json::{Value, json};

/// anvil's dev accounts 0-9 (public, well-known test keys; unlocked in anvil).
pub const DEV: [&str; 10] = [
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
    "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
];
/// anvil's second dev account: an EOA (no code).
pub const ANVIL_1: &str = DEV[1];
/// anvil's first dev key (public, well known).
pub const ANVIL_0_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A compiled fixture's JSON (`tests/contracts/out/<file>.sol/<name>.json`).
pub fn artifact(file: &str, name: &str) -> Value {
    let path = repo().join(format!("tests/contracts/out/{file}.sol/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// A fixture's creation code (0x hex).
pub fn creation_code(name: &str) -> String {
    artifact(name, name)["bytecode"]["object"].as_str().unwrap().to_owned()
}

/// A fixture's runtime code (0x hex).
pub fn runtime_code(name: &str) -> String {
    artifact(name, name)["deployedBytecode"]["object"].as_str().unwrap().to_owned()
}

/// A tool from PATH, or from the pinned npm packages at the repository root.
pub fn tool(name: &str) -> PathBuf {
    let in_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    let in_npm = repo().join(format!("node_modules/@foundry-rs/{name}-linux-amd64/bin/{name}"));
    in_path.or_else(|| in_npm.is_file().then_some(in_npm)).unwrap_or_else(|| {
        panic!("{name} not found on PATH nor in node_modules/@foundry-rs: run ./scripts/test-all.sh (it installs the pinned anvil and cast with npm ci)")
    })
}

/// A running anvil (Prague hardfork), killed on drop.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Anvil {
    /// Starts anvil on a free port.
    pub fn start() -> Self {
        let mut child = StdCommand::new(tool("anvil"))
            .args(["--port", "0", "--hardfork", "prague"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting anvil");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("Listening on ") {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        let mut anvil = Anvil { child, url: String::new() };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => anvil.url = format!("http://{addr}"),
            Err(_) => panic!("anvil did not start listening within 60 s"),
        }
        anvil
    }

    /// Runs `cast <args[0]> --rpc-url URL <args[1..]>` and returns its stdout.
    pub fn cast(&self, args: &[&str]) -> String {
        let out = StdCommand::new(tool("cast"))
            .arg(args[0])
            .args(["--rpc-url", &self.url])
            .args(&args[1..])
            .output()
            .expect("running cast");
        assert!(out.status.success(), "cast {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Deploys creation code (with a constructor signature and arguments, cast syntax) and
    /// returns the checksummed address.
    pub fn deploy(&self, code: &str, ctor: &[&str]) -> String {
        let mut args = vec!["send", "--private-key", ANVIL_0_KEY, "--json", "--create", code];
        args.extend_from_slice(ctor);
        let receipt: Value = serde_json::from_str(&self.cast(&args)).expect("cast send --json");
        assert_eq!(receipt["status"], "0x1", "deployment failed: {receipt:#}");
        let a = receipt["contractAddress"].as_str().expect("contractAddress").to_owned();
        checksum(&a)
    }

    /// One JSON-RPC call; panics on an error answer.
    #[allow(clippy::needless_pass_by_value)] // called with json!(…) temporaries
    pub fn rpc(&self, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let answer: Value = serde_json::from_slice(&post(&self.url, body.to_string().as_bytes())).unwrap();
        if let Some(e) = answer.get("error") {
            panic!("{method} {params}: {e}");
        }
        answer["result"].clone()
    }

    /// Sends a transaction from an unlocked dev account and waits for a successful receipt.
    pub fn send(&self, from: &str, to: &str, data: &str) -> Value {
        let hash = self.rpc("eth_sendTransaction", json!([{"from": from, "to": to, "data": data}]));
        // anvil mines each transaction at once, but the receipt can lag the hash by a moment.
        let mut receipt = Value::Null;
        for _ in 0..200 {
            receipt = self.rpc("eth_getTransactionReceipt", json!([hash]));
            if !receipt.is_null() {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        assert_eq!(receipt["status"], "0x1", "transaction {data} to {to} failed: {receipt:#}");
        receipt
    }

    /// Puts `code` (0x hex) at `address`.
    pub fn set_code(&self, address: &str, code: &str) {
        self.rpc("anvil_setCode", json!([address, code]));
    }

    /// Moves the chain's clock forward by `secs` and mines a block.
    pub fn advance(&self, secs: u64) {
        self.rpc("evm_increaseTime", json!([secs]));
        self.rpc("evm_mine", json!([]));
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// EIP-55 checksum of a hex address.
pub fn checksum(a: &str) -> String {
    a.parse::<alloy_primitives::Address>().unwrap().to_checksum(None)
}

/// ABI calldata: `selector(signature) ++ words`, every argument a static 32-byte word.
pub fn calldata(signature: &str, args: &[Word]) -> String {
    let selector = &alloy_primitives::keccak256(signature.as_bytes())[..4];
    let mut out = format!("0x{}", hex::encode(selector));
    for a in args {
        out.push_str(&hex::encode(a.0));
    }
    out
}

/// A static ABI word.
#[derive(Debug, Clone, Copy)]
pub struct Word(pub [u8; 32]);

impl Word {
    /// An address argument.
    pub fn addr(a: &str) -> Self {
        let a: alloy_primitives::Address = a.parse().unwrap();
        let mut w = [0u8; 32];
        w[12..].copy_from_slice(a.as_slice());
        Word(w)
    }

    /// A uint argument from a decimal string (up to 2^256 - 1).
    pub fn uint(v: &str) -> Self {
        Word(v.parse::<alloy_primitives::U256>().unwrap().to_be_bytes())
    }

    /// The maximum uint256.
    pub fn max() -> Self {
        Word([0xff; 32])
    }

    /// A bool argument.
    pub fn bool(b: bool) -> Self {
        let mut w = [0u8; 32];
        w[31] = u8::from(b);
        Word(w)
    }
}

/// POSTs `body` to an `http://host:port` URL and returns the response body (one request per
/// connection).
pub fn post(url: &str, body: &[u8]) -> Vec<u8> {
    let host = url.strip_prefix("http://").unwrap().trim_end_matches('/');
    let mut s = TcpStream::connect(host).unwrap();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP response") + 4;
    let head = String::from_utf8_lossy(&resp[..split]).to_ascii_lowercase();
    let body = resp[split..].to_vec();
    if head.contains("transfer-encoding: chunked") { dechunk(&body) } else { body }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else { return out };
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
}

/// What the proxy does with a request.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Forward everything.
    None,
    /// Refuse `eth_getLogs` over more than this many blocks with a JSON-RPC error, like hosted
    /// nodes do.
    CapLogRange(u64),
    /// Forward this many requests, then answer HTTP 503 to everything.
    FailAfter(u64),
}

/// An HTTP proxy in front of anvil on a free port: counts requests (per JSON-RPC method and
/// HTTP requests in all) and injects a [`Fault`]. Runs until the test process ends.
#[derive(Debug, Clone)]
pub struct Proxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// HTTP requests received.
    pub requests: Arc<AtomicU64>,
    /// `eth_getLogs` requests refused for their range.
    pub refused: Arc<AtomicU64>,
    /// `eth_call`s received (each entry of a batch counts).
    pub eth_calls: Arc<AtomicU64>,
}

impl Proxy {
    /// Starts a proxy to `upstream`.
    pub fn start(upstream: &str, fault: Fault) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        let eth_calls = Arc::new(AtomicU64::new(0));
        let proxy = Proxy { url, requests: requests.clone(), refused: refused.clone(), eth_calls: eth_calls.clone() };
        let upstream = upstream.to_owned();
        std::thread::spawn(move || {
            for conn in listener.incoming().map_while(Result::ok) {
                let (upstream, requests, refused, calls) =
                    (upstream.clone(), requests.clone(), refused.clone(), eth_calls.clone());
                std::thread::spawn(move || serve(conn, &upstream, fault, &requests, &refused, &calls));
            }
        });
        proxy
    }
}

/// Serves one keep-alive connection.
fn serve(conn: TcpStream, upstream: &str, fault: Fault, requests: &AtomicU64, refused: &AtomicU64, calls: &AtomicU64) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut writer = conn;
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let n = requests.fetch_add(1, Ordering::SeqCst) + 1;
        if let Ok(v) = serde_json::from_slice::<Value>(&body) {
            let entries = v.as_array().cloned().unwrap_or_else(|| vec![v]);
            calls.fetch_add(entries.iter().filter(|e| e["method"] == "eth_call").count() as u64, Ordering::SeqCst);
        }
        let (status, answer) = match fault {
            Fault::FailAfter(limit) if n > limit => ("503 Service Unavailable", b"upstream down".to_vec()),
            Fault::CapLogRange(max) => match too_wide(&body, max) {
                Some(id) => {
                    refused.fetch_add(1, Ordering::SeqCst);
                    let e = json!({"jsonrpc": "2.0", "id": id,
                        "error": {"code": -32005, "message": format!("query exceeds max block range {max}")}});
                    ("200 OK", e.to_string().into_bytes())
                }
                None => ("200 OK", post(upstream, &body)),
            },
            _ => ("200 OK", post(upstream, &body)),
        };
        let head =
            format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", answer.len());
        if writer.write_all(head.as_bytes()).and_then(|()| writer.write_all(&answer)).is_err() {
            return;
        }
    }
}

/// The id of an `eth_getLogs` request whose range is wider than `max` blocks.
fn too_wide(body: &[u8], max: u64) -> Option<Value> {
    let v: Value = serde_json::from_slice(body).ok()?;
    if v["method"] != "eth_getLogs" {
        return None;
    }
    let q = |k: &str| u64::from_str_radix(v["params"][0][k].as_str()?.trim_start_matches("0x"), 16).ok();
    let (from, to) = (q("fromBlock")?, q("toBlock")?);
    (to - from + 1 > max).then(|| v["id"].clone())
}
