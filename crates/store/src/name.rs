//! Model names (`[host/][namespace/]model[:tag]`) and blob digests (`sha256:<64 hex>`), the two
//! kinds of user input that become paths. Both are validated here, once, so that nothing a user
//! types can name a file outside the store.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Result, StoreError};

/// The registry host of names without one, as Ollama spells it.
pub const DEFAULT_HOST: &str = "registry.ollama.ai";
/// The namespace of names without one.
pub const DEFAULT_NAMESPACE: &str = "library";
/// The tag of names without one.
pub const DEFAULT_TAG: &str = "latest";
/// Longest accepted name component (Ollama allows 80 for a model, 80 for a tag).
const COMPONENT_CHARS_MAX: usize = 80;
/// Longest accepted host (with port).
const HOST_CHARS_MAX: usize = 253;

/// A fully qualified model name: `host/namespace/model:tag`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelName {
    pub host: String,
    pub namespace: String,
    pub model: String,
    pub tag: String,
}

impl ModelName {
    /// Parse `[host/][namespace/]model[:tag]`, filling in `registry.ollama.ai`, `library` and
    /// `latest`. Each component must start with a letter or digit and hold only letters,
    /// digits, `_`, `.` and `-` (the host may end with `:port`), so no component can be `..`,
    /// empty, or contain a path separator.
    pub fn parse(name: &str) -> Result<ModelName> {
        let bad = |reason: &str| StoreError::InvalidName {
            name: name.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = name.trim();
        if trimmed.is_empty() {
            return Err(bad("the name is empty"));
        }
        if trimmed.starts_with('/') || trimmed.starts_with('\\') {
            return Err(bad("absolute paths are not model names"));
        }
        if trimmed.contains("..") {
            return Err(bad("`..` is not allowed in a model name"));
        }
        // The tag follows the last `:` after the last `/` (a host may carry `:port`).
        let last_slash = trimmed.rfind('/').map_or(0, |i| i + 1);
        let (path, tag) = match trimmed[last_slash..].rfind(':') {
            Some(i) => (&trimmed[..last_slash + i], &trimmed[last_slash + i + 1..]),
            None => (trimmed, DEFAULT_TAG),
        };
        let parts: Vec<&str> = path.split('/').collect();
        let (host, namespace, model) = match parts.as_slice() {
            [model] => (DEFAULT_HOST, DEFAULT_NAMESPACE, *model),
            [namespace, model] => (DEFAULT_HOST, *namespace, *model),
            [host, namespace, model] => (*host, *namespace, *model),
            _ => return Err(bad("expected [host/][namespace/]model[:tag]")),
        };
        let host = host.to_ascii_lowercase();
        let host = match host.as_str() {
            "huggingface.co" => "hf.co".to_string(),
            _ => host,
        };
        check_host(&host).map_err(|r| bad(&r))?;
        check_component("namespace", namespace).map_err(|r| bad(&r))?;
        check_component("model", model).map_err(|r| bad(&r))?;
        check_component("tag", tag).map_err(|r| bad(&r))?;
        Ok(ModelName {
            host,
            namespace: namespace.to_string(),
            model: model.to_string(),
            tag: tag.to_string(),
        })
    }

    /// The name as Ollama displays it: `model:tag` for the default registry's `library`,
    /// `namespace/model:tag` for another namespace there, else `host/namespace/model:tag`.
    pub fn display_short(&self) -> String {
        if self.host != DEFAULT_HOST {
            format!(
                "{}/{}/{}:{}",
                self.host, self.namespace, self.model, self.tag
            )
        } else if self.namespace != DEFAULT_NAMESPACE {
            format!("{}/{}:{}", self.namespace, self.model, self.tag)
        } else {
            format!("{}:{}", self.model, self.tag)
        }
    }

    /// `<root>/manifests/<host>/<namespace>/<model>/<tag>` (Ollama's layout).
    pub fn manifest_path(&self, root: &Path) -> PathBuf {
        root.join("manifests")
            .join(&self.host)
            .join(&self.namespace)
            .join(&self.model)
            .join(&self.tag)
    }

    /// True for Hugging Face references (`hf.co/{user}/{repo}:{quant}`).
    pub fn is_hugging_face(&self) -> bool {
        self.host == "hf.co"
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_short())
    }
}

fn check_component(what: &str, s: &str) -> std::result::Result<(), String> {
    if s.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if s.len() > COMPONENT_CHARS_MAX {
        return Err(format!(
            "the {what} is longer than {COMPONENT_CHARS_MAX} characters"
        ));
    }
    if !s.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(format!(
            "the {what} {s:?} must start with a letter or digit"
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "the {what} {s:?} contains {c:?}; use letters, digits, '_', '.' and '-'"
        ));
    }
    Ok(())
}

fn check_host(host: &str) -> std::result::Result<(), String> {
    if host.len() > HOST_CHARS_MAX {
        return Err(format!(
            "the host is longer than {HOST_CHARS_MAX} characters"
        ));
    }
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    check_component("host", name)?;
    if let Some(port) = port {
        if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("the host {host:?} has an invalid port"));
        }
    }
    Ok(())
}

/// A validated blob digest: `sha256:` followed by 64 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parse `sha256:<hex>` (also accepted: Ollama's file-name form `sha256-<hex>`). Upper-case
    /// hex is folded to lower case; anything else is [`StoreError::InvalidDigest`].
    pub fn parse(s: &str) -> Result<Digest> {
        let hex = s
            .strip_prefix("sha256:")
            .or_else(|| s.strip_prefix("sha256-"))
            .map(str::to_ascii_lowercase);
        match hex {
            Some(hex) if crate::catalog::is_sha256_hex(&hex) => Ok(Digest(hex)),
            _ => Err(StoreError::InvalidDigest {
                digest: s.chars().take(100).collect(),
            }),
        }
    }

    /// From 64 lower-case hex digits.
    pub fn from_hex(hex: &str) -> Result<Digest> {
        Digest::parse(&format!("sha256:{hex}"))
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits, as `ollama list` shows IDs.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }

    /// The blob's file name: `sha256-<hex>`.
    pub fn file_name(&self) -> String {
        format!("sha256-{}", self.0)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_filled_in() {
        let n = ModelName::parse("llama3.2").unwrap();
        assert_eq!(
            (&*n.host, &*n.namespace, &*n.model, &*n.tag),
            ("registry.ollama.ai", "library", "llama3.2", "latest")
        );
        assert_eq!(n.display_short(), "llama3.2:latest");
        let n = ModelName::parse("me/tiny:q8").unwrap();
        assert_eq!(n.display_short(), "me/tiny:q8");
        let n = ModelName::parse("localhost:5000/me/tiny").unwrap();
        assert_eq!(n.host, "localhost:5000");
        assert_eq!(n.display_short(), "localhost:5000/me/tiny:latest");
        let n = ModelName::parse("huggingface.co/bartowski/Llama-3.2-1B-GGUF:Q4_K_M").unwrap();
        assert!(n.is_hugging_face());
        assert_eq!(n.tag, "Q4_K_M");
    }

    #[test]
    fn traversal_and_odd_characters_are_rejected() {
        for bad in [
            "",
            "..",
            "../x",
            "a/../b",
            "/etc/passwd",
            "\\x",
            "a/b/c/d",
            "a:",
            ":tag",
            "a:b:c",
            "x y",
            "a/.hidden",
            "model:.tag",
            "m@sha256:00",
            "m\0",
            "host:port/a/b",
            &"a".repeat(81),
        ] {
            let err = ModelName::parse(bad).unwrap_err();
            assert!(
                matches!(err, StoreError::InvalidName { .. }),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn manifest_path_stays_under_root() {
        let root = Path::new("/store");
        let n = ModelName::parse("smollm2:135m").unwrap();
        assert_eq!(
            n.manifest_path(root),
            Path::new("/store/manifests/registry.ollama.ai/library/smollm2/135m")
        );
    }

    #[test]
    fn digests() {
        let hex = "ab".repeat(32);
        assert_eq!(Digest::parse(&format!("sha256:{hex}")).unwrap().hex(), hex);
        assert_eq!(
            Digest::parse(&format!("sha256-{}", hex.to_uppercase()))
                .unwrap()
                .to_string(),
            format!("sha256:{hex}")
        );
        for bad in [
            "",
            "sha256:",
            &hex,
            &format!("md5:{hex}"),
            &format!("sha256:{}", &hex[1..]),
            &format!("sha256:../{}", &hex[3..]),
            &format!("sha256:{}g", &hex[1..]),
        ] {
            assert!(
                matches!(Digest::parse(bad), Err(StoreError::InvalidDigest { .. })),
                "{bad}"
            );
        }
    }
}
