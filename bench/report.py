"""Writes BENCHMARKS.md from scripts/bench's results file (tab-separated: key, values).
Every figure comes from the measurements; nothing here is typed by hand.

    report.py RESULTS [PROVIDER_MD] [RESOURCE_MD] > BENCHMARKS.md
    report.py --scrub FILE > COPY      FILE with the machine's paths taken out

The output never holds a path of the machine that ran the benchmarks (the checkout, cargo's
target directory, the home and temporary directories): see scrub(). scripts/bench passes
cargo's target directory in BENCH_TARGET_DIR; the checkout is where this file lives."""
import os
import re
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def scrub(text):
    """The text with this machine's absolute paths made relative or generic, so that the
    published file says `target/release/authflow` rather than where one machine keeps it."""
    target = os.environ.get("BENCH_TARGET_DIR") or os.path.join(ROOT, "target")
    home = os.path.expanduser("~")
    # Longest first: the target directory may sit inside the checkout or the home.
    for prefix, short in sorted([(target, "target"), (ROOT, "."), (home, "~")],
                                key=lambda p: -len(p[0])):
        prefix = prefix.rstrip("/")
        if len(prefix) <= 1:
            continue
        # Only where a path starts (not inside a URL) and ends (not /work/main-2).
        pattern = r"(?<![\w.:/~-])" + re.escape(prefix) + r"(/|(?![\w.-]))"
        under = "" if short == "." else short + "/"
        text = re.sub(pattern, lambda m: under if m.group(1) else short, text)
    # mktemp's work directories of scripts/bench and its helpers: only the file name matters.
    tmp = re.escape(tempfile.gettempdir().rstrip("/"))
    return re.sub(tmp + r"/tmp\.[A-Za-z0-9]+/", "", text)


if len(sys.argv) == 3 and sys.argv[1] == "--scrub":
    sys.stdout.write(scrub(open(sys.argv[2]).read()))
    sys.exit(0)

rows = {}
for line in open(sys.argv[1]):
    key, _, rest = line.rstrip("\n").partition("\t")
    rows[key] = rest.split("\t")
def read(i):
    try:
        return open(sys.argv[i]).read() if len(sys.argv) > i else ""
    except OSError:
        return ""


provider_md, resource_md = read(2), read(3)


def crit(group, name):
    for k, v in rows.items():
        if k.startswith("crit/") and k.split("/", 1)[1] == f"{group}/{name}":
            return float(v[0]), float(v[1]), float(v[2])
    return None


def ns(x):
    if x is None:
        return "—"
    if x >= 1e6:
        return f"{x / 1e6:.2f} ms"
    if x >= 1e3:
        return f"{x / 1e3:.2f} µs"
    return f"{x:.0f} ns"


def verdict(ok):
    return "yes" if ok else "**no**"


out = []
w = out.append
w("# Benchmarks\n")
w("Written by `scripts/bench` from its own measurements; do not edit by hand.\n")
w("| | |\n| --- | --- |")
for k in ["date", "machine", "rustc", "git", "load_before", "load_after"]:
    if k in rows:
        w(f"| {k.replace('_', ' ')} | {rows[k][0]} |")
w("")
w("Medians; criterion's 95% confidence interval of the median in brackets. Ratios are")
w("baseline ÷ authflow (above 1 means authflow is faster), both measured in the same run.\n")
w("| figure | authflow | baseline | ratio | goal | met |")
w("| --- | --- | --- | --- | --- | --- |")


def pair(label, group, ours, theirs, base_label, goal_abs, goal_ratio):
    a, b = crit(group, ours), crit(group, theirs)
    if not a:
        return
    ratio = b[0] / a[0] if b else None
    ok = a[0] <= goal_abs and (ratio is None or goal_ratio is None or ratio >= goal_ratio)
    goal = f"≤ {ns(goal_abs)}" + (f", ≥ {goal_ratio}×" if goal_ratio else "")
    base = f"{base_label}: {ns(b[0])}" if b else "—"
    w(f"| {label} | {ns(a[0])} [{ns(a[1])}–{ns(a[2])}] | {base} | {f'{ratio:.2f}×' if ratio else '—'} | {goal} | {verdict(ok)} |")


pair("authorization URL (state + PKCE), ThreadRandom", "authorization_url", "authflow", "oauth2-rs", "oauth2-rs 5", 2000, 2)
pair("authorization URL, OsRandom (a syscall per draw)", "authorization_url", "authflow_os_random", "oauth2-rs", "oauth2-rs 5", 2000, 2)
pair("parse a JSON token response", "token_response_json", "authflow", "oauth2-rs", "oauth2-rs 5", 1000, 2)
pair("parse WWW-Authenticate, 2 challenges", "www_authenticate_2_challenges", "authflow", "none", "", 500, None)
pair("DPoP proof, ES256 (create)", "dpop_proof", "create_es256", "none", "", 50000, None)
pair("DPoP proof, EdDSA (create)", "dpop_proof", "create_eddsa", "none", "", 50000, None)
pair("DPoP proof, ES256 (verify, resource server)", "dpop_proof", "verify_es256", "none", "", 200000, None)
pair("DPoP proof, EdDSA (verify, resource server)", "dpop_proof", "verify_eddsa", "none", "", 200000, None)
pair("cached TokenSource::token(), 1 thread", "cached_token", "authflow_1", "mutex-baseline_1", "mutex cache", 100, None)
one, many = crit("cached_token", "authflow_1"), crit("cached_token", "authflow_64")
if many:
    m = crit("cached_token", "mutex-baseline_64")
    ratio = f"{m[0] / many[0]:.2f}×" if m else "—"
    flat = one is not None and many[0] <= one[0]
    w(f"| cached TokenSource::token(), 64 threads (CPU time per call) | {ns(many[0])} [{ns(many[1])}–{ns(many[2])}] "
      f"| mutex cache: {ns(m[0]) if m else '—'} | {ratio} | ≤ 100 ns, no slower than 1 thread ({ns(one[0]) if one else '—'}) "
      f"| {verdict(many[0] <= 100 and flat)} |")
t = {k.split("/", 1)[1]: v for k, v in rows.items() if k.startswith("overhead_time/")}
ir = {k.split("/", 1)[1]: float(v[0]) for k, v in rows.items() if k.startswith("overhead_ir/")}
for side, label in [("authflow", "`AuthorizedClient::send` (`http::Request`)"),
                    ("authflow-execute", "`AuthorizedClient::execute` (`reqwest::Request`)"),
                    ("middleware", "`BearerMiddleware` (reqwest-middleware)")]:
    if side not in t or "bare" not in t:
        continue
    over_t = float(t[side][3])
    over_i = (ir[side] / ir["bare"] - 1) * 100 if side in ir and ir.get("bare") else None
    ok = over_t <= 3 and (over_i is None or over_i <= 3)
    if side == "middleware" and "plain-middleware" in t:
        pm_t = float(t["plain-middleware"][3])
        pm_i = (ir["plain-middleware"] / ir["bare"] - 1) * 100 if "plain-middleware" in ir and ir.get("bare") else float("nan")
        label += f" (of which reqwest-middleware with no middleware at all: time {pm_t:+.2f}%, instructions {pm_i:+.2f}%)"
    w(f"| authorized request to a local endpoint, {label} | {float(t[side][0]) / 1e3:.2f} µs (p10 {float(t[side][1]) / 1e3:.2f}, p90 {float(t[side][2]) / 1e3:.2f}); "
      f"{ir.get(side, 0):,.0f} instructions | bare reqwest: {float(t['bare'][0]) / 1e3:.2f} µs; {ir.get('bare', 0):,.0f} instructions "
      f"| time {over_t:+.2f}% (median of per-round ratios, {t.get('rounds', ['?'])[0]}); instructions {over_i:+.2f}% | ≤ +3% | {verdict(ok)} |")
for side, alg in [("dpop-es256", "ES256"), ("dpop-eddsa", "EdDSA")]:
    base = "authflow-execute"
    if side not in t or base not in t:
        continue
    # Same run, same client path; the only difference is the proof and the DPoP scheme.
    over_t = (float(t[side][0]) / float(t[base][0]) - 1) * 100
    over_i = (ir[side] / ir[base] - 1) * 100 if side in ir and ir.get(base) else float("nan")
    w(f"| DPoP-bound authorized request ({alg} proof per request), `execute` | {float(t[side][0]) / 1e3:.2f} µs; {ir.get(side, 0):,.0f} instructions "
      f"| bearer `execute`: {float(t[base][0]) / 1e3:.2f} µs; {ir.get(base, 0):,.0f} instructions "
      f"| time {over_t:+.1f}%; instructions {over_i:+.1f}% | ≤ +10% | {verdict(over_t <= 10)} |")
a = crit("flows", "loopback_login")
if a:
    w(f"| full loopback login, embedded provider in process | {ns(a[0])} [{ns(a[1])}–{ns(a[2])}] | — | — | ≤ 10 ms | {verdict(a[0] <= 10e6)} |")
a = crit("flows", "refresh")
if a:
    w(f"| one refresh against the embedded provider | {ns(a[0])} | — | — | — | — |")
p = {k.split("/", 1)[1]: v for k, v in rows.items() if k.startswith("process/")}
if "authflow" in p:
    ours = float(p["authflow"][0])
    py = float(p["authlib"][0]) if "authlib" in p else None
    cat = float(p["cat"][0]) if "cat" in p else None
    ratio = py / ours if py else None
    ok = ours <= 3 and (ratio or 0) >= 100
    w(f"| `authflow token`, cached token, whole process (hyperfine) | {ours:.2f} ms (p10 {float(p['authflow'][1]):.2f}, p90 {float(p['authflow'][2]):.2f}) | Authlib OAuth2Session: {py:.1f} ms; `cat`: {cat:.2f} ms | {ratio:.0f}× vs Python | ≤ 3 ms, ≥ 100× | {verdict(ok)} |")
if "callgrind/authflow" in rows:
    w(f"| `authflow token`, instructions (callgrind) | {rows['callgrind/authflow'][0]} | `cat`: {rows.get('callgrind/cat', ['—'])[0]} | — | — | — |")
s = {k.split("/", 1)[1]: v[0] for k, v in rows.items() if k.startswith("stampede/")}
if s:
    counts = s.get("refreshes_per_round", "")
    one = all(c == "1" for c in counts.split(",") if c)
    ratio = float(s.get("p99_over_refresh", "nan"))
    w(f"| refresh stampede: {s.get('tasks')} tasks on an expired token ({s.get('rounds')} rounds) | refreshes per round: {counts}; caller waits p50 {s.get('p50_wait_us')} µs, p99 {s.get('p99_wait_us')} µs, max {s.get('max_wait_us')} µs | one refresh alone: {s.get('single_refresh_us')} µs | p99 = {ratio:.2f}× one refresh | exactly 1; p99 ≤ 2× | {verdict(one and ratio <= 2)} |")
m = {k.split("/", 1)[1]: v[0] for k, v in rows.items() if k.startswith("memory/")}
if m:
    w(f"| provider memory over {m.get('requests')} client_credentials tokens | peak {int(m.get('peak_kib', 0)) // 1024} MiB, after {int(m.get('rss_after_kib', 0)) // 1024} MiB | at start: {int(m.get('rss_start_kib', 0)) // 1024} MiB | — | bounded | — |")
a, b = rows.get("api_me/authflow", [""])[0], rows.get("api_me/baseline", [""])[0]
if a and b:
    ratio = float(a) / float(b)
    w(f"| provider `GET /api/me` with a JWT access token (wrk -t2 -c32, median of 3) | {float(a):,.0f} req/s | resource server on oidc-provider introspection: {float(b):,.0f} req/s | {ratio:.2f}× | ≥ 10× | {verdict(ratio >= 10)} |")
w("")
if provider_md:
    w("## Provider throughput against oidc-provider\n")
    body = provider_md.split("\n", 2)[2] if provider_md.startswith("#") else provider_md
    w(body)
if resource_md:
    w("\n## Protected resource against oidc-provider with introspection\n")
    body = resource_md.split("\n", 2)[2] if resource_md.startswith("#") else resource_md
    w(body)
w("\n## How to reproduce\n")
w("`scripts/bench` (needs apt, npm and pip access to install hyperfine, wrk, valgrind,")
w("oidc-provider and Authlib). Criterion's raw data is under `target/criterion/`.")
print(scrub("\n".join(out)))
