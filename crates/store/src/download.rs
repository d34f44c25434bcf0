//! Streaming one blob over HTTP into `<root>/partial/`, resumable with `Range`, hashed as it
//! arrives, and published into `<root>/blobs/` by one atomic rename only after its sha256
//! checks out. Used by registry, Hugging Face and direct-URL pulls (catalog pulls assemble
//! wheels instead; see `pull.rs`). A per-digest flock (`partial/<hex>.lock`, the same file a
//! catalog pull takes) makes concurrent pulls of one blob share the work.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use crate::error::{Result, StoreError};
use crate::name::Digest;
use crate::progress::Progress;
use crate::pypi::{self, Http};
use crate::Store;

/// Tries per blob before a transient failure (dropped connection, 5xx, timeout) is final.
const ATTEMPTS_MAX: u32 = 4;
/// First pause between attempts; doubles each time.
const RETRY_DELAY_FIRST: Duration = Duration::from_millis(300);
const CHUNK_BYTES: usize = 256 << 10;

/// What is known about the blob before it is fetched.
pub(crate) struct Want<'a> {
    /// The digest it must have (registry layers); `None` for a direct URL.
    pub digest: Option<&'a Digest>,
    /// Its size, when known in advance.
    pub size: Option<u64>,
}

/// Fetch `url` into the blob store and return the blob's digest and size. With a known
/// digest, an existing blob is reused without any request.
pub(crate) fn fetch(
    store: &Store,
    http: &Http,
    source_desc: &str,
    url: &str,
    want: Want<'_>,
    progress: &mut dyn Progress,
) -> Result<(Digest, u64)> {
    let remote = |reason: String| StoreError::Remote {
        source_desc: source_desc.to_string(),
        url: url.to_string(),
        reason,
    };
    let partial_dir = store.partial_dir();
    store.create_dirs()?;
    // Partial files are named by the digest when known, else by a hash of the URL.
    let key = match want.digest {
        Some(d) => d.hex().to_string(),
        None => format!("url-{}", hex::encode(Sha256::digest(url.as_bytes()))),
    };
    if let Some(d) = want.digest {
        if let Some(size) = store.blob_size(d) {
            progress.blob_start(&d.to_string(), size, size);
            progress.finish();
            return Ok((d.clone(), size));
        }
    }
    let _lock = lock(&partial_dir.join(format!("{key}.lock")), &key, progress)?;
    if let Some(d) = want.digest {
        if let Some(size) = store.blob_size(d) {
            progress.message(&format!("{d} was pulled by another process"));
            progress.blob_start(&d.to_string(), size, size);
            progress.finish();
            return Ok((d.clone(), size));
        }
    }
    let partial = partial_dir.join(format!("{key}.download"));
    let label = want.digest.map(Digest::to_string);

    let mut delay = RETRY_DELAY_FIRST;
    for attempt in 1..=ATTEMPTS_MAX {
        let result = attempt_once(http, url, &partial, &want, label.as_deref(), progress);
        let (hex, size) = match result {
            Ok(done) => done,
            Err(Attempt::Fatal(reason)) => return Err(remote(reason)),
            Err(Attempt::Transient(reason)) if attempt < ATTEMPTS_MAX => {
                tracing::warn!(url, attempt, reason, "download failed; retrying");
                progress.message(&format!(
                    "{reason}; retrying ({attempt}/{})",
                    ATTEMPTS_MAX - 1
                ));
                std::thread::sleep(delay);
                delay *= 2;
                continue;
            }
            Err(Attempt::Transient(reason)) => return Err(remote(reason)),
        };
        progress.status("verifying sha256 digest");
        let actual = Digest::from_hex(&hex)?;
        if let Some(expected) = want.digest {
            if &actual != expected {
                remove_if_exists(&partial)?;
                let reason = format!("sha256 mismatch: expected {expected}, got {actual}");
                if attempt < ATTEMPTS_MAX {
                    // A damaged partial file or a flaky transfer: one clean download settles it.
                    progress.message(&format!("{reason}; downloading again from the start"));
                    continue;
                }
                return Err(remote(reason));
            }
        }
        publish(store, &partial, &actual)?;
        return Ok((actual, size));
    }
    unreachable!("the last attempt returns")
}

enum Attempt {
    Transient(String),
    Fatal(String),
}

/// One GET, continuing the partial file with `Range` when there is one. Returns the sha256
/// (hex) and size of the complete file.
fn attempt_once(
    http: &Http,
    url: &str,
    partial: &Path,
    want: &Want<'_>,
    label: Option<&str>,
    progress: &mut dyn Progress,
) -> std::result::Result<(String, u64), Attempt> {
    use Attempt::{Fatal, Transient};
    let io_fatal =
        |what: &str, err: io::Error| Fatal(format!("{what} {}: {err}", partial.display()));
    let mut have = match fs::metadata(partial) {
        Ok(meta) => meta.len(),
        Err(err) if err.kind() == io::ErrorKind::NotFound => 0,
        Err(err) => return Err(io_fatal("inspecting", err)),
    };
    if want.size.is_some_and(|size| have > size) {
        remove_if_exists(partial).map_err(|e| Fatal(e.to_string()))?;
        have = 0;
    }
    let mut hasher = Sha256::new();
    if have > 0 {
        hash_prefix(partial, have, &mut hasher).map_err(|err| io_fatal("reading", err))?;
    }
    if want.size.is_some_and(|size| have == size) {
        return Ok((hex::encode(hasher.finalize()), have));
    }

    let mut request = http.agent(url).get(url).set("Accept-Encoding", "identity");
    if have > 0 {
        request = request.set("Range", &format!("bytes={have}-"));
    }
    let response = match request.call() {
        Ok(response) => response,
        Err(ureq::Error::Status(416, _)) => {
            remove_if_exists(partial).map_err(|e| Fatal(e.to_string()))?;
            return Err(Transient(
                "HTTP 416 (range not satisfiable); restarting".into(),
            ));
        }
        Err(err @ ureq::Error::Status(code, _)) if code != 429 && code < 500 => {
            return Err(Fatal(pypi::describe_short(&err)));
        }
        Err(err) => return Err(Transient(pypi::describe_short(&err))),
    };
    let resuming = have > 0 && response.status() == 206;
    if resuming {
        let expected = format!("bytes {have}-");
        let content_range = response.header("Content-Range").unwrap_or("");
        if !content_range.starts_with(&expected) {
            remove_if_exists(partial).map_err(|e| Fatal(e.to_string()))?;
            return Err(Transient(format!(
                "asked for {expected}… but got Content-Range {content_range:?}; restarting"
            )));
        }
        progress.message(&format!("resuming at byte {have}"));
    } else if response.status() != 200 {
        return Err(Transient(format!("unexpected HTTP {}", response.status())));
    } else if have > 0 {
        progress.message("the server ignored the range request; restarting");
        have = 0;
        hasher = Sha256::new();
    }
    let body_len = response
        .header("Content-Length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    let total = want.size.or(body_len.map(|n| n + have));
    if let Some(total) = total {
        check_free_space(partial, total.saturating_sub(have)).map_err(|e| Fatal(e.to_string()))?;
    }
    let mut file = if resuming {
        OpenOptions::new().append(true).open(partial)
    } else {
        File::create(partial)
    }
    .map_err(|err| io_fatal("opening", err))?;

    match (label, total) {
        (Some(digest), Some(total)) => progress.blob_start(digest, total, have),
        _ => {
            progress.start(&format!("downloading {url}"), total);
            progress.advance(have);
        }
    }
    let limit = total.map_or(u64::MAX, |t| t - have + 1);
    let mut body = response.into_reader().take(limit);
    let mut buf = vec![0u8; CHUNK_BYTES];
    let outcome = loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => {
                break Err(Transient(format!(
                    "connection lost after {have} bytes: {err}"
                )))
            }
        };
        if total.is_some_and(|t| have + n as u64 > t) {
            break Err(Fatal(format!(
                "the server sent more than the expected {} bytes",
                total.unwrap_or(0)
            )));
        }
        if let Err(err) = file.write_all(&buf[..n]) {
            break Err(io_fatal("writing", err));
        }
        hasher.update(&buf[..n]);
        have += n as u64;
        progress.advance(n as u64);
    };
    progress.finish();
    // Keep what arrived: the next attempt (or the next run) resumes from it.
    let synced = file.sync_data();
    if let Err(Fatal(reason)) = &outcome {
        if reason.starts_with("the server sent more") {
            drop(file);
            remove_if_exists(partial).map_err(|e| Fatal(e.to_string()))?;
        }
    }
    outcome?;
    synced.map_err(|err| io_fatal("syncing", err))?;
    if let Some(total) = total {
        if have < total {
            return Err(Transient(format!(
                "connection closed after {have} of {total} bytes"
            )));
        }
    }
    Ok((hex::encode(hasher.finalize()), have))
}

/// Move a verified partial file to `blobs/sha256-<hex>` and make the rename durable.
pub(crate) fn publish(store: &Store, partial: &Path, digest: &Digest) -> Result<PathBuf> {
    let blob = store.blob_path(digest.hex());
    fs::rename(partial, &blob).map_err(|err| {
        StoreError::io(
            format!("renaming {} to {}", partial.display(), blob.display()),
            err,
        )
    })?;
    sync_dir(&store.root().join("blobs"))?;
    Ok(blob)
}

/// Take an exclusive flock, telling the user when another pull holds it.
pub(crate) fn lock(path: &Path, what: &str, progress: &mut dyn Progress) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|err| StoreError::io(format!("opening lock file {}", path.display()), err))?;
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => {}
        Err(fs4::TryLockError::WouldBlock) => {
            progress.message(&format!("waiting for another pull of {what} to finish"));
            fs4::FileExt::lock(&file)
                .map_err(|err| StoreError::io(format!("locking {}", path.display()), err))?;
        }
        Err(fs4::TryLockError::Error(err)) => {
            return Err(StoreError::io(format!("locking {}", path.display()), err));
        }
    }
    Ok(file)
}

/// Fail early when the disk holding `dir_or_file` has less than `need_bytes` free.
pub(crate) fn check_free_space(dir_or_file: &Path, need_bytes: u64) -> Result<()> {
    let dir = if dir_or_file.is_dir() {
        dir_or_file
    } else {
        dir_or_file.parent().unwrap_or(dir_or_file)
    };
    let available_bytes = fs4::available_space(dir)
        .map_err(|err| StoreError::io(format!("querying free space of {}", dir.display()), err))?;
    if available_bytes < need_bytes {
        return Err(StoreError::DiskSpace {
            model: "the download".into(),
            path: dir.to_path_buf(),
            need_bytes,
            available_bytes,
        });
    }
    Ok(())
}

/// `.<stem>.tmp-<pid>-<n>`: unique per process and per call, so threads of one server and
/// several processes never share a temporary file.
pub(crate) fn unique_tmp_name(stem: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(".{stem}.tmp-{}-{n}", std::process::id())
}

pub(crate) fn hash_prefix(path: &Path, n_bytes: u64, hasher: &mut Sha256) -> io::Result<()> {
    let mut reader = File::open(path)?.take(n_bytes);
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut n_read = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        n_read += n as u64;
    }
    if n_read != n_bytes {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file shrank while hashing",
        ));
    }
    Ok(())
}

pub(crate) fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(StoreError::io(format!("removing {}", path.display()), err)),
    }
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|err| StoreError::io(format!("syncing {}", dir.display()), err))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
