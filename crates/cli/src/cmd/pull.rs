//! `edgellm pull`: fetch a catalog model into the store.

use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct PullArgs {
    /// A catalog name, e.g. smollm2:135m.
    pub model: String,
}

pub fn run(a: PullArgs) -> Result<()> {
    let store = edgellm_store::Store::open_default()?;
    let entry = edgellm_store::lookup(&a.model)?;
    let path = if store.is_present(entry) {
        eprintln!("{} is up to date", entry.name);
        store.blob_path(entry.sha256)
    } else {
        let path = store.ensure(entry, &mut crate::progress::Bars::default())?;
        eprintln!("success");
        path
    };
    // The file's path on stdout, for scripts.
    println!("{}", path.display());
    Ok(())
}
