//! `edgellm inspect`: a GGUF file's metadata and tensor table.

use anyhow::{Context, Result};
use clap::Args;
use edgellm_gguf::{Array, GgufFile, Value};
use std::collections::BTreeMap;
use std::io::Write;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Path to a .gguf file (or a catalog name already pulled).
    pub file: String,
    /// Print whole arrays instead of their first elements.
    #[arg(long)]
    pub full: bool,
    /// Skip the tensor table.
    #[arg(long)]
    pub no_tensors: bool,
}

pub fn run(a: InspectArgs) -> Result<()> {
    let path = crate::progress::model_path(&a.file)?;
    let f = GgufFile::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "file:        {}", path.display())?;
    writeln!(
        out,
        "size:        {} bytes ({:.1} MiB)",
        f.file_size(),
        f.file_size() as f64 / (1 << 20) as f64
    )?;
    writeln!(out, "version:     {}", f.version())?;
    writeln!(out, "alignment:   {}", f.alignment())?;
    writeln!(out, "data offset: {}", f.data_offset())?;
    writeln!(out, "tensors:     {}", f.tensors().len())?;
    writeln!(out, "\nmetadata ({} keys):", f.metadata().len())?;
    for (k, v) in f.metadata() {
        writeln!(out, "  {k:<45} {}", show_value(v, a.full))?;
    }
    let n_params: u64 = f.tensors().iter().map(|t| t.n_elements).sum();
    let mut by_type: BTreeMap<String, (usize, u64, u64)> = BTreeMap::new();
    for t in f.tensors() {
        let e = by_type.entry(t.ggml_type.to_string()).or_default();
        e.0 += 1;
        e.1 += t.n_elements;
        e.2 += t.n_bytes;
    }
    writeln!(
        out,
        "\nparameters: {n_params} ({:.1}M)",
        n_params as f64 / 1e6
    )?;
    writeln!(out, "by type:")?;
    for (ty, (n, el, bytes)) in &by_type {
        writeln!(
            out,
            "  {ty:<6} {n:>5} tensors {el:>12} params {:>10.2} MiB  {:.3} bits/weight",
            *bytes as f64 / (1 << 20) as f64,
            *bytes as f64 * 8.0 / *el.max(&1) as f64
        )?;
    }
    if !a.no_tensors {
        writeln!(
            out,
            "\n{:<40} {:<6} {:<22} {:>12} {:>12}",
            "tensor", "type", "dims", "bytes", "offset"
        )?;
        for t in f.tensors() {
            let dims = format!("{:?}", t.dims);
            writeln!(
                out,
                "{:<40} {:<6} {:<22} {:>12} {:>12}",
                t.name,
                t.ggml_type.to_string(),
                dims,
                t.n_bytes,
                t.offset
            )?;
        }
    }
    Ok(())
}

fn show_value(v: &Value, full: bool) -> String {
    match v {
        Value::String(s) => {
            let s = if !full && s.chars().count() > 80 {
                format!(
                    "{}… ({} chars)",
                    s.chars().take(80).collect::<String>(),
                    s.chars().count()
                )
            } else {
                s.clone()
            };
            format!("{:?}", s)
        }
        Value::Array(a) => show_array(a, full),
        other => format!("{other:?}")
            .split_once('(')
            .map(|(_, r)| r.trim_end_matches(')').to_string())
            .unwrap_or_default(),
    }
}

fn show_array(a: &Array, full: bool) -> String {
    let n = a.len();
    let shown = if full { n } else { n.min(6) };
    let items: Vec<String> = match a {
        Array::String(v) => v[..shown].iter().map(|s| format!("{s:?}")).collect(),
        Array::F32(v) => v[..shown].iter().map(|x| x.to_string()).collect(),
        Array::I32(v) => v[..shown].iter().map(|x| x.to_string()).collect(),
        Array::U32(v) => v[..shown].iter().map(|x| x.to_string()).collect(),
        _ => Vec::new(),
    };
    let more = if shown < n { ", …" } else { "" };
    format!("[{}] {}[{}{more}]", a.type_name(), n, items.join(", "))
}
