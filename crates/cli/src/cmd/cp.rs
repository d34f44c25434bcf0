//! `edgellm cp`: give a model another name (no bytes are copied).

use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct CpArgs {
    pub source: String,
    pub destination: String,
}

pub fn run(a: CpArgs) -> Result<()> {
    let store = edgellm_store::Store::open_default()?;
    store.copy(&a.source, &a.destination)?;
    println!("copied '{}' to '{}'", a.source, a.destination);
    Ok(())
}
