//! Crash safety of `FileStore::save_blocking` itself: a writer process that does nothing but
//! save is SIGKILLed at random points, so the kills land inside the write, the fsync and the
//! rename. After every kill the store must load, and hold the newest set the writer
//! confirmed or the one it was writing, never an older one, a mix, or nothing.
//!
//! (crates/authflow-cli/tests/session_processes.rs kills whole `authflow token` processes
//! around a refresh, where the save is a small part of the time; this one aims at the save.)

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use authflow::session::{FileStore, TokenSet};
use authflow::types::{AccessToken, RefreshToken};

const WRITER_ENV: &str = "AUTHFLOW_TEST_STORE_WRITER";

fn set(n: u64) -> TokenSet {
    TokenSet::new(AccessToken::new(format!("at-{n}")).unwrap())
        .with_refresh_token(Some(RefreshToken::new(format!("rt-{n}")).unwrap()))
}

fn generation(s: &TokenSet) -> u64 {
    let rt = s.refresh_token.as_ref().unwrap().secret();
    let n: u64 = rt.strip_prefix("rt-").unwrap().parse().unwrap();
    assert_eq!(s.access_token.secret(), format!("at-{n}"), "a mixed set");
    n
}

/// The writer, when this test binary is started with WRITER_ENV: continues from what is
/// stored, saves generation after generation, and prints each one once `save` returned.
#[test]
fn store_writer_child() {
    let Some(path) = std::env::var_os(WRITER_ENV) else {
        return;
    };
    let store = FileStore::new(PathBuf::from(path));
    let mut n = store
        .load_blocking()
        .unwrap()
        .map_or(0, |s| generation(&s) + 1);
    let mut out = std::io::stdout().lock();
    loop {
        store.save_blocking(&set(n)).unwrap();
        writeln!(out, "{n}").unwrap();
        out.flush().unwrap();
        n += 1;
    }
}

fn jitter(i: u64, max_us: u64) -> Duration {
    let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(23);
    Duration::from_micros(x % max_us)
}

#[test]
fn sigkill_during_saves_leaves_the_newest_confirmed_set_or_the_next() {
    let dir = std::env::temp_dir().join(format!("authflow-store-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("tokens").join("default.json");
    let store = FileStore::new(&path);
    store.save_blocking(&set(0)).unwrap();
    let exe = std::env::current_exe().unwrap();
    let started = Instant::now();
    let (mut mid_flight, mut confirmed_kept) = (0, 0);
    let mut last = 0;
    for i in 0..150u64 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "store_writer_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(WRITER_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Let it get going (the first save confirms), then kill at a random point.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // (libtest prints its own lines first.)
        let mut confirmed: Option<u64> = None;
        for l in lines.by_ref() {
            if let Ok(n) = l.unwrap().trim().parse() {
                confirmed = Some(n);
                break;
            }
        }
        std::thread::sleep(jitter(i, 20_000));
        child.kill().unwrap();
        child.wait().unwrap();
        for l in lines {
            if let Ok(n) = l.unwrap_or_default().trim().parse() {
                confirmed = Some(n);
            }
        }
        let confirmed = confirmed.unwrap_or(last);
        let stored = store
            .load_blocking()
            .unwrap_or_else(|e| panic!("kill {i}: the store does not load: {e}"))
            .unwrap_or_else(|| panic!("kill {i}: the store is gone"));
        let n = generation(&stored);
        assert!(
            n == confirmed || n == confirmed + 1,
            "kill {i}: stored generation {n}, but {confirmed} was confirmed"
        );
        if n == confirmed {
            confirmed_kept += 1;
        } else {
            mid_flight += 1;
        }
        last = n;
    }
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let leftovers = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        })
        .count();
    eprintln!(
        "150 kills in {:?}: the set being written had landed {mid_flight} times, the last \
         confirmed one was kept {confirmed_kept} times; generations written: {last}; \
         temporary files left by killed writers: {leftovers}",
        started.elapsed()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
