//! `edgellm serve` proven with the real client libraries: ollama-python and
//! openai (tests/clients/test_clients.py, pytest) and ollama-js
//! (tests/clients/ollama_js.test.mjs, node --test). `.ci/run` installs them;
//! elsewhere a missing library skips with a note unless
//! `EDGELLM_REQUIRE_CLIENTS=1`. Needs SmolLM2 in the store (`EDGELLM_MODELS`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_edgellm");
const SMOLLM_SHA: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1")
}

/// Whether the test can run; says why not when it cannot.
fn ready(what: &str, ok: bool, require_var: &str) -> bool {
    if ok {
        return true;
    }
    assert!(!required(require_var), "{what} ({require_var}=1)");
    eprintln!("SKIPPED: {what}");
    false
}

fn model_present() -> bool {
    let store = edgellm_store::Store::open_default().expect("store location");
    store.blob_path(SMOLLM_SHA).is_file()
}

fn has(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn python_clients_ollama_and_openai() {
    if !ready(
        "smollm2:135m is not in the store",
        model_present(),
        "EDGELLM_REQUIRE_MODELS",
    ) || !ready(
        "python3 with ollama, openai, httpx and pytest is not installed",
        has("python3", &["-c", "import ollama, openai, httpx, pytest"]),
        "EDGELLM_REQUIRE_CLIENTS",
    ) {
        return;
    }
    let status = Command::new("python3")
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_clients.py",
        ])
        .current_dir(repo().join("tests/clients"))
        .env("EDGELLM_BIN", BIN)
        .status()
        .expect("running pytest");
    assert!(
        status.success(),
        "the Python client tests failed (output above)"
    );
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `edgellm serve` on a free port; returns it and its URL.
fn start_server() -> (Server, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--host", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("starting edgellm serve");
    let stderr = child.stderr.take().expect("piped");
    let server = Server(child);
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .expect("reading server output");
        if let Some(at) = line.find("listening on ") {
            break line[at + "listening on ".len()..].trim().to_string();
        }
    };
    // Keep draining so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (server, url)
}

#[test]
fn javascript_client_ollama_js() {
    let js = repo().join("tests/clients");
    if !ready(
        "smollm2:135m is not in the store",
        model_present(),
        "EDGELLM_REQUIRE_MODELS",
    ) || !ready(
        "node with tests/clients/node_modules/ollama is not installed (npm ci --prefix tests/clients)",
        has("node", &["--version"]) && js.join("node_modules/ollama").is_dir(),
        "EDGELLM_REQUIRE_CLIENTS",
    ) {
        return;
    }
    // The CLI's greedy continuation: the JS client must see the same text.
    let out = Command::new(BIN)
        .args([
            "run",
            "smollm2:135m",
            "The capital of France is",
            "--raw",
            "--temperature",
            "0",
            "-n",
            "16",
        ])
        .output()
        .expect("edgellm run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli = String::from_utf8(out.stdout).unwrap();
    let cli = cli.strip_suffix('\n').unwrap_or(&cli);
    let expect = serde_json::json!({ "The capital of France is": cli }).to_string();

    let (_server, url) = start_server();
    let status = Command::new("node")
        .args(["--test", "ollama_js.test.mjs"])
        .current_dir(&js)
        .env("EDGELLM_URL", &url)
        .env("EDGELLM_EXPECT", expect)
        .status()
        .expect("running node");
    assert!(
        status.success(),
        "the ollama-js tests failed (output above)"
    );
}
