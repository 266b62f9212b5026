//! Session speed: the cached `TokenSource::token()` path, alone and with 64 threads
//! reading at once, against a mutex-guarded cache (x/oauth2's `reuseTokenSource` design)
//! written in Rust as the baseline. (The authorized-request overhead has its own bench,
//! `authorized_overhead`.)
//!
//! `cargo bench -p authflow --bench session`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant, SystemTime};

use authflow::session::{TokenSet, TokenSource};
use authflow::types::AccessToken;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt as _;

fn valid_set() -> TokenSet {
    let mut s = TokenSet::new(AccessToken::new("cached-access-token").unwrap())
        .with_expiry(Some(SystemTime::now() + Duration::from_secs(3600)));
    s.obtained_at = Some(SystemTime::now());
    s
}

/// The baseline: a token cache behind a mutex, cloned out on every call.
struct MutexCache(Mutex<Arc<TokenSet>>);

impl MutexCache {
    fn token(&self) -> Arc<TokenSet> {
        let guard = self.0.lock().unwrap();
        if guard.needs_refresh(SystemTime::now(), Duration::from_secs(60)) {
            unreachable!("the benchmark token never expires")
        }
        guard.clone()
    }
}

/// Runs `f` `iters` times on each of `threads` threads at once; time per call.
fn contended(threads: usize, iters: u64, f: Arc<dyn Fn() + Send + Sync>) -> Duration {
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let b = barrier.clone();
            let f = f.clone();
            std::thread::spawn(move || {
                b.wait();
                for _ in 0..iters {
                    f();
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for h in handles {
        h.join().unwrap();
    }
    // CPU time per call with every core busy: wall time × cores ÷ threads. (Raw wall time
    // per thread would count the time slicing of 64 threads on a few cores.)
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    start.elapsed() * cores / threads as u32
}

fn cached_token(c: &mut Criterion) {
    let source = TokenSource::fixed(valid_set());
    let baseline = Arc::new(MutexCache(Mutex::new(Arc::new(valid_set()))));
    let mut g = c.benchmark_group("cached_token");
    g.bench_function("authflow/1", |b| {
        b.iter(|| black_box(source.token().now_or_never().unwrap().unwrap()))
    });
    g.bench_function("mutex-baseline/1", |b| {
        b.iter(|| black_box(baseline.token()))
    });
    {
        let threads = 64usize;
        let s = source.clone();
        let f: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            black_box(s.token().now_or_never().unwrap().unwrap());
        });
        g.bench_function(format!("authflow/{threads}"), |b| {
            b.iter_custom(|iters| contended(threads, iters, f.clone()))
        });
        let m = baseline.clone();
        let f: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            black_box(m.token());
        });
        g.bench_function(format!("mutex-baseline/{threads}"), |b| {
            b.iter_custom(|iters| contended(threads, iters, f.clone()))
        });
    }
    g.finish();
}

criterion_group!(benches, cached_token);
criterion_main!(benches);
