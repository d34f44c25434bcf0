//! Prints the logits of a few tokens after each prefix of a raw prompt
//! (debugging aid for comparisons with llama.cpp).
use edgellm_engine::{LoadedModel, Session};
use std::sync::Arc;
fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("model path");
    let prompt = args.next().expect("prompt");
    let m = LoadedModel::load(std::path::Path::new(&path)).unwrap();
    let ids = m.tokenizer.encode(&prompt, true, true).unwrap();
    let mut s = Session::new(Arc::clone(&m.model), 512, 1, 512).unwrap();
    for n in 1..=ids.len() {
        s.clear();
        s.feed(&ids[..n]).unwrap();
        let l = s.logits();
        println!("{n} {:.4} {:.4} {:.4}", l[0], l[100], l[1000]);
    }
}
