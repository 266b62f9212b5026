//! What an authorized request costs on top of a bare reqwest request to the same local
//! endpoint, for `AuthorizedClient` (`send` with an `http::Request`, `execute` with a
//! `reqwest::Request`) and `BearerMiddleware`, measured two ways that do not
//! drift with the machine the way back-to-back criterion groups do:
//!
//! - `--bench time ROUNDS BATCH`: wall time, the sides interleaved: each round times BATCH
//!   requests of every side (the order rotating), and the overhead is the median over rounds
//!   of each round's ratio, so a slow minute slows both sides alike. Prints
//!   `time SIDE median_ns p10_ns p90_ns overhead_pct` lines.
//! - `--bench SIDE N` under `valgrind --tool=callgrind`: 50 warm-up + N requests of one side;
//!   `scripts/bench` runs two values of N and takes the difference per request, so start-up
//!   cancels out. Instructions are the same on a busy machine as on an idle one.
//!
//! Without `--bench` (as in `cargo test --benches`) it sends a few requests of each side.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use authflow::client::{BoxFuture, ReqwestClient};
use authflow::session::{
    AuthorizedClient, BearerMiddleware, SessionError, TokenProvider, TokenSet, TokenSource,
};
use authflow::types::AccessToken;
use reqwest_middleware::ClientWithMiddleware;

/// Requests before counting starts to matter: connection set-up, first allocations.
const WARM_UP: usize = 50;
/// `plain-middleware`: reqwest-middleware with no middleware and the token added by hand,
/// which tells reqwest-middleware's own cost from `BearerMiddleware`'s.
/// `authflow-execute`: `AuthorizedClient::execute` with a `reqwest::Request`.
/// `dpop-es256` / `dpop-eddsa`: `execute` with a DPoP-bound token set (a fresh proof per
/// request), to compare with `authflow-execute` (RFC 9449's cost on the client).
const SIDES: [&str; 7] = [
    "bare",
    "authflow",
    "authflow-execute",
    "middleware",
    "plain-middleware",
    "dpop-es256",
    "dpop-eddsa",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench = args
        .iter()
        .position(|a| a == "--bench")
        .map(|i| &args[i + 1..]);
    let (rt, url) = local_endpoint();
    let (bare, api, mw) = clients();
    let dpop_es256 = dpop_client(&bare, authflow::jose::JwsAlgorithm::ES256);
    let dpop_eddsa = dpop_client(&bare, authflow::jose::JwsAlgorithm::EdDSA);
    let plain = reqwest_middleware::ClientBuilder::new(bare.clone()).build();
    let token = String::from(TOKEN);
    let run = |side: &str, n: usize| {
        rt.block_on(async {
            for _ in 0..n {
                match side {
                    "bare" => bare_request(&bare, &url, &token).await,
                    "authflow" => authflow_request(&api, &url).await,
                    "authflow-execute" => authflow_execute_request(&api, &url).await,
                    "middleware" => middleware_request(&mw, &url).await,
                    "plain-middleware" => plain_middleware_request(&plain, &url, &token).await,
                    "dpop-es256" => authflow_execute_request(&dpop_es256, &url).await,
                    "dpop-eddsa" => authflow_execute_request(&dpop_eddsa, &url).await,
                    other => panic!("unknown side {other:?}: one of {SIDES:?}"),
                }
            }
        })
    };
    match bench {
        Some([mode, rounds, batch, ..]) if mode == "time" => {
            let (rounds, batch): (usize, usize) = (rounds.parse().unwrap(), batch.parse().unwrap());
            for side in SIDES {
                run(side, WARM_UP * 10);
            }
            // ns per request, per side, per round.
            let mut ns = vec![Vec::with_capacity(rounds); SIDES.len()];
            for r in 0..rounds {
                for k in 0..SIDES.len() {
                    let i = (r + k) % SIDES.len();
                    let start = Instant::now();
                    run(SIDES[i], batch);
                    ns[i].push(start.elapsed().as_nanos() as f64 / batch as f64);
                }
            }
            for (i, side) in SIDES.iter().enumerate() {
                let mut ratios: Vec<f64> = (0..rounds).map(|r| ns[i][r] / ns[0][r]).collect();
                let mut t = ns[i].clone();
                println!(
                    "time {side} {:.0} {:.0} {:.0} {:+.2}",
                    quantile(&mut t, 0.5),
                    quantile(&mut t, 0.1),
                    quantile(&mut t, 0.9),
                    (quantile(&mut ratios, 0.5) - 1.0) * 100.0
                );
            }
        }
        Some([side, n, ..]) => run(side, WARM_UP + n.parse::<usize>().unwrap()),
        // `cargo test --benches`, or `cargo bench` without arguments: a quick check.
        _ => SIDES.iter().for_each(|side| run(side, 5)),
    }
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// The access token of the run.
const TOKEN: &str = "cached-access-token";

/// A current-thread runtime serving `GET /me` on 127.0.0.1:0, and that URL. The measured
/// client runs on the same runtime, so client and server share one thread and a request
/// costs CPU work and loopback syscalls only. (A server on another thread adds cross-core
/// wake-ups that cost more than the request and vary by tens of percent between runs.)
fn local_endpoint() -> (tokio::runtime::Runtime, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = rt.block_on(async {
        let app = axum::Router::new().route("/me", axum::routing::get(|| async { "ok" }));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/me", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await });
        url
    });
    (rt, url)
}

/// A session that could refresh (as a logged-in user's does), though in the benchmark it
/// never needs to: the measured path is the cached token's.
fn session() -> TokenSource {
    session_with(
        TokenSet::new(AccessToken::new(TOKEN).unwrap())
            .with_expiry(Some(SystemTime::now() + Duration::from_secs(3600))),
    )
}

/// An `AuthorizedClient` whose token set is DPoP-bound to a new key of `alg`.
fn dpop_client(bare: &reqwest::Client, alg: authflow::jose::JwsAlgorithm) -> AuthorizedClient {
    let key = authflow::jose::SigningKey::generate(alg).unwrap();
    let mut set = TokenSet::new(AccessToken::new(TOKEN).unwrap())
        .with_expiry(Some(SystemTime::now() + Duration::from_secs(3600)))
        .with_dpop(Some(authflow::protocol::dpop::DpopProver::new(key)));
    set.token_type = "DPoP".into();
    AuthorizedClient::new(session_with(set), ReqwestClient::from_reqwest(bare.clone()))
}

fn session_with(initial: TokenSet) -> TokenSource {
    struct Unreachable;
    impl TokenProvider for Unreachable {
        fn fetch<'a>(
            &'a self,
            _current: Option<&'a TokenSet>,
        ) -> BoxFuture<'a, Result<TokenSet, SessionError>> {
            Box::pin(async {
                Err(SessionError::Internal(
                    "no refresh in this benchmark".into(),
                ))
            })
        }
    }
    TokenSource::builder()
        // Valid for the whole run.
        .initial(initial)
        .provider(Unreachable)
        .build()
}

/// The clients, over one reqwest configuration (the one `ReqwestClient::new()` uses:
/// timeouts, no redirects), so the difference is what authflow adds: the token lookup,
/// the header, the response mapping.
fn clients() -> (reqwest::Client, AuthorizedClient, ClientWithMiddleware) {
    let bare = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let source = session();
    let api = AuthorizedClient::new(source.clone(), ReqwestClient::from_reqwest(bare.clone()));
    let mw = reqwest_middleware::ClientBuilder::new(bare.clone())
        .with(BearerMiddleware::new(source))
        .build();
    (bare, api, mw)
}

/// The baseline: what a reqwest user writes with the token at hand.
async fn bare_request(bare: &reqwest::Client, url: &str, token: &str) {
    let r = bare.get(url).bearer_auth(token).send().await.unwrap();
    black_box(r.bytes().await.unwrap());
}

/// The same request through `AuthorizedClient`.
async fn authflow_request(api: &AuthorizedClient, url: &str) {
    let req = http::Request::get(url).body(Vec::new()).unwrap();
    black_box(api.send(req).await.unwrap());
}

/// The same request built with reqwest, through `AuthorizedClient::execute`.
async fn authflow_execute_request(api: &AuthorizedClient, url: &str) {
    let req = reqwest::Request::new(reqwest::Method::GET, url.parse().unwrap());
    black_box(api.execute(req).await.unwrap());
}

/// The same request through reqwest-middleware and `BearerMiddleware`.
async fn middleware_request(mw: &ClientWithMiddleware, url: &str) {
    let r = mw.get(url).send().await.unwrap();
    black_box(r.bytes().await.unwrap());
}

/// reqwest-middleware alone: the token by hand, as in `bare_request`.
async fn plain_middleware_request(plain: &ClientWithMiddleware, url: &str, token: &str) {
    let r = plain.get(url).bearer_auth(token).send().await.unwrap();
    black_box(r.bytes().await.unwrap());
}
