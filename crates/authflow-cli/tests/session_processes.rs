//! Issue 6 acceptance across processes: many `authflow token` processes on one expired
//! profile, and processes SIGKILLed during refresh. The provider runs in this test process
//! (rotation and reuse detection on, as by default) behind a test-only layer that counts
//! refresh requests and can hold each one until the test says whether it goes through.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod skip;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use authflow::session::{FileStore, TokenSet};
use authflow::types::IssuerUrl;
use authflow_provider::Provider;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// What the layer in front of the provider saw and does with refresh requests.
#[derive(Default)]
struct Gate {
    /// Refresh requests that reached the layer.
    arrived: AtomicUsize,
    /// Refresh requests the provider answered with 200.
    refreshed: AtomicUsize,
    /// Refresh requests inside the layer (waiting or being handled).
    in_flight: AtomicUsize,
    /// Refresh requests whose handling the server dropped (the client went away).
    cancelled: AtomicUsize,
    /// When set, each refresh request waits for a verdict: forward it or drop it.
    hold: AtomicBool,
    /// Verdicts by arrival number (1-based): `true` forwards to the provider.
    verdicts: Mutex<HashMap<usize, bool>>,
}

impl Gate {
    fn decide(&self, n: usize, forward: bool) {
        self.verdicts.lock().unwrap().insert(n, forward);
    }

    /// Waits until no refresh request is inside the layer.
    fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.in_flight.load(Ordering::SeqCst) != 0 {
            assert!(
                Instant::now() < deadline,
                "a refresh request never finished"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    fn wait_for(&self, counter: &AtomicUsize, value: usize, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while counter.load(Ordering::SeqCst) < value {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        true
    }
}

struct InFlight(Arc<Gate>, bool);

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.1 {
            self.0.cancelled.fetch_add(1, Ordering::SeqCst);
        }
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn gate_layer(gate: Arc<Gate>, req: Request, next: Next) -> Response {
    if req.method() != http::Method::POST || req.uri().path() != "/token" {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return http::StatusCode::BAD_REQUEST.into_response();
    };
    let refresh =
        url::form_urlencoded::parse(&bytes).any(|(k, v)| k == "grant_type" && v == "refresh_token");
    let req = Request::from_parts(parts, Body::from(bytes));
    if !refresh {
        return next.run(req).await;
    }
    gate.in_flight.fetch_add(1, Ordering::SeqCst);
    let mut in_flight = InFlight(gate.clone(), false);
    let n = gate.arrived.fetch_add(1, Ordering::SeqCst) + 1;
    if gate.hold.load(Ordering::SeqCst) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let forward = loop {
            if let Some(v) = gate.verdicts.lock().unwrap().remove(&n) {
                break v;
            }
            if Instant::now() > deadline {
                break false;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        if !forward {
            // As if the network lost it: the authorization server never sees it.
            in_flight.1 = true;
            return http::StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    let resp = next.run(req).await;
    in_flight.1 = true;
    if resp.status().is_success() {
        gate.refreshed.fetch_add(1, Ordering::SeqCst);
    }
    resp
}

/// Starts the provider (long-lived access tokens) on its own thread and runtime.
fn provider() -> (String, Arc<Gate>) {
    let gate = Arc::new(Gate::default());
    let (tx, rx) = std::sync::mpsc::channel();
    let g = gate.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let issuer = format!("http://{}", listener.local_addr().unwrap());
            let provider = Provider::builder()
                .demo()
                .issuer(IssuerUrl::new(&issuer).unwrap())
                .auto_approve(Some("alice".into()))
                .access_token_ttl(Duration::from_secs(3600))
                .build()
                .unwrap();
            let router = provider.router().layer(axum::middleware::from_fn(
                move |req: Request, next: Next| gate_layer(g.clone(), req, next),
            ));
            tx.send(issuer).unwrap();
            axum::serve(listener, router).await.unwrap();
        });
    });
    (rx.recv().unwrap(), gate)
}

/// A fresh AUTHFLOW_HOME and a `$BROWSER` script that follows the redirects with curl.
struct Env {
    home: PathBuf,
    browser: PathBuf,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Env {
    fn new() -> Option<Self> {
        if Command::new("curl")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            skip::skip(
                "curl",
                "curl is not installed (scripts/install-test-tools installs it)",
            );
            return None;
        }
        let home = std::env::temp_dir().join(format!(
            "authflow-proc-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&home).unwrap();
        let browser = home.join("browser.sh");
        std::fs::write(
            &browser,
            "#!/bin/sh\nexec curl -fsS -L --max-redirs 10 -o /dev/null \"$1\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
        Some(Self { home, browser })
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_authflow"));
        c.args(args)
            .env("AUTHFLOW_HOME", &self.home)
            .env("BROWSER", &self.browser)
            .env("NO_COLOR", "1")
            .env_remove("AUTHFLOW_CLIENT_SECRET")
            .env_remove("AUTHFLOW_PROFILE")
            .env_remove("AUTHFLOW_LOG")
            .stdin(Stdio::null());
        c
    }

    fn store(&self) -> FileStore {
        FileStore::new(self.home.join("tokens").join("default.json"))
    }

    fn login(&self, issuer: &str) {
        ok(&self
            .cmd(&[
                "login",
                "--issuer",
                issuer,
                "--client-id",
                "authflow-cli",
                "--scope",
                "api:read offline_access",
                "--timeout",
                "30s",
            ])
            .output()
            .unwrap());
    }

    /// Makes the stored access token look expired to the client (the server still
    /// accepts it); the refresh token is untouched.
    fn expire(&self) -> TokenSet {
        let store = self.store();
        let set = store
            .load_blocking()
            .unwrap()
            .unwrap()
            .with_expiry(Some(SystemTime::now() - Duration::from_secs(60)));
        store.save_blocking(&set).unwrap();
        set
    }

    /// Temporary files that killed writers left in the token directory.
    fn leftovers(&self) -> usize {
        std::fs::read_dir(self.home.join("tokens"))
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .count()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

/// The status of GET /api/me with `token`.
fn me_status(issuer: &str, token: &str) -> u16 {
    let o = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(format!("{issuer}/api/me"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).parse().unwrap_or(0)
}

#[test]
fn thirty_two_token_processes_on_an_expired_profile_cause_one_refresh() {
    let Some(env) = Env::new() else { return };
    let (issuer, gate) = provider();
    env.login(&issuer);
    let before = env.expire();

    let started = Instant::now();
    let children: Vec<_> = (0..32)
        .map(|_| {
            env.cmd(&["token"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let printed: Vec<String> = children
        .into_iter()
        .map(|c| ok(&c.wait_with_output().unwrap()))
        .collect();
    eprintln!("32 processes done in {:?}", started.elapsed());

    assert_eq!(
        gate.arrived.load(Ordering::SeqCst),
        1,
        "refresh requests at the provider"
    );
    assert_eq!(gate.refreshed.load(Ordering::SeqCst), 1);
    let first = &printed[0];
    assert_ne!(
        first,
        before.access_token.secret(),
        "the token was refreshed"
    );
    assert!(
        printed.iter().all(|t| t == first),
        "every process printed the new token"
    );
    assert_eq!(me_status(&issuer, first), 200, "the printed token is valid");

    // The grant is not revoked: the stored (rotated) refresh token still works.
    let stored = env.store().load_blocking().unwrap().unwrap();
    assert_ne!(
        stored.refresh_token, before.refresh_token,
        "the rotation was saved"
    );
    ok(&env.cmd(&["refresh"]).output().unwrap());
    assert_eq!(gate.refreshed.load(Ordering::SeqCst), 2);
    let after = ok(&env.cmd(&["token"]).output().unwrap());
    assert_eq!(me_status(&issuer, &after), 200);
}

/// A small deterministic sequence of jitters (no rand dependency).
fn jitter(i: usize, max_us: u64) -> Duration {
    let x = (i as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17);
    Duration::from_micros(x % max_us.max(1))
}

/// Where a kill lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KillPoint {
    /// Soon after start: while loading config, discovering, or waiting for the lock.
    Early,
    /// While the refresh request is at the provider's door (the lock is held).
    InFlight,
    /// Right after the provider rotated the grant: while the answer is read and saved.
    Saving,
}

#[test]
fn killing_token_processes_during_refresh_never_corrupts_the_store() {
    let Some(env) = Env::new() else { return };
    let (issuer, gate) = provider();
    env.login(&issuer);
    gate.hold.store(true, Ordering::SeqCst);
    let mut current = env.expire();
    let started = Instant::now();
    let mut counts: HashMap<&str, usize> = HashMap::new();

    for i in 0..200 {
        let point = match i % 6 {
            0 | 1 => KillPoint::Early,
            2..=4 => KillPoint::InFlight,
            _ => KillPoint::Saving,
        };
        let arrived = gate.arrived.load(Ordering::SeqCst);
        let refreshed = gate.refreshed.load(Ordering::SeqCst);
        let mut child = env
            .cmd(&["token"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        match point {
            KillPoint::Early => {
                std::thread::sleep(jitter(i, 15_000));
            }
            KillPoint::InFlight => {
                assert!(
                    gate.wait_for(&gate.arrived, arrived + 1, Duration::from_secs(10)),
                    "iteration {i}: no refresh request arrived"
                );
                std::thread::sleep(jitter(i, 2_000));
            }
            KillPoint::Saving => {
                assert!(gate.wait_for(&gate.arrived, arrived + 1, Duration::from_secs(10)));
                gate.decide(arrived + 1, true);
                assert!(gate.wait_for(&gate.refreshed, refreshed + 1, Duration::from_secs(10)));
                std::thread::sleep(jitter(i, 4_000));
            }
        }
        let _ = child.kill();
        let status = child.wait().unwrap();
        if point == KillPoint::Early {
            // A request already in the server's socket buffer gets read now.
            std::thread::sleep(Duration::from_millis(3));
        }
        // A request the dead process left at the door never reaches the provider.
        if gate.arrived.load(Ordering::SeqCst) > arrived && point != KillPoint::Saving {
            gate.decide(arrived + 1, false);
        }
        gate.settle();

        // Whatever the moment, the store parses and holds a token set.
        let stored = env
            .store()
            .load_blocking()
            .unwrap_or_else(|e| panic!("iteration {i} ({point:?}): {e}"))
            .unwrap_or_else(|| panic!("iteration {i} ({point:?}): the store is empty"));
        let rotated = gate.refreshed.load(Ordering::SeqCst) > refreshed;
        let outcome = if !rotated {
            assert_eq!(stored.refresh_token, current.refresh_token, "iteration {i}");
            if status.success() {
                "finished before the kill"
            } else {
                "killed, nothing rotated"
            }
        } else if stored.refresh_token != current.refresh_token {
            // The new set was saved before the kill.
            "killed after saving the rotation"
        } else {
            // The provider rotated, the process died before its rename: the new refresh
            // token existed only in that process. No client can survive this with a
            // strictly rotating server; log in again and go on.
            env.login(&issuer);
            "killed between rotation and save (log in again)"
        };
        *counts.entry(outcome).or_default() += 1;
        current = env.expire();

        // Now and then, and at the end: a process left alone still refreshes.
        if i % 25 == 24 {
            let arrived = gate.arrived.load(Ordering::SeqCst);
            let child = env.cmd(&["token"]).stdout(Stdio::piped()).spawn().unwrap();
            assert!(gate.wait_for(&gate.arrived, arrived + 1, Duration::from_secs(10)));
            gate.decide(arrived + 1, true);
            let token = ok(&child.wait_with_output().unwrap());
            assert_ne!(token, current.access_token.secret());
            assert_eq!(me_status(&issuer, &token), 200, "iteration {i}");
            current = env.expire();
        }
    }
    eprintln!(
        "200 kills in {:?}; outcomes: {counts:#?}; held requests the server dropped when \
         their client died: {}; temporary files left by killed writers: {}",
        started.elapsed(),
        gate.cancelled.load(Ordering::SeqCst),
        env.leftovers()
    );
    assert!(
        counts.get("killed, nothing rotated").copied().unwrap_or(0) >= 100,
        "{counts:?}"
    );
}
