//! The Modelfile parser: Ollama's syntax, one instruction per line (`FROM`, `PARAMETER`,
//! `SYSTEM`, `TEMPLATE`, `ADAPTER`, `LICENSE`, `MESSAGE`), case-insensitive keywords, `#`
//! comments, and arguments that are a bare rest of line, a `"quoted"` string, or a
//! `"""triple-quoted"""` string spanning lines. Every error names the line.

use crate::error::{Result, StoreError};
use crate::params;

/// Longest Modelfile accepted (templates and licenses are text; 4 MiB is generous).
pub const MODELFILE_BYTES_MAX: usize = 4 << 20;

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// A catalog name, a model in the store or the Ollama directory, a path to a `.gguf`
    /// file, or `@sha256:<hex>` naming an uploaded blob.
    From(String),
    Parameter {
        name: String,
        value: String,
    },
    System(String),
    Template(String),
    /// A path to a GGUF LoRA adapter, or `@sha256:<hex>`.
    Adapter(String),
    License(String),
    Message {
        role: String,
        content: String,
    },
}

/// An instruction and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub line: usize,
    pub instruction: Instruction,
}

/// A parsed Modelfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modelfile {
    pub commands: Vec<Command>,
}

/// Message roles a `MESSAGE` may use.
const ROLES: &[&str] = &["system", "user", "assistant", "tool"];

impl Modelfile {
    /// Parse and check a Modelfile: exactly one `FROM`, known parameter names with values of
    /// the right type, known message roles.
    pub fn parse(text: &str) -> Result<Modelfile> {
        let err = |line: usize, reason: String| StoreError::Modelfile { line, reason };
        if text.len() > MODELFILE_BYTES_MAX {
            return Err(err(0, format!("larger than {MODELFILE_BYTES_MAX} bytes")));
        }
        let lines: Vec<&str> = text.lines().collect();
        let mut commands = Vec::new();
        let mut i = 0;
        let mut from_line = None;
        while i < lines.len() {
            let line_no = i + 1;
            let line = lines[i].trim();
            i += 1;
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (keyword, rest) = match line.find(char::is_whitespace) {
                Some(at) => (&line[..at], line[at..].trim_start()),
                None => (line, ""),
            };
            let keyword = keyword.to_ascii_uppercase();
            // The argument: triple-quoted (maybe over several lines), quoted, or bare.
            let arg = if let Some(after) = rest.strip_prefix("\"\"\"") {
                if let Some(end) = after.find("\"\"\"") {
                    check_trailing(&after[end + 3..], line_no)?;
                    after[..end].to_string()
                } else {
                    let mut text = after.to_string();
                    loop {
                        let Some(next) = lines.get(i) else {
                            return Err(err(
                                line_no,
                                "unterminated \"\"\" string (no closing \"\"\")".into(),
                            ));
                        };
                        i += 1;
                        text.push('\n');
                        if let Some(end) = next.find("\"\"\"") {
                            text.push_str(&next[..end]);
                            check_trailing(&next[end + 3..], i)?;
                            break;
                        }
                        text.push_str(next);
                    }
                    text
                }
            } else {
                rest.to_string()
            };
            let instruction = match keyword.as_str() {
                "FROM" => {
                    if let Some(first) = from_line {
                        return Err(err(
                            line_no,
                            format!("a second FROM (the first is on line {first})"),
                        ));
                    }
                    from_line = Some(line_no);
                    Instruction::From(required(unquote(&arg), "FROM", line_no)?)
                }
                "PARAMETER" => {
                    let (name, value) = match arg.split_once(char::is_whitespace) {
                        Some((name, value)) => (name.to_ascii_lowercase(), value.trim()),
                        None => {
                            return Err(err(line_no, "PARAMETER needs a name and a value".into()))
                        }
                    };
                    // Type-check now, so the error points here.
                    params::set_param(&mut serde_json::Map::new(), &name, value)
                        .map_err(|reason| err(line_no, reason))?;
                    Instruction::Parameter {
                        name,
                        value: unquote(value).to_string(),
                    }
                }
                "SYSTEM" => Instruction::System(unquote_single(&arg, rest)),
                "TEMPLATE" => Instruction::Template(unquote_single(&arg, rest)),
                "LICENSE" => Instruction::License(unquote_single(&arg, rest)),
                "ADAPTER" => Instruction::Adapter(required(unquote(&arg), "ADAPTER", line_no)?),
                "MESSAGE" => {
                    let (role, content) = match rest.split_once(char::is_whitespace) {
                        Some((role, content)) => (role.to_ascii_lowercase(), content.trim()),
                        None => {
                            return Err(err(line_no, "MESSAGE needs a role and a message".into()))
                        }
                    };
                    if !ROLES.contains(&role.as_str()) {
                        return Err(err(
                            line_no,
                            format!("unknown MESSAGE role {role:?} (use {})", ROLES.join(", ")),
                        ));
                    }
                    // A triple-quoted message: re-read from the raw argument.
                    let content = if content.starts_with("\"\"\"") {
                        multi_line_content(&lines, line_no, &mut i)?
                    } else {
                        unquote(content).to_string()
                    };
                    Instruction::Message { role, content }
                }
                other => {
                    return Err(err(
                        line_no,
                        format!(
                            "unknown instruction {other:?} (use FROM, PARAMETER, SYSTEM, \
                             TEMPLATE, ADAPTER, LICENSE or MESSAGE)"
                        ),
                    ))
                }
            };
            commands.push(Command {
                line: line_no,
                instruction,
            });
        }
        if from_line.is_none() {
            return Err(err(
                0,
                "no FROM line: a Modelfile must name its model".into(),
            ));
        }
        Ok(Modelfile { commands })
    }

    /// The first `FROM` argument and its line.
    pub fn from(&self) -> Option<(&str, usize)> {
        self.commands.iter().find_map(|c| match &c.instruction {
            Instruction::From(f) => Some((f.as_str(), c.line)),
            _ => None,
        })
    }
}

/// `MESSAGE role """...` with the content over several lines. `i` is the index of the line
/// after the MESSAGE line on entry, and after the closing line on return.
fn multi_line_content(lines: &[&str], line_no: usize, i: &mut usize) -> Result<String> {
    let first = lines[line_no - 1];
    let start = first.find("\"\"\"").expect("caller saw the quotes") + 3;
    let after = &first[start..];
    // The triple-quote parser above consumed continuation lines only for the instruction's
    // first argument; for MESSAGE the quotes follow the role, so redo it here.
    if let Some(end) = after.find("\"\"\"") {
        return Ok(after[..end].to_string());
    }
    let mut text = after.to_string();
    *i = line_no;
    loop {
        let Some(next) = lines.get(*i) else {
            return Err(StoreError::Modelfile {
                line: line_no,
                reason: "unterminated \"\"\" string (no closing \"\"\")".into(),
            });
        };
        *i += 1;
        text.push('\n');
        if let Some(end) = next.find("\"\"\"") {
            text.push_str(&next[..end]);
            return Ok(text);
        }
        text.push_str(next);
    }
}

fn check_trailing(rest: &str, line_no: usize) -> Result<()> {
    if rest.trim().is_empty() {
        Ok(())
    } else {
        Err(StoreError::Modelfile {
            line: line_no,
            reason: format!(
                "unexpected text after the closing \"\"\": {:?}",
                rest.trim()
            ),
        })
    }
}

fn required(arg: &str, what: &str, line_no: usize) -> Result<String> {
    if arg.trim().is_empty() {
        Err(StoreError::Modelfile {
            line: line_no,
            reason: format!("{what} needs an argument"),
        })
    } else {
        Ok(arg.trim().to_string())
    }
}

/// A single-line argument in plain double quotes loses them; triple-quoted text is kept.
fn unquote_single(arg: &str, raw: &str) -> String {
    if raw.starts_with("\"\"\"") {
        arg.to_string()
    } else {
        unquote(arg).to_string()
    }
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    if s.len() >= 2 {
        if let Some(inner) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            return inner;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_instruction() {
        let text = r#"# a comment
FROM smollm2:135m
parameter temperature 0.2
PARAMETER stop "<|im_end|>"
PARAMETER stop User:
SYSTEM You are terse.
TEMPLATE """{{ .System }}
{{ .Prompt }}"""
ADAPTER ./lora.gguf
LICENSE """MIT
line two
"""
MESSAGE user "Is Toronto in Canada?"
MESSAGE assistant """yes,
it is"""
"#;
        let mf = Modelfile::parse(text).unwrap();
        assert_eq!(mf.from(), Some(("smollm2:135m", 2)));
        let got: Vec<(usize, Instruction)> = mf
            .commands
            .into_iter()
            .map(|c| (c.line, c.instruction))
            .collect();
        use Instruction::*;
        assert_eq!(
            got,
            vec![
                (2, From("smollm2:135m".into())),
                (
                    3,
                    Parameter {
                        name: "temperature".into(),
                        value: "0.2".into()
                    }
                ),
                (
                    4,
                    Parameter {
                        name: "stop".into(),
                        value: "<|im_end|>".into()
                    }
                ),
                (
                    5,
                    Parameter {
                        name: "stop".into(),
                        value: "User:".into()
                    }
                ),
                (6, System("You are terse.".into())),
                (7, Template("{{ .System }}\n{{ .Prompt }}".into())),
                (9, Adapter("./lora.gguf".into())),
                (10, License("MIT\nline two\n".into())),
                (
                    13,
                    Message {
                        role: "user".into(),
                        content: "Is Toronto in Canada?".into()
                    }
                ),
                (
                    14,
                    Message {
                        role: "assistant".into(),
                        content: "yes,\nit is".into()
                    }
                ),
            ]
        );
    }

    #[test]
    fn errors_name_the_line() {
        for (text, line, needle) in [
            ("FROM x\nPARAMETER tempature 1\n", 2, "unknown parameter"),
            ("FROM x\n\nPARAMETER num_ctx lots\n", 3, "num_ctx"),
            ("FROM x\nFROM y\n", 2, "second FROM"),
            (
                "FROM x\nSYSTEM \"\"\"never closed\nmore\n",
                2,
                "unterminated",
            ),
            ("FROM x\nMESSAGE robot hi\n", 2, "role"),
            ("FROM x\nMESSAGE user\n", 2, "role and a message"),
            ("FROM x\nRUN rm -rf /\n", 2, "unknown instruction"),
            ("FROM\n", 1, "needs an argument"),
            ("FROM x\nPARAMETER stop\n", 2, "name and a value"),
            ("# nothing\n", 0, "no FROM"),
            (
                "FROM x\nSYSTEM \"\"\"a\"\"\" trailing\n",
                2,
                "after the closing",
            ),
        ] {
            match Modelfile::parse(text) {
                Err(StoreError::Modelfile { line: got, reason }) => {
                    assert_eq!(got, line, "{text:?}: {reason}");
                    assert!(reason.contains(needle), "{text:?}: {reason}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
