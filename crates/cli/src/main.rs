//! The `edgellm` command line.

mod cmd;
mod progress;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "edgellm",
    version,
    about = "Run language models on the machine in front of you"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Chat with a model, or answer one prompt.
    Run(cmd::run::RunArgs),
    /// Download a model into the store.
    Pull(cmd::pull::PullArgs),
    /// List the models in the store (and the Ollama directory).
    #[command(alias = "ls")]
    List(cmd::list::ListArgs),
    /// Show a model's details, parameters, template, system message or license.
    Show(cmd::show::ShowArgs),
    /// Remove models.
    Rm(cmd::rm::RmArgs),
    /// Copy a model to a new name.
    Cp(cmd::cp::CpArgs),
    /// Create a model from a Modelfile.
    Create(cmd::create::CreateArgs),
    /// Print the token ids of a text.
    Tokenize(cmd::tokenize::TokenizeArgs),
    /// Show a GGUF file's metadata and tensor table.
    Inspect(cmd::inspect::InspectArgs),
    /// Measure prompt processing and generation speed (like llama-bench).
    Bench(cmd::bench::BenchArgs),
    /// Serve Ollama's and OpenAI's HTTP APIs (default 127.0.0.1:11434).
    Serve(cmd::serve::ServeArgs),
    /// List the models a running server has loaded.
    Ps(cmd::ps::PsArgs),
    /// The character-level GRU "robot writer": train, generate, info.
    Charrnn(cmd::charrnn::CharrnnArgs),
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("EDGELLM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(a) => cmd::run::run(a),
        Command::Pull(a) => cmd::pull::run(a),
        Command::List(a) => cmd::list::run(a),
        Command::Show(a) => cmd::show::run(a),
        Command::Rm(a) => cmd::rm::run(a),
        Command::Cp(a) => cmd::cp::run(a),
        Command::Create(a) => cmd::create::run(a),
        Command::Tokenize(a) => cmd::tokenize::run(a),
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Charrnn(a) => cmd::charrnn::run(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Ps(a) => cmd::ps::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
