//! `edgellm run`: one-shot answers and the chat REPL.

use crate::progress::resolve_model;
use anyhow::{bail, Context, Result};
use clap::Args;
use edgellm_engine::{default_threads, Generation, LoadedModel, Options, Session};
use edgellm_tokenizer::ChatMessage;
use std::io::{IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// A catalog name (e.g. smollm2:135m) or a path to a .gguf file.
    pub model: String,
    /// The prompt; without it, a chat opens (or stdin is read when it is not a terminal).
    pub prompt: Option<String>,
    /// Send the prompt as is, without the chat template; print only the continuation.
    #[arg(long)]
    pub raw: bool,
    /// System message.
    #[arg(long)]
    pub system: Option<String>,
    #[arg(long)]
    pub temperature: Option<f32>,
    #[arg(long)]
    pub top_k: Option<usize>,
    #[arg(long)]
    pub top_p: Option<f32>,
    #[arg(long)]
    pub min_p: Option<f32>,
    #[arg(long)]
    pub repeat_penalty: Option<f32>,
    #[arg(long)]
    pub repeat_last_n: Option<i64>,
    #[arg(long)]
    pub presence_penalty: Option<f32>,
    #[arg(long)]
    pub frequency_penalty: Option<f32>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Tokens to generate at most (-1: no limit).
    #[arg(short = 'n', long)]
    pub num_predict: Option<i64>,
    /// Context length (capped by the model's trained context).
    #[arg(long)]
    pub num_ctx: Option<usize>,
    /// Threads (default: all CPUs).
    #[arg(short = 't', long)]
    pub threads: Option<usize>,
    /// Stop string (repeatable).
    #[arg(long)]
    pub stop: Vec<String>,
    /// Print Ollama's timing statistics to stderr after each answer.
    #[arg(long)]
    pub verbose: bool,
}

impl RunArgs {
    /// The model's parameters (from its manifest) with the command line's on top.
    fn options(&self, model_params: &[(String, String)]) -> Result<Options> {
        let mut o = Options::default();
        for (name, value) in model_params {
            if let Err(e) = o.set(name, value) {
                tracing::warn!(%e, "ignoring the model's parameter");
            }
        }
        macro_rules! take {
            ($($f:ident),*) => {$( if let Some(v) = self.$f { o.$f = v; } )*};
        }
        take!(
            temperature,
            top_k,
            top_p,
            min_p,
            repeat_penalty,
            repeat_last_n,
            presence_penalty,
            frequency_penalty,
            num_predict,
            num_ctx
        );
        if self.seed.is_some() {
            o.seed = self.seed;
        }
        if self.threads.is_some() {
            o.num_thread = self.threads;
        }
        if !self.stop.is_empty() {
            o.stop = self.stop.clone();
        }
        o.validate()?;
        Ok(o)
    }
}

/// Set by Ctrl-C; the generate loop stops at the next token.
static CANCEL: AtomicBool = AtomicBool::new(false);

pub fn run(args: RunArgs) -> Result<()> {
    let model = resolve_model(&args.model)?;
    let opts = args.options(&edgellm_store::params::param_pairs(&model.params))?;
    if model.template.is_some() {
        tracing::info!("the model's TEMPLATE layer is not applied; using the GGUF chat template");
    }
    let path = model.model_path.clone();
    let loaded = LoadedModel::load(&path).with_context(|| format!("loading {}", path.display()))?;
    let threads = opts.num_thread.unwrap_or_else(default_threads);
    let session = Session::new(
        Arc::clone(&loaded.model),
        opts.num_ctx,
        threads,
        opts.num_batch,
    )?;
    let _ = ctrlc::set_handler(|| CANCEL.store(true, Ordering::SeqCst));

    let mut chat = Chat {
        loaded,
        session,
        opts,
        system: args.system.clone().or(model.system.clone()),
        messages: model
            .messages
            .iter()
            .map(|m| ChatMessage::new(m.role.clone(), m.content.clone()))
            .collect(),
        verbose: args.verbose,
        raw: args.raw,
        first_load: true,
    };
    let prompt = match args.prompt {
        Some(p) => Some(p),
        None if !std::io::stdin().is_terminal() => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            Some(s)
        }
        None => None,
    };
    match prompt {
        Some(p) => {
            chat.answer(&p)?;
            Ok(())
        }
        None => repl(&mut chat),
    }
}

struct Chat {
    loaded: LoadedModel,
    session: Session,
    opts: Options,
    system: Option<String>,
    messages: Vec<ChatMessage>,
    verbose: bool,
    raw: bool,
    /// The first answer reports the model's load time.
    first_load: bool,
}

impl Chat {
    /// Answers `input` (a user turn, or raw text), streaming to stdout.
    fn answer(&mut self, input: &str) -> Result<Generation> {
        let tok = Arc::clone(&self.loaded.tokenizer);
        let tokens = if self.raw {
            tok.encode(input, true, true)?
        } else {
            let mut msgs = Vec::with_capacity(self.messages.len() + 2);
            if let Some(s) = &self.system {
                msgs.push(ChatMessage::new("system", s.clone()));
            }
            msgs.extend(self.messages.iter().cloned());
            msgs.push(ChatMessage::new("user", input));
            let text = tok.render_chat(&msgs, true)?;
            tok.encode(&text, true, true)?
        };
        CANCEL.store(false, Ordering::SeqCst);
        let mut out = std::io::stdout().lock();
        let mut answer = String::new();
        let mut write_err = None;
        let generation =
            self.session
                .generate(&tok, &tokens, &self.opts, &CANCEL, &mut |text| {
                    answer.push_str(text);
                    if write_err.is_none() {
                        if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                            write_err = Some(e);
                        }
                    }
                })?;
        if let Some(e) = write_err {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                return Err(e.into());
            }
        }
        writeln!(out)?;
        if !self.raw && generation.done_reason != edgellm_engine::DoneReason::Cancelled {
            self.messages.push(ChatMessage::new("user", input));
            self.messages.push(ChatMessage::new("assistant", answer));
        }
        if self.verbose {
            let mut stats = generation.stats.clone();
            if self.first_load {
                stats.load_duration = self.loaded.load_duration;
                stats.total_duration += self.loaded.load_duration;
            }
            eprint!("\n{}", stats.summary());
        }
        self.first_load = false;
        Ok(generation)
    }

    fn show_info(&self) {
        let m = &self.loaded.model;
        let hp = &m.hp;
        let n_params: u64 = m.file.tensors().iter().map(|t| t.n_elements).sum();
        println!("  Model");
        println!("    architecture        {}", hp.arch);
        println!("    parameters          {:.1}M", n_params as f64 / 1e6);
        println!("    context length      {}", hp.n_ctx_train);
        println!("    embedding length    {}", hp.n_embd);
        println!("    layers              {}", hp.n_layer);
        println!("    heads / kv heads    {} / {}", hp.n_head, hp.n_head_kv);
        println!("    file                {}", self.loaded.path.display());
        println!();
        println!("  Session");
        println!("    num_ctx             {}", self.session.n_ctx());
        println!("    threads             {}", self.session.n_threads());
        println!(
            "    KV cache            {:.1} MiB",
            self.session.kv_bytes() as f64 / (1 << 20) as f64
        );
        println!("    tokens in context   {}", self.session.history().len());
        println!();
    }
}

const HELP: &str = "Available Commands:
  /set parameter NAME VALUE   Set a parameter (temperature, top_k, top_p, min_p, seed, num_predict, stop, ...)
  /set system TEXT            Set the system message
  /set verbose | quiet        Show or hide timing statistics
  /show info                  Show details for this model
  /clear                      Clear the session context
  /bye                        Exit
  /?, /help                   Help for a command

Use \"\"\" to begin a multi-line message.
";

fn repl(chat: &mut Chat) -> Result<()> {
    let mut rl = rustyline::DefaultEditor::new()?;
    loop {
        let line = match rl.readline(">>> ") {
            Ok(l) => l,
            Err(rustyline::error::ReadlineError::Interrupted) => {
                println!("Use Ctrl + d or /bye to exit.");
                continue;
            }
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let mut input = line.clone();
        if let Some(rest) = line.trim_start().strip_prefix("\"\"\"") {
            // Multi-line: until a line ending with """.
            let mut buf = String::from(rest);
            if let Some(done) = rest.strip_suffix("\"\"\"").filter(|_| !rest.is_empty()) {
                buf = done.to_string();
            } else {
                loop {
                    match rl.readline("... ") {
                        Ok(l) => {
                            if let Some(end) = l.strip_suffix("\"\"\"") {
                                buf.push('\n');
                                buf.push_str(end);
                                break;
                            }
                            buf.push('\n');
                            buf.push_str(&l);
                        }
                        Err(rustyline::error::ReadlineError::Interrupted) => {
                            buf.clear();
                            break;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            input = buf.trim_start_matches('\n').to_string();
        }
        let _ = rl.add_history_entry(line.as_str());
        let trimmed = input.trim();
        if trimmed.is_empty() {
            continue;
        }
        if trimmed.starts_with('/') && !line.trim_start().starts_with("\"\"\"") {
            match command(chat, trimmed) {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => eprintln!("Error: {e:#}"),
            }
            continue;
        }
        if let Err(e) = chat.answer(&input) {
            eprintln!("Error: {e:#}");
        }
        println!();
    }
    Ok(())
}

/// Handles a slash command; returns true to leave.
fn command(chat: &mut Chat, line: &str) -> Result<bool> {
    let mut words = line.split_whitespace();
    let cmd = words.next().unwrap_or("");
    match cmd {
        "/bye" | "/exit" => return Ok(true),
        "/?" | "/help" => print!("{HELP}"),
        "/clear" => {
            chat.messages.clear();
            chat.session.clear();
            println!("Cleared session context");
        }
        "/set" => match words.next() {
            Some("parameter") => {
                let (Some(name), Some(_)) = (words.next(), words.clone().next()) else {
                    bail!("usage: /set parameter NAME VALUE");
                };
                let value = words.collect::<Vec<_>>().join(" ");
                chat.opts.set(name, &value)?;
                if matches!(name, "num_ctx" | "num_thread" | "num_batch") {
                    // These shape the session: start a new one (the context is kept
                    // as messages and re-evaluated on the next turn).
                    let threads = chat.opts.num_thread.unwrap_or_else(default_threads);
                    chat.session = Session::new(
                        Arc::clone(&chat.loaded.model),
                        chat.opts.num_ctx,
                        threads,
                        chat.opts.num_batch,
                    )?;
                }
                println!("Set parameter '{name}' to '{value}'");
            }
            Some("system") => {
                let text = line
                    .splitn(3, char::is_whitespace)
                    .nth(2)
                    .unwrap_or("")
                    .trim();
                let text = text.trim_matches('"');
                chat.system = (!text.is_empty()).then(|| text.to_string());
                println!("Set system message.");
            }
            Some("verbose") => {
                chat.verbose = true;
                println!("Set 'verbose' mode.");
            }
            Some("quiet") => {
                chat.verbose = false;
                println!("Set 'quiet' mode.");
            }
            Some(other) => {
                bail!("unknown /set option '{other}' (parameter, system, verbose, quiet)")
            }
            None => bail!("usage: /set parameter NAME VALUE | system TEXT | verbose | quiet"),
        },
        "/show" => match words.next() {
            Some("info") => chat.show_info(),
            Some("parameters") => println!("{:#?}", chat.opts),
            Some("system") => println!(
                "{}",
                chat.system
                    .as_deref()
                    .unwrap_or("No system message was specified.")
            ),
            _ => bail!("usage: /show info | parameters | system"),
        },
        other => bail!("unknown command '{other}'. Type /? for help"),
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The store keeps its own copy of the engine's option names (it must not depend on the
    /// engine); this is where the two lists meet.
    #[test]
    fn store_parameter_list_matches_engine_options() {
        let engine: Vec<String> = match serde_json::to_value(Options::default()).unwrap() {
            serde_json::Value::Object(map) => map.keys().cloned().collect(),
            _ => unreachable!(),
        };
        let store: Vec<&str> = edgellm_store::params::PARAMETERS
            .iter()
            .map(|(n, _)| *n)
            .collect();
        for name in &engine {
            assert!(store.contains(&name.as_str()), "store lacks {name}");
        }
        for (name, kind) in edgellm_store::params::PARAMETERS {
            assert!(engine.iter().any(|e| e == name), "engine lacks {name}");
            let sample = match kind {
                edgellm_store::params::ParamKind::Float => "0.5",
                edgellm_store::params::ParamKind::StringList => "</s>",
                _ => "7",
            };
            Options::default().set(name, sample).unwrap();
        }
    }

    #[test]
    fn model_parameters_are_defaults_the_command_line_overrides() {
        let args = RunArgs {
            temperature: Some(0.1),
            ..RunArgs::parse_from_model("m")
        };
        let params = [
            ("temperature".to_string(), "0.7".to_string()),
            ("top_k".to_string(), "3".to_string()),
            ("stop".to_string(), "<|end|>".to_string()),
        ];
        let o = args.options(&params).unwrap();
        assert_eq!((o.temperature, o.top_k), (0.1, 3));
        assert_eq!(o.stop, ["<|end|>"]);
    }

    impl RunArgs {
        fn parse_from_model(model: &str) -> RunArgs {
            #[derive(clap::Parser)]
            struct P {
                #[command(flatten)]
                a: RunArgs,
            }
            <P as clap::Parser>::parse_from(["x", model]).a
        }
    }
}
