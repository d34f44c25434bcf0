//! `edgellm show`: a model's details, parameters, template, system message and license.

use anyhow::Result;
use clap::Args;
use serde_json::Value;

#[derive(Args, Debug)]
pub struct ShowArgs {
    pub model: String,
    /// Print the Modelfile.
    #[arg(long)]
    pub modelfile: bool,
    /// Print the parameters.
    #[arg(long)]
    pub parameters: bool,
    /// Print the template.
    #[arg(long)]
    pub template: bool,
    /// Print the system message.
    #[arg(long)]
    pub system: bool,
    /// Print the license.
    #[arg(long)]
    pub license: bool,
    /// Also print the GGUF metadata.
    #[arg(short, long)]
    pub verbose: bool,
}

pub fn run(a: ShowArgs) -> Result<()> {
    let store = edgellm_store::Store::open_default()?;
    let show = store.show(&a.model, a.verbose)?;
    let only = [
        (a.modelfile, &show.modelfile),
        (a.parameters, &show.parameters),
        (a.template, &show.template),
        (a.system, &show.system),
        (a.license, &show.license),
    ];
    if let Some((_, text)) = only.iter().find(|(wanted, _)| *wanted) {
        println!("{}", text.trim_end());
        return Ok(());
    }

    let info = &show.model_info;
    let arch = info
        .get("general.architecture")
        .and_then(Value::as_str)
        .unwrap_or("");
    let key = |k: &str| info.get(&format!("{arch}.{k}")).map(|v| v.to_string());
    println!("  Model");
    let mut rows = vec![
        ("architecture", arch.to_string()),
        ("parameters", show.details.parameter_size.clone()),
    ];
    rows.extend(key("context_length").map(|v| ("context length", v)));
    rows.extend(key("embedding_length").map(|v| ("embedding length", v)));
    rows.push(("quantization", show.details.quantization_level.clone()));
    for (k, v) in rows {
        println!("    {k:<20}{v}");
    }
    println!();
    println!("  Capabilities");
    for c in &show.capabilities {
        println!("    {c}");
    }
    println!();
    if !show.parameters.is_empty() {
        println!("  Parameters");
        for line in show.parameters.lines() {
            let (k, v) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            println!("    {k:<20}{}", v.trim());
        }
        println!();
    }
    for (title, text) in [("System", &show.system), ("License", &show.license)] {
        if !text.trim().is_empty() {
            println!("  {title}");
            for line in text
                .trim()
                .lines()
                .take(if title == "License" { 2 } else { 20 })
            {
                println!("    {line}");
            }
            println!();
        }
    }
    if a.verbose {
        println!("  Metadata");
        for (k, v) in info {
            let text = match v {
                Value::Array(items) => format!("[{} items]", items.len()),
                Value::String(s) if s.chars().count() > 60 => {
                    format!("{:?}…", s.chars().take(60).collect::<String>())
                }
                other => other.to_string(),
            };
            println!("    {k:<40}{text}");
        }
        println!();
    }
    Ok(())
}
