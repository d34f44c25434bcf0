//! `edgellm rm`: delete models (and the blobs no other model uses).

use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct RmArgs {
    #[arg(required = true)]
    pub models: Vec<String>,
}

pub fn run(a: RmArgs) -> Result<()> {
    let store = edgellm_store::Store::open_default()?;
    for name in &a.models {
        store.delete(name)?;
        println!("deleted '{name}'");
    }
    Ok(())
}
