//! The token store file: `FileStore::load_blocking` on a real 0600 file in a 0700 directory.
#![no_main]

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::PathBuf;
use std::sync::OnceLock;

use authflow::session::{FileStore, StoreError, TokenSet};
use libfuzzer_sys::fuzz_target;

fn dir() -> &'static PathBuf {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("authflow-fuzz-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&d)
            .expect("temp dir");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    // The parse alone, as every store (file, Redis, keyring) does it.
    if let Ok(set) = serde_json::from_slice::<TokenSet>(data) {
        let _ = format!("{set:?}");
        let json = serde_json::to_vec(&set).expect("a TokenSet always encodes");
        let back: TokenSet = serde_json::from_slice(&json).expect("and decodes");
        assert!(back == set, "TokenSet JSON round trip changed the set");
    }

    // The file, as `authflow token` reads it. A corrupt file is moved aside: start clean.
    let d = dir();
    if let Ok(entries) = std::fs::read_dir(d) {
        for e in entries.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let path = d.join("default.json");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .expect("create the store file");
    file.write_all(data).expect("write");
    drop(file);
    let store = FileStore::new(&path);
    match store.load_blocking() {
        Ok(Some(set)) => {
            // A loaded set can be saved and loaded again unchanged.
            store.save_blocking(&set).expect("save");
            let again = store.load_blocking().expect("load").expect("present");
            assert!(again == set, "save/load changed the set");
        }
        Ok(None) => panic!("an existing file loaded as no tokens"),
        Err(StoreError::Corrupt { kept_as, .. }) => {
            assert!(kept_as.exists(), "a corrupt file was not kept aside");
            assert!(!path.exists(), "a corrupt file stayed in place");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
