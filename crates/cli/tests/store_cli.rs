//! The store through the `edgellm` binary: `pull` killed with SIGKILL at several points and
//! rerun (it resumes with `Range` and the final store verifies), `list` / `show` / `cp` /
//! `rm` / `create`, and an Ollama-layout directory whose model is listed and runs.

#[path = "../../store/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{sha256, tiny_gguf, Server};

const MODEL: &str = "application/vnd.ollama.image.model";
const SYSTEM: &str = "application/vnd.ollama.image.system";
const PARAMS: &str = "application/vnd.ollama.image.params";

/// `edgellm` with its store at `<dir>/models`, no Ollama directory unless given, the registry
/// at `registry`, and PyPI unreachable.
fn edgellm(dir: &Path, registry: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edgellm"));
    cmd.env("EDGELLM_MODELS", dir.join("models"))
        .env("OLLAMA_MODELS", "")
        .env("EDGELLM_REGISTRY", registry)
        .env("EDGELLM_PYPI_URL", "http://127.0.0.1:9")
        .env_remove("EDGELLM_LOG");
    cmd
}

fn ok(out: Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

#[test]
fn pull_killed_at_several_points_resumes_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let gguf = tiny_gguf(1 << 20, "t"); // 4 MiB: 64 chunks of 64 KiB
    let system = b"Be brief.".to_vec();
    server.publish(
        "library",
        "tiny",
        "latest",
        &[(MODEL, gguf.clone()), (SYSTEM, system.clone())],
    );
    let digest = sha256(&gguf);
    let blob_url = format!("/v2/library/tiny/blobs/{digest}");
    let system_url = format!("/v2/library/tiny/blobs/{}", sha256(&system));
    server.throttle(&blob_url, Duration::from_millis(40));
    // The last layer stalls, so there is a moment after the model blob, before the manifest.
    server.throttle(&system_url, Duration::from_secs(30));

    let models = dir.path().join("models");
    let partial = models.join(format!("partial/{}.download", &digest[7..]));
    let blob = models.join(format!("blobs/sha256-{}", &digest[7..]));
    let manifest = models.join("manifests/registry.ollama.ai/library/tiny/latest");
    let spawn = || {
        edgellm(dir.path(), &server.url)
            .args(["pull", "tiny"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let limit = Duration::from_secs(60);

    // 1. Killed during the model blob, twice, at growing offsets.
    for at_least in [1u64 << 20, 5 << 19] {
        let mut child = spawn();
        wait_for("the partial file to grow", limit, || {
            file_len(&partial) >= at_least
        });
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert!(!blob.exists(), "no half-written blob is ever visible");
        assert!(!manifest.exists());
    }
    let kept = file_len(&partial);
    assert!(kept >= 5 << 19 && kept < gguf.len() as u64, "{kept}");

    // 2. Killed after the model blob, before the manifest.
    let mut child = spawn();
    wait_for("the model blob", limit, || blob.exists());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!manifest.exists());
    assert!(!partial.exists());

    // 3. Uninterrupted: finishes without fetching the model blob again.
    server.throttle(&system_url, Duration::ZERO);
    let out = ok(edgellm(dir.path(), &server.url)
        .args(["pull", "tiny"])
        .output()
        .unwrap());
    assert_eq!(out.trim(), blob.display().to_string());
    let ranges = server.requests_for(&blob_url);
    assert_eq!(ranges.len(), 3, "{ranges:?}");
    assert_eq!(ranges[0], None);
    assert!(ranges[1].unwrap() >= 1 << 20, "{ranges:?}");
    assert!(ranges[2].unwrap() >= 5 << 19, "{ranges:?}");
    assert!(ranges[2] > ranges[1]);

    // The store verifies: every blob hashes to its name.
    for entry in std::fs::read_dir(models.join("blobs")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(
            sha256(&std::fs::read(&path).unwrap()),
            name.replace('-', ":")
        );
    }
    let list = ok(edgellm(dir.path(), &server.url)
        .arg("list")
        .output()
        .unwrap());
    assert!(
        list.lines().nth(1).unwrap().starts_with("tiny:latest "),
        "{list}"
    );
}

#[test]
fn create_list_show_copy_remove() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    std::fs::write(dir.path().join("w.gguf"), tiny_gguf(2048, "{{ tools }}")).unwrap();
    std::fs::write(
        dir.path().join("Modelfile"),
        "FROM ./w.gguf\nPARAMETER temperature 0.25\nPARAMETER stop \"<|end|>\"\nSYSTEM \"\"\"Be\nbrief.\"\"\"\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        edgellm(dir.path(), &server.url)
            .args(args)
            .output()
            .unwrap()
    };
    let mf = dir.path().join("Modelfile");
    ok(run(&["create", "me/tiny:v1", "-f", mf.to_str().unwrap()]));
    let list = ok(run(&["list"]));
    let mut lines = list.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("NAME") && header.contains("ID") && header.ends_with("MODIFIED"));
    let row = lines.next().unwrap();
    assert!(row.starts_with("me/tiny:v1 "), "{list}");
    assert_eq!(row.find("   ").map(|_| ()), Some(()));

    let params = ok(run(&["show", "me/tiny:v1", "--parameters"]));
    assert!(
        params.contains("temperature") && params.contains("0.25"),
        "{params}"
    );
    assert!(params.contains("\"<|end|>\""), "{params}");
    assert_eq!(ok(run(&["show", "me/tiny:v1", "--system"])), "Be\nbrief.\n");
    let modelfile = ok(run(&["show", "me/tiny:v1", "--modelfile"]));
    assert!(modelfile.contains("PARAMETER stop <|end|>"), "{modelfile}");
    let summary = ok(run(&["show", "me/tiny:v1"]));
    assert!(summary.contains("architecture        llama"), "{summary}");
    assert!(summary.contains("tools"), "{summary}");

    ok(run(&["cp", "me/tiny:v1", "other"]));
    assert!(ok(run(&["list"])).contains("other:latest"));
    ok(run(&["rm", "me/tiny:v1", "other"]));
    assert_eq!(ok(run(&["list"])).lines().count(), 1);

    // Bad input is a clear error, never a panic.
    for (args, needle) in [
        (vec!["show", "../../etc/passwd"], "invalid model name"),
        (vec!["rm", "nosuch"], "not found"),
        (vec!["pull", "a/../b"], "invalid model name"),
    ] {
        let out = run(&args);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    std::fs::write(&mf, "FROM ./w.gguf\nPARAMETER top_k many\n").unwrap();
    let out = run(&["create", "bad", "-f", mf.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("line 2"),
        "{stderr}"
    );
}

fn cached_smollm2() -> Option<PathBuf> {
    let sha = edgellm_store::lookup("smollm2:135m").unwrap().sha256;
    let root = std::env::var_os("EDGELLM_MODELS").map_or_else(
        || {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/edgellm-ci/models")
        },
        PathBuf::from,
    );
    let path = root.join(format!("blobs/sha256-{sha}"));
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("EDGELLM_REQUIRE_MODELS").is_none(),
        "{} is missing",
        path.display()
    );
    eprintln!("skipping: {} is not cached", path.display());
    None
}

/// An Ollama models directory, written the way Ollama writes it, with the real SmolLM2:
/// `list` shows it, `run` runs it by name, and nothing in that directory changes.
#[test]
fn ollama_directory_model_is_listed_and_runs() {
    let Some(cached) = cached_smollm2() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ollama = dir.path().join("ollama");
    let blobs = ollama.join("blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    let model_name = cached.file_name().unwrap().to_str().unwrap();
    let model_blob = blobs.join(model_name);
    if std::fs::hard_link(&cached, &model_blob).is_err() {
        std::os::unix::fs::symlink(&cached, &model_blob).unwrap();
    }
    let model_digest = model_name.replace('-', ":");
    let model_size = std::fs::metadata(&cached).unwrap().len();
    let put = |bytes: &[u8]| {
        let d = sha256(bytes);
        std::fs::write(blobs.join(d.replace(':', "-")), bytes).unwrap();
        format!(r#""digest":"{d}","size":{}"#, bytes.len())
    };
    let params = put(br#"{"stop":["<|im_end|>"],"temperature":0}"#);
    let config = put(br#"{"model_format":"gguf","model_family":"llama","model_families":["llama"],"model_type":"134.52M","file_type":"Q4_1","architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json",{config}}},"layers":[{{"mediaType":"{MODEL}","digest":"{model_digest}","size":{model_size}}},{{"mediaType":"{PARAMS}",{params}}}]}}"#
    );
    let mdir = ollama.join("manifests/registry.ollama.ai/library/smolly");
    std::fs::create_dir_all(&mdir).unwrap();
    std::fs::write(mdir.join("135m"), &manifest).unwrap();
    let snapshot = || {
        let mut v: Vec<(PathBuf, u64)> = walk(&ollama);
        v.sort();
        v
    };
    let before = snapshot();

    let with_ollama = || {
        let mut c = edgellm(dir.path(), "http://127.0.0.1:9");
        c.env("OLLAMA_MODELS", &ollama);
        c
    };
    let list = ok(with_ollama().arg("list").output().unwrap());
    let row = list.lines().nth(1).unwrap_or("");
    assert!(row.starts_with("smolly:135m (ollama)"), "{list}");
    assert!(row.contains("98 MB"), "{list}");
    let out = ok(with_ollama()
        .args([
            "run",
            "smolly:135m",
            "The capital of France is",
            "--raw",
            "-n",
            "8",
        ])
        .output()
        .unwrap());
    assert!(out.contains("Paris"), "{out}");
    assert_eq!(snapshot(), before, "the Ollama directory is read-only");
    assert!(
        !dir.path().join("models").exists(),
        "running created nothing in the store"
    );
}

fn walk(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push((p.clone(), file_len(&p)));
        }
    }
    out
}
