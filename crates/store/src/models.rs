//! Named models: manifests in the store and in a read-only Ollama directory, and the
//! operations `list`, `show`, `resolve_model`, `delete`, `copy`, `create`, `put_blob`.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use sha2::{Digest as _, Sha256};

use crate::catalog::{lookup, CatalogEntry};
use crate::download::{publish, remove_if_exists, sync_dir};
use crate::error::{Result, StoreError};
use crate::info::{self, ModelDetails};
use crate::manifest::*;
use crate::modelfile::{Instruction, Modelfile};
use crate::name::{Digest, ModelName};
use crate::params;
use crate::progress::Progress;
use crate::{Resolved, Store};

/// Largest text layer (template, system, license, params, messages) read into memory.
const TEXT_LAYER_BYTES_MAX: u64 = 16 << 20;

/// One row of `list` / `GET /api/tags`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelEntry {
    /// Display name, e.g. `smollm2:135m` or `hf.co/user/repo:Q4_K_M`.
    pub name: String,
    /// Same as `name` (Ollama sends both).
    pub model: String,
    /// When the manifest was written.
    #[serde(serialize_with = "serialize_time")]
    pub modified_at: SystemTime,
    /// Bytes of all layers.
    pub size: u64,
    /// sha256 (hex) of the manifest file: the model's ID.
    pub digest: String,
    pub details: ModelDetails,
    /// True for models in the Ollama directory (which edgellm never modifies).
    #[serde(skip)]
    pub read_only: bool,
}

/// A message of a `MESSAGE` line or a messages layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

/// A model ready to load: the GGUF and what its manifest layers say. The server (or `run`)
/// applies `params` as default options, `system` as the default system message, `messages`
/// before the user's, and `template` in place of the GGUF's chat template.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedModel {
    /// Display name (for a file, its path).
    pub name: String,
    /// The GGUF weights.
    pub model_path: PathBuf,
    /// TEMPLATE layer (Ollama models carry Go templates; edgellm's own carry what the
    /// Modelfile said).
    pub template: Option<String>,
    pub system: Option<String>,
    /// Runtime options as in the params layer (`stop` is an array); see
    /// [`params::param_pairs`] for name/value text pairs.
    pub params: Map<String, Json>,
    pub messages: Vec<Message>,
    pub adapters: Vec<PathBuf>,
    pub projectors: Vec<PathBuf>,
    pub licenses: Vec<String>,
    /// sha256 (hex) of the manifest, when the model has one.
    pub digest: Option<String>,
    /// Manifest file time (or the GGUF's for a file or a catalog blob).
    pub modified_at: SystemTime,
    /// The manifest's config: details without opening the GGUF (absent for plain files).
    pub config: Option<ConfigFile>,
}

/// What `show` / `POST /api/show` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelShow {
    pub modelfile: String,
    /// One `name value` line per parameter (each `stop` on its own line).
    pub parameters: String,
    /// The TEMPLATE layer, else the GGUF's `tokenizer.chat_template`.
    pub template: String,
    pub system: String,
    pub license: String,
    pub details: ModelDetails,
    pub messages: Vec<Message>,
    /// GGUF metadata as JSON (large arrays are `null` unless verbose), plus
    /// `general.parameter_count`.
    pub model_info: Map<String, Json>,
    pub capabilities: Vec<String>,
    #[serde(serialize_with = "serialize_time")]
    pub modified_at: SystemTime,
}

/// A manifest found on disk.
pub(crate) struct Found {
    pub name: ModelName,
    pub manifest: Manifest,
    pub bytes: Vec<u8>,
    pub path: PathBuf,
    /// The store or Ollama root it lives under.
    pub root: PathBuf,
    pub read_only: bool,
    pub modified: SystemTime,
}

impl Found {
    fn blob_path(&self, layer: &Layer) -> Result<PathBuf> {
        let digest = layer.digest()?;
        let path = self.root.join("blobs").join(digest.file_name());
        if !path.is_file() {
            return Err(StoreError::BlobMissing {
                name: self.name.display_short(),
                digest: digest.to_string(),
            });
        }
        Ok(path)
    }

    fn read_text(&self, layer: &Layer) -> Result<String> {
        let path = self.blob_path(layer)?;
        let mut text = String::new();
        fs::File::open(&path)
            .and_then(|f| f.take(TEXT_LAYER_BYTES_MAX).read_to_string(&mut text))
            .map_err(|err| StoreError::io(format!("reading {}", path.display()), err))?;
        Ok(text)
    }

    fn digest(&self) -> String {
        hex::encode(Sha256::digest(&self.bytes))
    }

    fn config(&self) -> Option<ConfigFile> {
        let text = self.read_text(&self.manifest.config).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn resolved(&self) -> Result<ResolvedModel> {
        let m = &self.manifest;
        let model = m
            .layer(MEDIA_MODEL)
            .ok_or_else(|| StoreError::BadManifest {
                source_desc: self.path.display().to_string(),
                reason: "no model layer".into(),
            })?;
        let text = |media: &str| -> Result<Option<String>> {
            m.layer(media).map(|l| self.read_text(l)).transpose()
        };
        let params = match text(MEDIA_PARAMS)? {
            Some(t) => serde_json::from_str(&t).map_err(|err| StoreError::BadManifest {
                source_desc: self.path.display().to_string(),
                reason: format!("params layer is not a JSON object: {err}"),
            })?,
            None => Map::new(),
        };
        let messages = match text(MEDIA_MESSAGES)? {
            Some(t) => serde_json::from_str(&t).map_err(|err| StoreError::BadManifest {
                source_desc: self.path.display().to_string(),
                reason: format!("messages layer is not a list of messages: {err}"),
            })?,
            None => Vec::new(),
        };
        Ok(ResolvedModel {
            name: self.name.display_short(),
            model_path: self.blob_path(model)?,
            template: text(MEDIA_TEMPLATE)?,
            system: text(MEDIA_SYSTEM)?,
            params,
            messages,
            adapters: paths(self, m.layers_of(MEDIA_ADAPTER))?,
            projectors: paths(self, m.layers_of(MEDIA_PROJECTOR))?,
            licenses: m
                .layers_of(MEDIA_LICENSE)
                .map(|l| self.read_text(l))
                .collect::<Result<_>>()?,
            digest: Some(self.digest()),
            modified_at: self.modified,
            config: self.config(),
        })
    }
}

fn paths<'a>(found: &Found, layers: impl Iterator<Item = &'a Layer>) -> Result<Vec<PathBuf>> {
    layers.map(|l| found.blob_path(l)).collect()
}

/// Only model files and plain GGUF paths: the bare weights.
fn bare(name: String, model_path: PathBuf) -> ResolvedModel {
    let modified_at = fs::metadata(&model_path)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    ResolvedModel {
        name,
        model_path,
        template: None,
        system: None,
        params: Map::new(),
        messages: Vec::new(),
        adapters: Vec::new(),
        projectors: Vec::new(),
        licenses: Vec::new(),
        digest: None,
        modified_at,
        config: None,
    }
}

impl Store {
    pub(crate) fn partial_dir(&self) -> PathBuf {
        self.root().join("partial")
    }

    pub(crate) fn create_dirs(&self) -> Result<()> {
        for dir in ["blobs", "partial", "manifests"] {
            let dir = self.root().join(dir);
            fs::create_dir_all(&dir)
                .map_err(|err| StoreError::io(format!("creating {}", dir.display()), err))?;
        }
        Ok(())
    }

    /// The size of the blob in this store, if it is there.
    pub(crate) fn blob_size(&self, digest: &Digest) -> Option<u64> {
        fs::metadata(self.blob_path(digest.hex()))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }

    /// True when the blob `sha256:<hex>` is in the store (`HEAD /api/blobs/:digest`).
    /// A malformed digest is [`StoreError::InvalidDigest`].
    pub fn has_blob(&self, digest: &str) -> Result<bool> {
        Ok(self.blob_size(&Digest::parse(digest)?).is_some())
    }

    /// Store the bytes of `reader` as the blob `digest` (`POST /api/blobs/:digest`): streamed
    /// to a private partial file, hashed, and renamed into `blobs/` only when the sha256
    /// matches ([`StoreError::ShaMismatch`] otherwise, and nothing is kept). Returns the size.
    pub fn put_blob(&self, digest: &str, reader: &mut dyn Read) -> Result<u64> {
        let digest = Digest::parse(digest)?;
        self.create_dirs()?;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let tmp = self.partial_dir().join(format!(
            "upload-{}-{}-{}.tmp",
            digest.hex(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let result = (|| {
            let mut file = fs::File::create(&tmp)
                .map_err(|err| StoreError::io(format!("creating {}", tmp.display()), err))?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 256 << 10];
            let mut n_total = 0u64;
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(err) => return Err(StoreError::io("reading the upload", err)),
                };
                hasher.update(&buf[..n]);
                file.write_all(&buf[..n])
                    .map_err(|err| StoreError::io(format!("writing {}", tmp.display()), err))?;
                n_total += n as u64;
            }
            let actual = hex::encode(hasher.finalize());
            if actual != digest.hex() {
                return Err(StoreError::ShaMismatch {
                    what: "uploaded blob".into(),
                    expected: digest.to_string(),
                    actual: format!("sha256:{actual}"),
                });
            }
            file.sync_all()
                .map_err(|err| StoreError::io(format!("syncing {}", tmp.display()), err))?;
            Ok(n_total)
        })();
        match result {
            Ok(n) => {
                publish(self, &tmp, &digest)?;
                Ok(n)
            }
            Err(err) => {
                let _ = fs::remove_file(&tmp);
                Err(err)
            }
        }
    }

    /// Store small bytes (a config, template, params...) as a blob; returns its layer.
    pub(crate) fn put_bytes(&self, media_type: &str, bytes: &[u8]) -> Result<Layer> {
        let digest = Digest::from_hex(&hex::encode(Sha256::digest(bytes)))?;
        if self.blob_size(&digest).is_none() {
            self.put_blob(&digest.to_string(), &mut &bytes[..])?;
        }
        Ok(Layer::new(media_type, &digest, bytes.len() as u64))
    }

    /// The manifest of `name` in the store, else in the Ollama directory.
    pub(crate) fn find_manifest(&self, name: &ModelName) -> Result<Option<Found>> {
        let roots = std::iter::once((self.root().to_path_buf(), false))
            .chain(self.ollama_dir().map(|d| (d.to_path_buf(), true)));
        for (root, read_only) in roots {
            let path = name.manifest_path(&root);
            let bytes = match fs::read(&path) {
                Ok(bytes) => bytes,
                Err(err)
                    if matches!(
                        err.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                    ) =>
                {
                    continue
                }
                Err(err) if path.is_dir() => {
                    tracing::debug!(%err, path = %path.display(), "not a manifest");
                    continue;
                }
                Err(err) => return Err(StoreError::io(format!("reading {}", path.display()), err)),
            };
            let manifest = Manifest::parse(&bytes, &path.display().to_string())?;
            let modified = fs::metadata(&path)
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            return Ok(Some(Found {
                name: name.clone(),
                manifest,
                bytes,
                path,
                root,
                read_only,
                modified,
            }));
        }
        Ok(None)
    }

    /// Every model with a manifest: the store's, then the Ollama directory's (read-only;
    /// a name in both shows the store's). Newest first, like `ollama list`. Manifests that
    /// cannot be read are skipped with a warning.
    pub fn list(&self) -> Result<Vec<ModelEntry>> {
        let mut seen = BTreeSet::new();
        let mut entries = Vec::new();
        let roots = std::iter::once(self.root().to_path_buf())
            .chain(self.ollama_dir().map(Path::to_path_buf));
        for root in roots {
            for name in manifest_names(&root.join("manifests")) {
                if !seen.insert(name.clone()) {
                    continue;
                }
                let found = match self.find_manifest(&name) {
                    Ok(Some(found)) => found,
                    Ok(None) => continue,
                    Err(err) => {
                        tracing::warn!(%err, name = %name, "skipping unreadable manifest");
                        continue;
                    }
                };
                let details = found
                    .config()
                    .map(|c| ModelDetails::from_config(&c))
                    .unwrap_or_else(|| ModelDetails {
                        format: "gguf".into(),
                        ..ModelDetails::default()
                    });
                let display = name.display_short();
                entries.push(ModelEntry {
                    name: display.clone(),
                    model: display,
                    modified_at: found.modified,
                    size: found.manifest.size(),
                    digest: found.digest(),
                    details,
                    read_only: found.read_only,
                });
            }
        }
        // Catalog models pulled before the store wrote manifests: their blob alone.
        for entry in crate::catalog() {
            let Ok(name) = ModelName::parse(entry.name) else {
                continue;
            };
            if seen.contains(&name) || !self.is_present(entry) {
                continue;
            }
            let modified_at = fs::metadata(self.blob_path(entry.sha256))
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            entries.push(ModelEntry {
                name: entry.name.to_string(),
                model: entry.name.to_string(),
                modified_at,
                size: entry.size_bytes,
                digest: entry.sha256.to_string(),
                details: ModelDetails {
                    format: "gguf".into(),
                    family: entry.architecture.to_string(),
                    families: Some(vec![entry.architecture.to_string()]),
                    quantization_level: entry.quant.to_string(),
                    ..ModelDetails::default()
                },
                read_only: false,
            });
        }
        entries.sort_by(|a, b| b.modified_at.cmp(&a.modified_at).then(a.name.cmp(&b.name)));
        Ok(entries)
    }

    /// The model `name` with its layers, without downloading anything: a manifest in the
    /// store or the Ollama directory, or a pulled catalog model. Names only, never file paths
    /// (see [`Store::resolve_name`]). A catalog model not yet pulled is
    /// [`StoreError::NotPulled`].
    pub fn resolve_model(&self, name: &str) -> Result<ResolvedModel> {
        self.resolved_model(self.resolve_name(name)?)
    }

    fn resolved_model(&self, resolved: Resolved) -> Result<ResolvedModel> {
        match resolved {
            Resolved::Manifest { name, .. } => {
                let parsed = ModelName::parse(&name)?;
                let found = self
                    .find_manifest(&parsed)?
                    .ok_or_else(|| not_found(&name))?;
                found.resolved()
            }
            Resolved::Catalog {
                entry,
                path,
                present,
            } => {
                if !present {
                    return Err(StoreError::NotPulled {
                        name: entry.name.to_string(),
                    });
                }
                Ok(bare(entry.name.to_string(), path))
            }
            Resolved::File(path) => Ok(bare(path.display().to_string(), path)),
        }
    }

    /// [`resolve_model`](Self::resolve_model), pulling a catalog model first when needed.
    /// Names only, never file paths.
    pub fn resolve_model_ensure(
        &self,
        name: &str,
        progress: &mut dyn Progress,
    ) -> Result<ResolvedModel> {
        if let Resolved::Catalog { entry, .. } = self.resolve_name(name)? {
            self.ensure_catalog(entry, progress)?;
        }
        self.resolved_model(self.resolve_name(name)?)
    }

    /// [`resolve_model_ensure`](Self::resolve_model_ensure) that also accepts a path to a GGUF
    /// file (as [`Store::resolve`] does): for command lines, where the user names the file.
    pub fn resolve_model_or_path_ensure(
        &self,
        name: &str,
        progress: &mut dyn Progress,
    ) -> Result<ResolvedModel> {
        if let Resolved::Catalog { entry, .. } = self.resolve(name)? {
            self.ensure_catalog(entry, progress)?;
        }
        self.resolved_model(self.resolve(name)?)
    }

    /// Pull a catalog entry if needed and make sure it has a manifest.
    pub(crate) fn ensure_catalog(
        &self,
        entry: &'static CatalogEntry,
        progress: &mut dyn Progress,
    ) -> Result<PathBuf> {
        let path = self.ensure(entry, progress)?;
        let name = ModelName::parse(entry.name)?;
        if !name.manifest_path(self.root()).is_file() {
            progress.status("writing manifest");
            self.write_model_manifest(&name, &path, entry.sha256, entry.size_bytes)?;
        }
        Ok(path)
    }

    /// A manifest with one model layer (and a config blob made from its GGUF).
    pub(crate) fn write_model_manifest(
        &self,
        name: &ModelName,
        gguf: &Path,
        hex: &str,
        size: u64,
    ) -> Result<()> {
        let digest = Digest::from_hex(hex)?;
        let model = Layer::new(MEDIA_MODEL, &digest, size);
        let config = self.config_layer(gguf, &[&model])?;
        self.write_manifest(name, &Manifest::new(config, vec![model]))
    }

    fn config_layer(&self, gguf: &Path, layers: &[&Layer]) -> Result<Layer> {
        let details = info::details(gguf)?;
        let diff_ids = layers.iter().map(|l| l.digest.clone()).collect();
        let config = details.to_config(diff_ids);
        let bytes = serde_json::to_vec(&config).expect("config serializes");
        self.put_bytes(MEDIA_CONFIG, &bytes)
    }

    /// Write the manifest of `name` atomically (temporary file, then rename).
    pub(crate) fn write_manifest(&self, name: &ModelName, manifest: &Manifest) -> Result<()> {
        let path = name.manifest_path(self.root());
        let dir = path.parent().expect("manifest paths have parents");
        fs::create_dir_all(dir)
            .map_err(|err| StoreError::io(format!("creating {}", dir.display()), err))?;
        let tmp = dir.join(crate::download::unique_tmp_name(&name.tag));
        fs::write(&tmp, manifest.to_bytes())
            .and_then(|()| fs::File::open(&tmp)?.sync_all())
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(|err| StoreError::io(format!("writing {}", path.display()), err))?;
        sync_dir(dir)?;
        tracing::info!(name = %name, path = %path.display(), "wrote manifest");
        Ok(())
    }

    /// `show` / `POST /api/show`. `verbose` keeps large metadata arrays in `model_info`.
    pub fn show(&self, name: &str, verbose: bool) -> Result<ModelShow> {
        let model = self.resolve_model(name)?;
        let gguf = info::read(&model.model_path, verbose)?;
        let details = model
            .config
            .as_ref()
            .map(ModelDetails::from_config)
            .filter(|d| !d.family.is_empty())
            .unwrap_or_else(|| gguf.details.clone());
        let template = model
            .template
            .clone()
            .or_else(|| gguf.chat_template.clone())
            .unwrap_or_default();
        let capabilities = info::capabilities(&gguf, Some(&template), !model.projectors.is_empty());
        Ok(ModelShow {
            modelfile: modelfile_text(&model),
            parameters: parameters_text(&model.params),
            template,
            system: model.system.clone().unwrap_or_default(),
            license: model.licenses.join("\n"),
            details,
            messages: model.messages.clone(),
            model_info: gguf.model_info,
            capabilities,
            modified_at: model.modified_at,
        })
    }

    /// `rm` / `DELETE /api/delete`: remove the manifest, then every blob it used that no
    /// other manifest in the store uses. A pulled catalog model without a manifest has its
    /// blob removed. Models in the Ollama directory are [`StoreError::ReadOnly`].
    pub fn delete(&self, name: &str) -> Result<()> {
        let parsed = ModelName::parse(name)?;
        let found = match self.find_manifest(&parsed)? {
            Some(found) if found.read_only => {
                return Err(StoreError::ReadOnly {
                    name: parsed.display_short(),
                    dir: found.root,
                })
            }
            Some(found) => found,
            None => {
                // A catalog blob pulled before manifests existed.
                if let Ok(entry) = lookup(name) {
                    if self.is_present(entry) && !self.referenced().contains(entry.sha256) {
                        remove_if_exists(&self.blob_path(entry.sha256))?;
                        return Ok(());
                    }
                }
                return Err(not_found(name));
            }
        };
        remove_if_exists(&found.path)?;
        // Tidy empty directories up to `manifests/`.
        let top = self.root().join("manifests");
        let mut dir = found.path.parent();
        while let Some(d) = dir.filter(|d| *d != top && d.starts_with(&top)) {
            if fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        let still_used = self.referenced();
        for layer in found.manifest.blobs() {
            let digest = layer.digest()?;
            if !still_used.contains(digest.hex()) {
                remove_if_exists(&self.blob_path(digest.hex()))?;
            }
        }
        tracing::info!(name, "deleted");
        Ok(())
    }

    /// Hex digests used by any manifest in the store.
    fn referenced(&self) -> BTreeSet<String> {
        let mut used = BTreeSet::new();
        for name in manifest_names(&self.root().join("manifests")) {
            let path = name.manifest_path(self.root());
            let Ok(bytes) = fs::read(&path) else { continue };
            let Ok(manifest) = Manifest::parse(&bytes, &path.display().to_string()) else {
                continue;
            };
            for layer in manifest.blobs() {
                if let Ok(d) = layer.digest() {
                    used.insert(d.hex().to_string());
                }
            }
        }
        used
    }

    /// `cp` / `POST /api/copy`: `dst` gets `src`'s manifest. A source in the Ollama directory
    /// has its blobs linked into the store (hard link, else symbolic link; never copied).
    pub fn copy(&self, src: &str, dst: &str) -> Result<()> {
        let dst = ModelName::parse(dst)?;
        let found = self.manifest_or_catalog(src)?;
        if found.read_only {
            self.link_blobs_from(&found)?;
        }
        self.write_manifest(&dst, &found.manifest)
    }

    /// The manifest of `name`, writing one for a pulled catalog model that lacks it.
    fn manifest_or_catalog(&self, name: &str) -> Result<Found> {
        match self.resolve_name(name)? {
            Resolved::Manifest { name, .. } => {
                let parsed = ModelName::parse(&name)?;
                self.find_manifest(&parsed)?.ok_or_else(|| not_found(&name))
            }
            Resolved::Catalog {
                entry,
                path,
                present: true,
            } => {
                let parsed = ModelName::parse(entry.name)?;
                self.write_model_manifest(&parsed, &path, entry.sha256, entry.size_bytes)?;
                self.find_manifest(&parsed)?.ok_or_else(|| not_found(name))
            }
            Resolved::Catalog { entry, .. } => Err(StoreError::NotPulled {
                name: entry.name.to_string(),
            }),
            Resolved::File(_) => Err(not_found(name)),
        }
    }

    fn link_blobs_from(&self, found: &Found) -> Result<()> {
        self.create_dirs()?;
        for layer in found.manifest.blobs() {
            let digest = layer.digest()?;
            if self.blob_size(&digest).is_none() {
                let src = found.root.join("blobs").join(digest.file_name());
                link_in_place(&src, &self.blob_path(digest.hex()))?;
            }
        }
        Ok(())
    }

    /// Register a local file as a blob without copying it: hash it, then hard-link it into
    /// `blobs/` (same file system) or, failing that, symlink to it (a reference: the file must
    /// stay where it is).
    pub(crate) fn register_file(&self, path: &Path, progress: &mut dyn Progress) -> Result<Layer> {
        let meta = fs::metadata(path)
            .map_err(|err| StoreError::io(format!("reading {}", path.display()), err))?;
        if !meta.is_file() {
            return Err(StoreError::NoSuchFile {
                path: path.to_path_buf(),
            });
        }
        progress.start(&format!("hashing {}", path.display()), Some(meta.len()));
        let mut hasher = Sha256::new();
        let mut file = fs::File::open(path)
            .map_err(|err| StoreError::io(format!("opening {}", path.display()), err))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|err| StoreError::io(format!("reading {}", path.display()), err))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            progress.advance(n as u64);
        }
        progress.finish();
        let digest = Digest::from_hex(&hex::encode(hasher.finalize()))?;
        self.create_dirs()?;
        let blob = self.blob_path(digest.hex());
        if self.blob_size(&digest).is_none() {
            link_in_place(path, &blob)?;
            progress.status(&format!("creating new layer {digest}"));
        } else {
            progress.status(&format!("using existing layer {digest}"));
        }
        Ok(Layer::new(MEDIA_MODEL, &digest, meta.len()))
    }

    /// `create`: build `name` from a Modelfile's text. `FROM` (and `ADAPTER`) paths are
    /// relative to `base_dir`. Statuses: `parsing modelfile`, `using existing layer` /
    /// `creating new layer`, `writing manifest`, `success`.
    pub fn create(
        &self,
        name: &str,
        modelfile: &str,
        base_dir: &Path,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        progress.status("parsing modelfile");
        let mf = Modelfile::parse(modelfile)?;
        self.create_with(name, &mf, Some(base_dir), progress)
    }

    /// Build `name` from parsed (or assembled) Modelfile commands: what `POST /api/create`
    /// calls after turning its JSON (`from`, `files`, `system`, `template`, `parameters`,
    /// `messages`, `license`, `adapters`) into [`Instruction`]s, with `FROM @sha256:<hex>` for
    /// uploaded blobs. With `base_dir` `None`, `FROM` and `ADAPTER` may not name local files
    /// (a server must not read paths a client chooses). Parameter values are checked here
    /// too. The Modelfile must have exactly one `FROM`.
    pub fn create_with(
        &self,
        name: &str,
        mf: &Modelfile,
        base_dir: Option<&Path>,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let name = ModelName::parse(name)?;
        let froms: Vec<(&str, usize)> = mf
            .commands
            .iter()
            .filter_map(|c| match &c.instruction {
                Instruction::From(f) => Some((f.as_str(), c.line)),
                _ => None,
            })
            .collect();
        let (from, from_line) = match froms.as_slice() {
            [one] => *one,
            [] => {
                return Err(StoreError::Modelfile {
                    line: 0,
                    reason: "no FROM: name the model to build on".into(),
                })
            }
            [_, (_, line), ..] => {
                return Err(StoreError::Modelfile {
                    line: *line,
                    reason: "a second FROM".into(),
                })
            }
        };
        let local = |arg: &str, line: usize| -> Result<Option<PathBuf>> {
            match base_dir {
                Some(base) => Ok(as_local_path(arg, base)),
                None if looks_like_path(arg) => Err(StoreError::Modelfile {
                    line,
                    reason: format!(
                        "{arg:?}: local paths are not accepted here; upload the file as a \
                         blob and use @sha256:<digest>"
                    ),
                }),
                None => Ok(None),
            }
        };
        let line_err = |line: usize, err: StoreError| StoreError::Modelfile {
            line,
            reason: err.to_string(),
        };

        // The base: layers inherited from FROM.
        let mut layers: Vec<Layer> = Vec::new();
        if let Some(blob) = from.strip_prefix('@') {
            let digest = Digest::parse(blob).map_err(|e| line_err(from_line, e))?;
            let size = self
                .blob_size(&digest)
                .ok_or_else(|| StoreError::Modelfile {
                    line: from_line,
                    reason: format!("blob {digest} is not in the store; upload it first"),
                })?;
            layers.push(Layer::new(MEDIA_MODEL, &digest, size));
        } else if let Some(path) = local(from, from_line)? {
            check_gguf(&path).map_err(|e| line_err(from_line, e))?;
            layers.push(self.register_file(&path, progress)?);
        } else {
            let found = self
                .manifest_or_catalog_ensure(from, progress)
                .map_err(|e| line_err(from_line, e))?;
            if found.read_only {
                self.link_blobs_from(&found)?;
            }
            layers.extend(found.manifest.layers.iter().cloned());
            tracing::debug!(parent = %found.name, "FROM model");
        }

        // What this Modelfile sets replaces what was inherited, per kind.
        let mut params = Map::new();
        let mut messages = Vec::new();
        let mut licenses = Vec::new();
        let mut adapters = Vec::new();
        let mut system = None;
        let mut template = None;
        for cmd in &mf.commands {
            match &cmd.instruction {
                Instruction::From(_) => {}
                Instruction::Parameter { name, value } => {
                    params::set_param(&mut params, name, value).map_err(|reason| {
                        StoreError::Modelfile {
                            line: cmd.line,
                            reason,
                        }
                    })?
                }
                Instruction::System(s) => system = Some(s.clone()),
                Instruction::Template(t) => template = Some(t.clone()),
                Instruction::License(l) => licenses.push(l.clone()),
                Instruction::Message { role, content } => messages.push(Message {
                    role: role.clone(),
                    content: content.clone(),
                }),
                Instruction::Adapter(a) => {
                    let layer = if let Some(blob) = a.strip_prefix('@') {
                        let digest = Digest::parse(blob).map_err(|e| line_err(cmd.line, e))?;
                        let size =
                            self.blob_size(&digest)
                                .ok_or_else(|| StoreError::Modelfile {
                                    line: cmd.line,
                                    reason: format!("blob {digest} is not in the store"),
                                })?;
                        Layer::new(MEDIA_ADAPTER, &digest, size)
                    } else {
                        let Some(base) = base_dir else {
                            return Err(StoreError::Modelfile {
                                line: cmd.line,
                                reason: format!(
                                    "ADAPTER {a:?}: local paths are not accepted here; upload \
                                     the file as a blob and use @sha256:<digest>"
                                ),
                            });
                        };
                        let path = base.join(expand_home(a));
                        check_gguf(&path).map_err(|e| line_err(cmd.line, e))?;
                        let mut layer = self.register_file(&path, progress)?;
                        layer.media_type = MEDIA_ADAPTER.into();
                        layer
                    };
                    adapters.push(layer);
                }
            }
        }
        let mut replace = |media: &str, new: Vec<Layer>| {
            if !new.is_empty() {
                layers.retain(|l| l.media_type != media);
                layers.extend(new);
            }
        };
        let text_layer = |media: &str, text: Option<String>| -> Result<Vec<Layer>> {
            text.map(|t| self.put_bytes(media, t.as_bytes()))
                .into_iter()
                .collect()
        };
        let new_template = text_layer(MEDIA_TEMPLATE, template)?;
        let new_system = text_layer(MEDIA_SYSTEM, system)?;
        let new_licenses = licenses
            .into_iter()
            .map(|l| self.put_bytes(MEDIA_LICENSE, l.as_bytes()))
            .collect::<Result<Vec<_>>>()?;
        let new_messages = if messages.is_empty() {
            Vec::new()
        } else {
            let bytes = serde_json::to_vec(&messages).expect("messages serialize");
            vec![self.put_bytes(MEDIA_MESSAGES, &bytes)?]
        };
        replace(MEDIA_TEMPLATE, new_template);
        replace(MEDIA_SYSTEM, new_system);
        replace(MEDIA_LICENSE, new_licenses);
        replace(MEDIA_MESSAGES, new_messages);
        replace(MEDIA_ADAPTER, adapters);
        if !params.is_empty() {
            // Inherited parameters stay unless this Modelfile sets the same name.
            let mut merged = Map::new();
            if let Some(old) = layers.iter().find(|l| l.media_type == MEDIA_PARAMS) {
                let path = self.blob_path(old.digest()?.hex());
                if let Ok(text) = fs::read_to_string(&path) {
                    if let Ok(Json::Object(map)) = serde_json::from_str(&text) {
                        merged = map;
                    }
                }
            }
            merged.extend(params);
            let bytes = serde_json::to_vec(&merged).expect("params serialize");
            let layer = self.put_bytes(MEDIA_PARAMS, &bytes)?;
            layers.retain(|l| l.media_type != MEDIA_PARAMS);
            layers.push(layer);
        }

        let model = layers
            .iter()
            .find(|l| l.media_type == MEDIA_MODEL)
            .ok_or_else(|| StoreError::Modelfile {
                line: from_line,
                reason: format!("{from} has no model layer"),
            })?;
        let gguf = self.blob_path(model.digest()?.hex());
        let config = self.config_layer(&gguf, &layers.iter().collect::<Vec<_>>())?;
        progress.status("writing manifest");
        self.write_manifest(&name, &Manifest::new(config, layers))?;
        progress.status("success");
        Ok(())
    }

    fn manifest_or_catalog_ensure(&self, name: &str, progress: &mut dyn Progress) -> Result<Found> {
        if let Resolved::Catalog { entry, .. } = self.resolve_name(name)? {
            self.ensure_catalog(entry, progress)?;
        }
        self.manifest_or_catalog(name)
    }
}

fn not_found(name: &str) -> StoreError {
    StoreError::UnknownModel {
        name: name.to_string(),
        known: crate::catalog()
            .iter()
            .map(|e| e.name)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// A FROM argument that names a local file: a path that exists (relative to `base_dir`), or
/// anything that looks like a path (which then fails with a clear "no such file").
fn as_local_path(from: &str, base_dir: &Path) -> Option<PathBuf> {
    let path = base_dir.join(expand_home(from));
    (looks_like_path(from) || path.is_file()).then_some(path)
}

fn looks_like_path(arg: &str) -> bool {
    arg.starts_with('/')
        || arg.starts_with("./")
        || arg.starts_with("../")
        || arg.starts_with('~')
        || arg.contains('\\')
        || arg.to_ascii_lowercase().ends_with(".gguf")
}

fn expand_home(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => dirs::home_dir().map_or_else(|| PathBuf::from(p), |h| h.join(rest)),
        None => PathBuf::from(p),
    }
}

fn check_gguf(path: &Path) -> Result<()> {
    let mut magic = [0u8; 4];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map_err(|err| match err.kind() {
            io::ErrorKind::NotFound => StoreError::NoSuchFile {
                path: path.to_path_buf(),
            },
            _ => StoreError::io(format!("reading {}", path.display()), err),
        })?;
    if &magic != b"GGUF" {
        return Err(StoreError::Gguf {
            path: path.to_path_buf(),
            reason: "not a GGUF file (only GGUF models and adapters can be imported)".into(),
        });
    }
    Ok(())
}

/// Hard-link `src` at `dst`, else symlink `dst` to `src`'s absolute path. Never copies.
pub(crate) fn link_in_place(src: &Path, dst: &Path) -> Result<()> {
    match fs::hard_link(src, dst) {
        Ok(()) => return Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(err) => tracing::debug!(%err, "hard link failed; falling back to a symbolic link"),
    }
    let abs = fs::canonicalize(src)
        .map_err(|err| StoreError::io(format!("resolving {}", src.display()), err))?;
    #[cfg(unix)]
    let linked = std::os::unix::fs::symlink(&abs, dst);
    #[cfg(not(unix))]
    let linked = Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "symbolic links need Unix; put the file on the store's disk",
    ));
    match linked {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(StoreError::io(
            format!("linking {} to {}", dst.display(), abs.display()),
            err,
        )),
    }
}

/// Names of the manifests under `dir` (`<host>/<namespace>/<model>/<tag>`); files that are not
/// at that depth or whose path is not a valid name are skipped.
pub(crate) fn manifest_names(dir: &Path) -> Vec<ModelName> {
    fn children(dir: &Path) -> Vec<(String, PathBuf)> {
        let Ok(rd) = fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut v: Vec<(String, PathBuf)> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
            .filter(|(n, _)| !n.starts_with('.'))
            .collect();
        v.sort();
        v
    }
    let mut names = Vec::new();
    for (host, host_dir) in children(dir) {
        for (ns, ns_dir) in children(&host_dir) {
            for (model, model_dir) in children(&ns_dir) {
                for (tag, tag_path) in children(&model_dir) {
                    if !tag_path.is_file() {
                        continue;
                    }
                    match ModelName::parse(&format!("{host}/{ns}/{model}:{tag}")) {
                        Ok(name) if name.manifest_path(dir.parent().unwrap_or(dir)) == tag_path => {
                            names.push(name)
                        }
                        _ => {
                            tracing::warn!(path = %tag_path.display(), "skipping odd manifest path")
                        }
                    }
                }
            }
        }
    }
    names
}

/// Ollama's `show --parameters` text: the name padded to 30 columns, strings quoted.
fn parameters_text(params: &Map<String, Json>) -> String {
    let mut out = String::new();
    for (name, value) in params {
        let values: Vec<&Json> = match value {
            Json::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for v in values {
            out.push_str(&format!("{name:<30} {v}\n"));
        }
    }
    out
}

fn modelfile_text(model: &ResolvedModel) -> String {
    let mut out = format!(
        "# Modelfile generated by \"edgellm show\"\n\
         # To build a new Modelfile based on this, replace FROM with:\n\
         # FROM {}\n\nFROM {}\n",
        model.name,
        model.model_path.display()
    );
    if let Some(t) = &model.template {
        out.push_str(&format!("TEMPLATE \"\"\"{t}\"\"\"\n"));
    }
    if let Some(s) = &model.system {
        out.push_str(&format!("SYSTEM \"\"\"{s}\"\"\"\n"));
    }
    for a in &model.adapters {
        out.push_str(&format!("ADAPTER {}\n", a.display()));
    }
    for (name, value) in params::param_pairs(&model.params) {
        if value.contains(char::is_whitespace) || value.is_empty() {
            out.push_str(&format!("PARAMETER {name} \"{value}\"\n"));
        } else {
            out.push_str(&format!("PARAMETER {name} {value}\n"));
        }
    }
    for m in &model.messages {
        out.push_str(&format!("MESSAGE {} \"\"\"{}\"\"\"\n", m.role, m.content));
    }
    for l in &model.licenses {
        out.push_str(&format!("LICENSE \"\"\"{l}\"\"\"\n"));
    }
    out
}

fn serialize_time<S: serde::Serializer>(
    t: &SystemTime,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&crate::time::rfc3339(*t))
}
