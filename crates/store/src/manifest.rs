//! Manifests in Ollama's exact format: a Docker v2 image manifest whose config blob describes
//! the model and whose layers are typed by media type (model, template, system, params,
//! adapter, license, messages, projector).

use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::name::Digest;

/// The manifest's own media type.
pub const MEDIA_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// The config blob's media type.
pub const MEDIA_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// The GGUF weights.
pub const MEDIA_MODEL: &str = "application/vnd.ollama.image.model";
/// A chat template (text).
pub const MEDIA_TEMPLATE: &str = "application/vnd.ollama.image.template";
/// A system message (text).
pub const MEDIA_SYSTEM: &str = "application/vnd.ollama.image.system";
/// Runtime options (a JSON object).
pub const MEDIA_PARAMS: &str = "application/vnd.ollama.image.params";
/// A LoRA adapter (GGUF).
pub const MEDIA_ADAPTER: &str = "application/vnd.ollama.image.adapter";
/// A license text; a model may have several.
pub const MEDIA_LICENSE: &str = "application/vnd.ollama.image.license";
/// Seed conversation (a JSON array of `{role, content}`).
pub const MEDIA_MESSAGES: &str = "application/vnd.ollama.image.messages";
/// A vision projector (GGUF).
pub const MEDIA_PROJECTOR: &str = "application/vnd.ollama.image.projector";

/// Most layers a manifest may list: real models have a handful.
pub(crate) const LAYERS_MAX: usize = 256;
/// Largest manifest accepted from disk or a registry.
pub(crate) const MANIFEST_BYTES_MAX: u64 = 4 << 20;
/// Largest blob size a manifest may claim (1 TiB): rejects absurd numbers before any
/// arithmetic or disk-space check.
pub(crate) const BLOB_BYTES_MAX: u64 = 1 << 40;

/// One blob reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Layer {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    /// Where Ollama imported the layer from; kept when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

impl Layer {
    /// The validated digest (manifests are validated on load, so this only fails for a
    /// manifest built in memory with a bad digest).
    pub fn digest(&self) -> Result<Digest> {
        Digest::parse(&self.digest)
    }

    pub(crate) fn new(media_type: &str, digest: &Digest, size: u64) -> Layer {
        Layer {
            media_type: media_type.to_string(),
            digest: digest.to_string(),
            size,
            from: None,
        }
    }
}

/// A model manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    pub media_type: String,
    pub config: Layer,
    pub layers: Vec<Layer>,
}

impl Manifest {
    pub(crate) fn new(config: Layer, layers: Vec<Layer>) -> Manifest {
        Manifest {
            schema_version: 2,
            media_type: MEDIA_MANIFEST.to_string(),
            config,
            layers,
        }
    }

    /// Parse and validate: schema version 2, every digest `sha256:<hex>`, sane sizes and
    /// layer count. `source_desc` names the file or URL for error messages.
    pub fn parse(bytes: &[u8], source_desc: &str) -> Result<Manifest> {
        let bad = |reason: String| StoreError::BadManifest {
            source_desc: source_desc.to_string(),
            reason,
        };
        if bytes.len() as u64 > MANIFEST_BYTES_MAX {
            return Err(bad(format!("larger than {MANIFEST_BYTES_MAX} bytes")));
        }
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|err| bad(format!("not a manifest: {err}")))?;
        if manifest.schema_version != 2 {
            return Err(bad(format!(
                "schemaVersion {} (only 2 is supported)",
                manifest.schema_version
            )));
        }
        if manifest.layers.len() > LAYERS_MAX {
            return Err(bad(format!("more than {LAYERS_MAX} layers")));
        }
        for layer in std::iter::once(&manifest.config).chain(&manifest.layers) {
            Digest::parse(&layer.digest).map_err(|err| bad(err.to_string()))?;
            if layer.size > BLOB_BYTES_MAX {
                return Err(bad(format!(
                    "layer {} claims {} bytes",
                    layer.digest, layer.size
                )));
            }
        }
        Ok(manifest)
    }

    /// Pretty JSON, as written to disk.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a manifest always serializes")
    }

    /// The first layer of this media type.
    pub fn layer(&self, media_type: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.media_type == media_type)
    }

    /// Every layer of this media type, in order.
    pub fn layers_of<'a>(&'a self, media_type: &'a str) -> impl Iterator<Item = &'a Layer> + 'a {
        self.layers
            .iter()
            .filter(move |l| l.media_type == media_type)
    }

    /// Config plus layers.
    pub fn blobs(&self) -> impl Iterator<Item = &Layer> {
        std::iter::once(&self.config).chain(&self.layers)
    }

    /// Total bytes of all layers (what `ollama list` shows as SIZE).
    pub fn size(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum::<u64>() + self.config.size
    }
}

/// The config blob: what `list` shows without opening the GGUF.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigFile {
    #[serde(default)]
    pub model_format: String,
    #[serde(default)]
    pub model_family: String,
    #[serde(default)]
    pub model_families: Option<Vec<String>>,
    /// Parameter size, e.g. `134.52M`.
    #[serde(default)]
    pub model_type: String,
    /// Quantization, e.g. `Q4_K_M`.
    #[serde(default)]
    pub file_type: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub rootfs: RootFs,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<String>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs {
            kind: "layers".into(),
            diff_ids: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest as Ollama writes it (from an `ollama pull smollm2:135m`, digests replaced).
    const OLLAMA_MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":485},"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":270898368},{"mediaType":"application/vnd.ollama.image.template","digest":"sha256:3333333333333333333333333333333333333333333333333333333333333333","size":358},{"mediaType":"application/vnd.ollama.image.params","digest":"sha256:4444444444444444444444444444444444444444444444444444444444444444","size":91}]}"#;

    #[test]
    fn ollama_manifest_round_trips() {
        let m = Manifest::parse(OLLAMA_MANIFEST.as_bytes(), "test").unwrap();
        assert_eq!(m.layers.len(), 3);
        assert_eq!(m.layer(MEDIA_MODEL).unwrap().size, 270898368);
        assert_eq!(m.size(), 485 + 270898368 + 358 + 91);
        assert_eq!(String::from_utf8(m.to_bytes()).unwrap(), OLLAMA_MANIFEST);
    }

    #[test]
    fn bad_manifests_are_rejected() {
        for (bad, why) in [
            ("{}", "not a manifest"),
            (
                &OLLAMA_MANIFEST.replace("\"schemaVersion\":2", "\"schemaVersion\":1"),
                "schemaVersion",
            ),
            (
                &OLLAMA_MANIFEST.replace(
                    "sha256:2222222222222222222222222222222222222222222222222222222222222222",
                    "sha256:../../../../etc/passwd",
                ),
                "invalid digest",
            ),
            (
                &OLLAMA_MANIFEST.replace("270898368", "99999999999999999"),
                "claims",
            ),
        ] {
            let err = Manifest::parse(bad.as_bytes(), "test").unwrap_err();
            assert!(err.to_string().contains(why), "{err}");
        }
    }
}
