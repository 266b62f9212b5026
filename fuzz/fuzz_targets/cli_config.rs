//! The CLI's `config.toml` (profiles): the very module the binary compiles.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code, unreachable_pub)]
#[path = "../../crates/authflow-cli/src/config_format.rs"]
mod config_format;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match config_format::Config::parse(text) {
        Ok(c) => {
            // `authflow profile add` writes back what it read: that must read again.
            let out = toml::to_string_pretty(&c).expect("a parsed config encodes");
            let back = config_format::Config::parse(&out);
            assert!(back.as_ref() == Ok(&c), "{out:?} reads back as {back:?}");
            let _ = c.profile("default");
        }
        Err(e) => assert!(e.starts_with(" line ") || e.starts_with(' ')),
    }
});
