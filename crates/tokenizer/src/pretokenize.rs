//! Pre-tokenizers of byte-level BPE vocabularies: split text into "words"
//! before merges, exactly as llama.cpp does.
//!
//! llama.cpp applies a list of regexes in turn, each refining the pieces the
//! previous one produced. Two regexes (GPT-2's and Llama 3's) are run by
//! hand-written splitters; the rest go through a regex engine on a *collapsed*
//! copy of the text, where every non-ASCII code point is replaced by one
//! placeholder per Unicode class (and non-ASCII whitespace by `\x0B`), and
//! `\p{..}` in the pattern by "placeholder + the ASCII members of the class".
//! Both quirks change results at the margins (e.g. `~` is not `\p{S}` there), so
//! we reproduce them rather than use `\p{..}` directly.

use fancy_regex::Regex;

use crate::unicode::{self, LETTER, MARK, NUMBER, PUNCTUATION, SYMBOL, WHITESPACE};
use crate::TokenizerError;

/// GPT-2's split regex (run by [`split_gpt2`]).
const GPT2: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
/// Llama 3's split regex, case-insensitive contractions spelled out (run by [`split_llama3`]).
const LLAMA3: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN35: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const SEED_CODER: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+";
const BAILINGMOE: &str = r"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+";
const GPT4O: &str = r"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const TEKKEN: &str = r"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const DEEPSEEK3_WORDS: &str = r##"[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"##;
const CJK: &str = "[一-龥ࠀ-一가-퟿]+";
const PORO: &str = r" ?[^(\s|.,!?…。，、।۔،)]+";
/// Cased letters of the Latin, Greek, Cyrillic, ... blocks. Code points that
/// Unicode normalization would rewrite (Greek oxia forms, OHM SIGN, KELVIN
/// SIGN, ...) are escaped so that no editor or tool can silently change them.
const DEEPSEEK_LLM_LATIN: &str = "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u{1F7D}ᾀ-ᾴᾶ-ᾼ\u{1FBE}ῂ-ῄῆ-ῌῐ-\u{1FD3}ῖ-\u{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\u{2126}ℨ\u{212A}-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+";
const DEEPSEEK_LLM_PUNCT: &str = r"\s?[!-/:-~！-／：-～‘-‟　-。]+";

/// Settings a `tokenizer.ggml.pre` name implies (llama.cpp's `llama_vocab::load`).
#[derive(Debug, Clone)]
pub(crate) struct PreConfig {
    /// Regexes applied in turn.
    pub patterns: &'static [&'static str],
    /// `clean_up_tokenization_spaces` (used by `detokenize` only).
    pub clean_spaces: bool,
    /// A word that is itself a token skips the merges.
    pub ignore_merges: bool,
    /// Default of `add_bos` before the GGUF flag overrides it.
    pub add_bos: bool,
    /// The model has no default BOS (chatglm).
    pub no_default_bos: bool,
}

impl PreConfig {
    const fn new(patterns: &'static [&'static str], clean_spaces: bool) -> Self {
        Self {
            patterns,
            clean_spaces,
            ignore_merges: false,
            add_bos: false,
            no_default_bos: false,
        }
    }
}

/// Maps a `tokenizer.ggml.pre` value to its configuration; `None` is llama.cpp's
/// fallback ("default") for files without the key.
pub(crate) fn pre_config(pre: Option<&str>) -> Result<PreConfig, TokenizerError> {
    const DEFAULT: &[&str] = &[r"[\p{P}\$\+<=>\^~\|]+", GPT2, r"\p{N}+", "[0-9][0-9][0-9]"];
    const FALCON: &[&str] = &[r"[\p{P}\$\+<=>\^~\|`]+", GPT2, "[0-9][0-9][0-9]"];
    const STARCODER: &[&str] = &[r"\p{N}", GPT2];
    const GPT2_ONLY: &[&str] = &[GPT2];
    const LLAMA3_ONLY: &[&str] = &[LLAMA3];
    const DEEPSEEK_LLM: &[&str] = &[
        "[\r\n]",
        DEEPSEEK_LLM_LATIN,
        DEEPSEEK_LLM_PUNCT,
        r"\s+$",
        CJK,
        r"\p{N}+",
    ];
    const DEEPSEEK_CODER: &[&str] = &["[\r\n]", r"\s?\p{L}+", r"\s?\p{P}+", CJK, r"\p{N}"];
    const DEEPSEEK3: &[&str] = &[r"\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+", DEEPSEEK3_WORDS];

    let name = pre.unwrap_or("default");
    let config = match name {
        "default" => PreConfig::new(DEFAULT, true),
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral" | "midm-2.0"
        | "lfm2" | "jina-v5-nano" => PreConfig {
            ignore_merges: true,
            add_bos: true,
            ..PreConfig::new(LLAMA3_ONLY, true)
        },
        "dbrx" | "smaug-bpe" => PreConfig::new(LLAMA3_ONLY, true),
        "glm4" | "chatglm-bpe" => PreConfig {
            no_default_bos: true,
            ..PreConfig::new(LLAMA3_ONLY, true)
        },
        "deepseek-llm" => PreConfig::new(DEEPSEEK_LLM, false),
        "deepseek-coder" => PreConfig::new(DEEPSEEK_CODER, false),
        "deepseek-v3" | "hunyuan-dense" | "hy_v4" | "joyai-llm" => PreConfig::new(DEEPSEEK3, false),
        "falcon" => PreConfig::new(FALCON, true),
        "starcoder" | "refact" | "codeshell" | "exaone" | "minerva-7b" | "mellum2" => {
            PreConfig::new(STARCODER, true)
        }
        "command-r" | "smollm" => PreConfig::new(STARCODER, false),
        "gpt-2" | "phi-2" | "jina-es" | "jina-de" | "gigachat" | "jina-v2-es" | "jina-v2-de"
        | "a.x-4.0" | "mellum" | "modern-bert" | "jina-v1-en" | "jina-v2-code" | "roberta-bpe"
        | "mpt" | "olmo" | "jais" | "exaone4" => PreConfig::new(GPT2_ONLY, true),
        "trillion" | "granite-docling" => PreConfig::new(GPT2_ONLY, false),
        "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" | "hunyuan" | "grok-2"
        | "solar-open" => PreConfig::new(&[QWEN2], false),
        "stablelm2" | "megrez" => PreConfig::new(&[QWEN2], true),
        "qwen35" => PreConfig::new(&[QWEN35], false),
        "seed-coder" => PreConfig::new(&[SEED_CODER], false),
        "bailingmoe" | "bailingmoe2" | "llada-moe" => PreConfig::new(&[BAILINGMOE], false),
        "gpt-4o" | "llama4" | "kanana2" | "talkie" | "minimax-m2" => {
            PreConfig::new(&[GPT4O], false)
        }
        "tekken" => PreConfig {
            ignore_merges: true,
            add_bos: true,
            ..PreConfig::new(&[TEKKEN], false)
        },
        "poro-chat" => PreConfig::new(&[PORO], false),
        "bloom" | "gpt3-finnish" => PreConfig::new(&[PORO], true),
        "viking" => PreConfig::new(&[PORO, r"\p{N}"], false),
        other => return Err(TokenizerError::UnsupportedPreTokenizer(other.to_string())),
    };
    Ok(config)
}

/// One splitting pass.
#[derive(Debug)]
enum Step {
    Gpt2,
    /// Llama 3's regex and its Qwen variants: digits grouped by up to
    /// `max_digits`, words made of code points with `word_bits` classes.
    Llama3 {
        max_digits: usize,
        word_bits: u8,
    },
    /// A regex run on the collapsed text (`collapsed`) or on the text with
    /// non-ASCII whitespace replaced by `\x0B`.
    Regex {
        regex: Regex,
        collapsed: bool,
    },
}

/// A compiled pre-tokenizer.
#[derive(Debug)]
pub(crate) struct PreTokenizer {
    steps: Vec<Step>,
}

/// Placeholders standing for a non-ASCII code point of each class in the
/// collapsed text (private-use code points: never `\s`, `\w`, or ASCII).
const PH_OTHER: char = '\u{E0D0}';
const PH_NUMBER: char = '\u{E0D1}';
const PH_LETTER: char = '\u{E0D2}';
const PH_PUNCT: char = '\u{E0D3}';
const PH_MARK: char = '\u{E0D4}';
const PH_SYMBOL: char = '\u{E0D5}';

/// `\p{..}` classes that switch a pattern to the collapsed text, with the
/// class body replacing them: placeholder + the ASCII members llama.cpp lists
/// (the ASCII split of P and S is Unicode's).
const CATEGORY_BODIES: [(&str, &str); 10] = [
    (r"\p{N}", "\u{E0D1}0-9"),
    (r"\p{L}", "\u{E0D2}A-Za-z"),
    (r"\p{P}", "\u{E0D3}!-#%-*,-/:-;?-@\\[-\\]_\\{\\}"),
    (r"\p{M}", "\u{E0D4}"),
    (r"\p{S}", "\u{E0D5}\\$\\+<->\\^`\\|~"),
    (r"\p{Lu}", "\u{E0D2}A-Za-z"),
    (r"\p{Ll}", "\u{E0D2}A-Za-z"),
    (r"\p{Lt}", "\u{E0D2}A-Za-z"),
    (r"\p{Lm}", "\u{E0D2}A-Za-z"),
    (r"\p{Lo}", "\u{E0D2}A-Za-z"),
];

fn uses_categories(pattern: &str) -> bool {
    CATEGORY_BODIES
        .iter()
        .any(|(name, _)| pattern.contains(name))
}

/// Rewrites `\p{X}` into the collapsed class, wrapping it in brackets when it
/// stands outside a bracket expression.
fn collapse_pattern(pattern: &str) -> String {
    let bytes = pattern.as_bytes();
    let mut out = String::with_capacity(pattern.len() * 2);
    let mut inside = false;
    let mut i = 0;
    while i < bytes.len() {
        let escaped = i > 0 && bytes[i - 1] == b'\\';
        if bytes[i] == b'[' && !escaped {
            inside = true;
            out.push('[');
            i += 1;
            continue;
        }
        if bytes[i] == b']' && inside && !escaped {
            inside = false;
            out.push(']');
            i += 1;
            continue;
        }
        if let Some((name, body)) = CATEGORY_BODIES
            .iter()
            .find(|(name, _)| pattern[i..].starts_with(name))
        {
            if !inside {
                out.push('[');
            }
            out.push_str(body);
            if !inside {
                out.push(']');
            }
            i += name.len();
            continue;
        }
        let c = pattern[i..].chars().next().expect("in bounds");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

fn collapse_char(c: char) -> char {
    if c.is_ascii() {
        return c;
    }
    let flags = unicode::flags(c);
    if flags & WHITESPACE != 0 {
        '\x0B'
    } else if flags & NUMBER != 0 {
        PH_NUMBER
    } else if flags & LETTER != 0 {
        PH_LETTER
    } else if flags & PUNCTUATION != 0 {
        PH_PUNCT
    } else if flags & MARK != 0 {
        PH_MARK
    } else if flags & SYMBOL != 0 {
        PH_SYMBOL
    } else {
        PH_OTHER
    }
}

fn blank_char(c: char) -> char {
    if !c.is_ascii() && unicode::flags(c) & WHITESPACE != 0 {
        '\x0B'
    } else {
        c
    }
}

impl PreTokenizer {
    pub(crate) fn new(config: &PreConfig) -> Result<Self, TokenizerError> {
        let mut steps = Vec::with_capacity(config.patterns.len());
        for &pattern in config.patterns {
            let step = if pattern == GPT2 {
                Step::Gpt2
            } else if pattern == LLAMA3 {
                Step::Llama3 {
                    max_digits: 3,
                    word_bits: LETTER,
                }
            } else if pattern == QWEN2 {
                Step::Llama3 {
                    max_digits: 1,
                    word_bits: LETTER,
                }
            } else if pattern == QWEN35 {
                Step::Llama3 {
                    max_digits: 1,
                    word_bits: LETTER | MARK,
                }
            } else {
                let collapsed = uses_categories(pattern);
                let source = if collapsed {
                    collapse_pattern(pattern)
                } else {
                    pattern.to_string()
                };
                let regex = Regex::new(&source).map_err(|e| {
                    TokenizerError::Regex(format!("pre-tokenizer pattern {pattern:?}: {e}"))
                })?;
                Step::Regex { regex, collapsed }
            };
            steps.push(step);
        }
        Ok(Self { steps })
    }

    /// Splits `text` into words (substrings of `text`, in order, covering it).
    pub(crate) fn split<'t>(&self, text: &'t str) -> Result<Vec<&'t str>, TokenizerError> {
        let chars: Vec<char> = text.chars().collect();
        let n_chars = chars.len();
        // Word lengths in code points; the whole text is one word to begin with.
        let mut lengths: Vec<usize> = vec![n_chars];
        let mut flags: Vec<u8> = Vec::new();
        for step in &self.steps {
            lengths = match step {
                Step::Gpt2 | Step::Llama3 { .. } => {
                    if flags.is_empty() {
                        flags = chars.iter().map(|&c| unicode::flags(c)).collect();
                    }
                    let mut out = Vec::with_capacity(lengths.len());
                    let mut start = 0;
                    for &len in &lengths {
                        let segment = Segment {
                            chars: &chars,
                            flags: &flags,
                            ini: start,
                            end: start + len,
                        };
                        match *step {
                            Step::Llama3 {
                                max_digits,
                                word_bits,
                            } => segment.split_llama3(max_digits, word_bits, &mut out),
                            _ => segment.split_gpt2(&mut out),
                        }
                        start += len;
                    }
                    out
                }
                Step::Regex { regex, collapsed } => {
                    let map = if *collapsed {
                        collapse_char
                    } else {
                        blank_char
                    };
                    split_regex(regex, &chars, map, &lengths)?
                }
            };
        }
        // Code point lengths → string slices.
        let mut words = Vec::with_capacity(lengths.len());
        let mut char_iter = text
            .char_indices()
            .map(|(b, _)| b)
            .chain(std::iter::once(text.len()));
        let mut byte_start = char_iter.next().unwrap_or(0);
        for len in lengths {
            if len == 0 {
                continue;
            }
            let byte_end = char_iter.nth(len - 1).unwrap_or(text.len());
            words.push(&text[byte_start..byte_end]);
            byte_start = byte_end;
        }
        Ok(words)
    }
}

/// Applies one regex to every current word, keeping the text between matches
/// as words of their own (llama.cpp's `unicode_regex_split_stl`).
fn split_regex(
    regex: &Regex,
    chars: &[char],
    map: fn(char) -> char,
    lengths: &[usize],
) -> Result<Vec<usize>, TokenizerError> {
    let mut out = Vec::with_capacity(lengths.len());
    let mut haystack = String::new();
    // byte offset in `haystack` → code point index in the word
    let mut char_at_byte: Vec<u32> = Vec::new();
    let mut start = 0;
    for &len in lengths {
        haystack.clear();
        char_at_byte.clear();
        for (i, &c) in chars[start..start + len].iter().enumerate() {
            let m = map(c);
            for _ in 0..m.len_utf8() {
                char_at_byte.push(i as u32);
            }
            haystack.push(m);
        }
        char_at_byte.push(len as u32);
        let mut last = 0usize;
        for found in regex.find_iter(&haystack) {
            let found = found.map_err(|e| TokenizerError::Regex(e.to_string()))?;
            let m_start = char_at_byte[found.start()] as usize;
            let m_end = char_at_byte[found.end()] as usize;
            if m_start > last {
                out.push(m_start - last);
            }
            if m_end > m_start {
                out.push(m_end - m_start);
            }
            last = m_end;
        }
        if last < len {
            out.push(len - last);
        }
        start += len;
    }
    Ok(out)
}

/// One word being split by a hand-written splitter: code points `ini..end`.
struct Segment<'a> {
    chars: &'a [char],
    flags: &'a [u8],
    ini: usize,
    end: usize,
}

/// Stands for "past the end of the word" where llama.cpp returns OUT_OF_RANGE.
const NO_CHAR: char = '\u{FFFF}';

impl Segment<'_> {
    #[inline]
    fn flags_at(&self, pos: usize) -> u8 {
        if pos < self.end {
            self.flags[pos]
        } else {
            0
        }
    }

    #[inline]
    fn char_at(&self, pos: usize) -> char {
        if pos < self.end {
            self.chars[pos]
        } else {
            NO_CHAR
        }
    }

    /// Length of `'s|'t|'re|'ve|'m|'ll|'d` at `pos` (0 when none); `fold`
    /// makes the letters case-insensitive (Llama 3).
    fn contraction_len(&self, pos: usize, fold: bool) -> usize {
        if self.chars[pos] != '\'' || pos + 1 >= self.end {
            return 0;
        }
        let lower = |c: char| if fold { c.to_ascii_lowercase() } else { c };
        let next = lower(self.chars[pos + 1]);
        if matches!(next, 's' | 't' | 'm' | 'd') {
            return 2;
        }
        if pos + 2 < self.end {
            let next2 = lower(self.chars[pos + 2]);
            if matches!((next, next2), ('r', 'e') | ('v', 'e') | ('l', 'l')) {
                return 3;
            }
        }
        0
    }

    /// `\s+(?!\S)|\s+` (and, for Llama 3, `\s*[\r\n]+` first): the end of the
    /// whitespace match starting at `pos`, or `None` when `pos` is not whitespace.
    fn whitespace_end(&self, pos: usize, newlines: bool) -> Option<usize> {
        let mut n_ws = 0;
        let mut last_newline_end = 0;
        while self.flags_at(pos + n_ws) & WHITESPACE != 0 {
            if newlines && matches!(self.chars[pos + n_ws], '\r' | '\n') {
                last_newline_end = pos + n_ws + 1;
            }
            n_ws += 1;
        }
        if last_newline_end > 0 {
            Some(last_newline_end)
        } else if n_ws > 1 && pos + n_ws < self.end {
            // leave the last space to prefix the next word
            Some(pos + n_ws - 1)
        } else if n_ws > 0 {
            Some(pos + n_ws)
        } else {
            None
        }
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    fn split_gpt2(&self, out: &mut Vec<usize>) {
        let mut pos = self.ini;
        while pos < self.end {
            let start = pos;
            let c = self.chars[pos];
            let n = self.contraction_len(pos, false);
            if n > 0 {
                out.push(n);
                pos += n;
                continue;
            }
            let lead_space = usize::from(c == ' ');
            let f2 = if c == ' ' {
                self.flags_at(pos + 1)
            } else {
                self.flags[pos]
            };
            let class = if f2 & LETTER != 0 {
                Some(LETTER)
            } else if f2 & NUMBER != 0 {
                Some(NUMBER)
            } else if f2 & (WHITESPACE | LETTER | NUMBER) == 0 && f2 != 0 {
                None // punctuation-like run
            } else {
                pos = self.whitespace_end(pos, false).unwrap_or(pos + 1);
                out.push(pos - start);
                continue;
            };
            pos += lead_space;
            match class {
                Some(bit) => {
                    while self.flags_at(pos) & bit != 0 {
                        pos += 1;
                    }
                }
                None => loop {
                    let f = self.flags_at(pos);
                    if f == 0 || f & (WHITESPACE | LETTER | NUMBER) != 0 {
                        break;
                    }
                    pos += 1;
                },
            }
            out.push(pos - start);
        }
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    /// with `\p{N}{1,max_digits}` and `\p{L}` widened to the `word_bits` classes.
    fn split_llama3(&self, max_digits: usize, word_bits: u8, out: &mut Vec<usize>) {
        let mut pos = self.ini;
        while pos < self.end {
            let start = pos;
            let c = self.chars[pos];
            let f = self.flags[pos];
            let n = self.contraction_len(pos, true);
            if n > 0 {
                out.push(n);
                pos += n;
                continue;
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !(c == '\r' || c == '\n' || f & NUMBER != 0)
                && (f & word_bits != 0 || self.flags_at(pos + 1) & word_bits != 0)
            {
                pos += 1;
                while self.flags_at(pos) & word_bits != 0 {
                    pos += 1;
                }
                out.push(pos - start);
                continue;
            }
            // \p{N}{1,3}
            if f & NUMBER != 0 {
                let mut group_start = pos;
                while self.flags_at(pos) & NUMBER != 0 {
                    pos += 1;
                    if pos - group_start >= max_digits {
                        out.push(pos - group_start);
                        group_start = pos;
                    }
                }
                if pos > group_start {
                    out.push(pos - group_start);
                }
                continue;
            }
            // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
            let f2 = if c == ' ' { self.flags_at(pos + 1) } else { f };
            if f2 & (WHITESPACE | word_bits | NUMBER) == 0 {
                pos += usize::from(c == ' ');
                loop {
                    let fp = self.flags_at(pos);
                    if fp == 0 || fp & (WHITESPACE | word_bits | NUMBER) != 0 {
                        break;
                    }
                    pos += 1;
                }
                while matches!(self.char_at(pos), '\r' | '\n') {
                    pos += 1;
                }
                out.push(pos - start);
                continue;
            }
            pos = self.whitespace_end(pos, true).unwrap_or(pos + 1);
            out.push(pos - start);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(pre: &str, text: &str) -> Vec<String> {
        let config = pre_config(Some(pre)).unwrap();
        let pre = PreTokenizer::new(&config).unwrap();
        pre.split(text)
            .unwrap()
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn every_supported_pattern_compiles() {
        for name in [
            "default",
            "llama-bpe",
            "dbrx",
            "chatglm-bpe",
            "deepseek-llm",
            "deepseek-coder",
            "deepseek-v3",
            "falcon",
            "starcoder",
            "smollm",
            "gpt-2",
            "trillion",
            "qwen2",
            "stablelm2",
            "qwen35",
            "seed-coder",
            "bailingmoe",
            "gpt-4o",
            "tekken",
            "poro-chat",
            "bloom",
            "viking",
            "command-r",
        ] {
            let config = pre_config(Some(name)).unwrap();
            PreTokenizer::new(&config).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn unknown_pre_tokenizer_is_named() {
        let err = pre_config(Some("martian")).unwrap_err();
        assert!(err.to_string().contains("martian"));
    }

    #[test]
    fn gpt2_splits_words_numbers_and_spaces() {
        assert_eq!(
            split("gpt-2", "Hello world's  123 !!\n\n x"),
            ["Hello", " world", "'s", " ", " 123", " !!", "\n\n", " x"]
        );
        assert_eq!(split("gpt-2", "   "), ["   "]);
        assert_eq!(split("gpt-2", "a   "), ["a", "   "]);
    }

    #[test]
    fn llama3_groups_digits_by_three_and_newlines() {
        assert_eq!(split("llama-bpe", "1234567"), ["123", "456", "7"]);
        assert_eq!(
            split("llama-bpe", "I'M here\n\n  x"),
            ["I", "'M", " here", "\n\n", " ", " x"]
        );
        assert_eq!(split("llama-bpe", "a!?\n\nb"), ["a", "!?\n\n", "b"]);
    }

    #[test]
    fn qwen2_regex_matches_llama3_except_digits() {
        assert_eq!(
            split("qwen2", "1234 I'M here\n\n  x"),
            ["1", "2", "3", "4", " I", "'M", " here", "\n\n", " ", " x"]
        );
        assert_eq!(split("qwen2", "привет, мир"), ["привет", ",", " мир"]);
        // non-ASCII whitespace behaves as \s
        assert_eq!(split("qwen2", "a\u{3000}b"), ["a", "\u{3000}b"]);
    }

    #[test]
    fn smollm_splits_digits_then_gpt2() {
        assert_eq!(
            split("smollm", "abc 123x"),
            ["abc", " ", "1", "2", "3", "x"]
        );
    }

    #[test]
    fn collapsed_pattern_rewrites_categories() {
        assert_eq!(collapse_pattern(r"\p{N}+"), "[\u{E0D1}0-9]+");
        assert_eq!(collapse_pattern(r"[^\s\p{L}]"), "[^\\s\u{E0D2}A-Za-z]");
    }
}
