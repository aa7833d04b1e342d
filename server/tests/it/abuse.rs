//! A burst against the password endpoints, bounded and on loopback only: the real binary as a
//! child process (so its memory can be read from /proc), 200 failed sign-ins and 200 sign-ups
//! at once, first each from an address of its own (only the hashing bound holds them back),
//! then all from one address (the per-address limits do). The server's peak memory stays
//! under a stated bound, what exceeds the bounds is answered 429 with `Retry-After`, and an
//! honest user who retries as told signs in meanwhile. The times it took are printed for
//! BENCHMARKS.md; nothing here asserts on them.

use std::time::{Duration, Instant};

use crate::support::{Backend, Client_, TestProcess};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Attempts allowed per address (sign-in and sign-up), set low so the one-address burst needs
/// fewer hashes than even a one-core server admits at once (9 per core).
const ATTEMPTS: u32 = 5;
/// Requests of each kind in a burst.
const BURST: usize = 200;
/// What one argon2id hash holds while it runs.
const HASH_KIB: u64 = 19 * 1024;
/// Room above the memory measured before the burst for what is not hashing: 400 connections
/// with their buffers and tasks, the requests waiting in the queue (a password each), the
/// blocking threads' stacks and the allocator's slack. Without the bound, 400 hashes at once
/// would take 400 × 19 MiB = 7.4 GiB; with it, cores × 19 MiB plus this.
const SLACK_KIB: u64 = 64 * 1024;

/// One answer, read whole.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    body: Value,
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().expect("ASCII").to_owned());
    let body = response.json().await.expect("a JSON body");
    Answer {
        status,
        retry_after,
        body,
    }
}

/// A field of /proc/PID/status in KiB (`VmRSS`, `VmHWM`).
fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {status}"))
}

/// The exact answer to a request turned away because the hashing queue is full.
fn assert_busy(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS, "{answer:?}");
    assert_eq!(answer.retry_after.as_deref(), Some("1"), "{answer:?}");
    assert_eq!(
        answer.body,
        json!({ "error": {
            "code": "busy",
            "message": "the server is busy checking other passwords; try again in a second",
        }})
    );
}

/// The exact answer to a request over its address's limit of a `window_secs` window that
/// opened at most `opened.elapsed()` ago.
fn assert_limited(answer: &Answer, window_secs: u64, opened: Instant) {
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS, "{answer:?}");
    let seconds: u64 = answer
        .retry_after
        .as_deref()
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After in whole seconds: {answer:?}"));
    let earliest = window_secs - opened.elapsed().as_secs() - 1;
    assert!((earliest..=window_secs).contains(&seconds), "{answer:?}");
    assert_eq!(
        answer.body,
        json!({ "error": {
            "code": "too_many_requests",
            "message": format!("too many attempts, try again in {seconds} seconds"),
        }})
    );
}

/// Signs in, and on a busy answer waits as `Retry-After` says and tries again (30 times at
/// most); returns the final answer and how many tries it took.
async fn sign_in_patiently(client: &Client_, email: &str) -> (Answer, usize) {
    let mut tries = 0;
    loop {
        tries += 1;
        let reply = answer(client.login(email, "a good password").await).await;
        if reply.status != StatusCode::TOO_MANY_REQUESTS || tries == 30 {
            return (reply, tries);
        }
        assert_busy(&reply);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// BURST posts at once to `/api/auth/{how}` from `client`, each for an email of its own with
/// `password`: exactly ATTEMPTS are answered `served`, the rest are over the address's limit
/// of a `window_secs` window. Returns how long the burst took.
async fn one_address_burst(
    client: &Client_,
    how: &str,
    password: &str,
    served: StatusCode,
    window_secs: u64,
) -> Duration {
    let opened = Instant::now();
    let answers = join_all((0..BURST).map(|number| async move {
        let body = json!({ "email": format!("{how}{number}@example.com"), "password": password });
        answer(client.post(&format!("/api/auth/{how}"), body).await).await
    }))
    .await;
    let took = opened.elapsed();
    let (answered, limited): (Vec<_>, Vec<_>) =
        answers.iter().partition(|reply| reply.status == served);
    assert_eq!(answered.len(), ATTEMPTS as usize, "{how}");
    limited
        .iter()
        .for_each(|reply| assert_limited(reply, window_secs, opened));
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_failed_sign_ins_and_sign_ups_is_bounded() {
    let attempts = ATTEMPTS.to_string();
    let server = TestProcess::start(
        Backend::Sqlite,
        &[
            ("CONFAB_LOGIN_ATTEMPTS", &attempts),
            ("CONFAB_SIGNUP_ATTEMPTS", &attempts),
        ],
    )
    .await;
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as u64;
    let ada = Client_::browser_from(&server.url, "127.0.4.1");
    ada.sign_up("ada@example.com", "a good password").await;
    let baseline_kib = memory_kib(server.pid(), "VmRSS");
    let bound_kib = baseline_kib + cores * HASH_KIB + SLACK_KIB;

    // A crowd: every request from an address of its own, so no per-address limit applies.
    // The clients are made first (each loads the system's root certificates, tens of
    // milliseconds), so the requests leave together and the time measured is the burst's.
    let crowd = |subnet: u8| -> Vec<Client_> {
        (1..=BURST)
            .map(|host| Client_::browser_from(&server.url, &format!("127.0.{subnet}.{host}")))
            .collect()
    };
    let (guessers, joiners) = (crowd(1), crowd(2));
    let crowd_started = Instant::now();
    let failed_sign_ins = guessers
        .iter()
        .enumerate()
        .map(|(number, client)| async move {
            let email = format!("nobody{number}@example.com");
            answer(client.login(&email, "wrong password").await).await
        });
    let sign_ups = joiners
        .iter()
        .enumerate()
        .map(|(number, client)| async move {
            let email = format!("crowd{number}@example.com");
            answer(client.signup(&email, "a good password").await).await
        });
    let honest = Client_::browser_from(&server.url, "127.0.4.2");
    let (failed_sign_ins, sign_ups, (honest_answer, honest_tries)) = tokio::join!(
        join_all(failed_sign_ins),
        join_all(sign_ups),
        sign_in_patiently(&honest, "ada@example.com"),
    );
    let crowd_took = crowd_started.elapsed();
    let peak_kib = memory_kib(server.pid(), "VmHWM");

    let mut refused = 0;
    for reply in failed_sign_ins.iter().chain(&sign_ups) {
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            assert_busy(reply);
            refused += 1;
        }
    }
    let unauthorized = failed_sign_ins
        .iter()
        .filter(|reply| reply.status != StatusCode::TOO_MANY_REQUESTS)
        .inspect(|reply| {
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
            assert_eq!(
                reply.body,
                json!({ "error": { "code": "bad_credentials", "message": "invalid email or password" }})
            );
        })
        .count();
    let created = sign_ups
        .iter()
        .filter(|reply| reply.status != StatusCode::TOO_MANY_REQUESTS)
        .inspect(|reply| assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}"))
        .count();
    // The first requests to arrive fill the running hashes and the queue (eight per core
    // behind one per core); the honest user's first try may have taken one place.
    let places = 9 * cores as usize;
    assert!(
        unauthorized + created >= places - 1,
        "{unauthorized} + {created} served of {places} places"
    );
    assert_eq!(unauthorized + created + refused, 2 * BURST);
    assert!(refused > 0, "some of the burst must be turned away");
    assert_eq!(honest_answer.status, StatusCode::OK, "{honest_answer:?}");
    assert_eq!(honest_answer.body["user"]["email"], "ada@example.com");
    assert!(
        peak_kib <= bound_kib,
        "peak {peak_kib} KiB over the bound {bound_kib} KiB (before the burst {baseline_kib} KiB, {cores} cores)"
    );
    eprintln!(
        "crowd: {} requests in {crowd_took:?}: {unauthorized} × 401, {created} × 201, {refused} × 429 busy; \
         honest sign-in after {honest_tries} tries; memory {baseline_kib} KiB before, peak {peak_kib} KiB, bound {bound_kib} KiB",
        2 * BURST
    );

    // One address: its limits let ATTEMPTS through, before any hash runs for the rest.
    let one_address = Client_::browser_from(&server.url, "127.0.3.1");
    let sign_ins_took = one_address_burst(
        &one_address,
        "login",
        "wrong password",
        StatusCode::UNAUTHORIZED,
        300,
    )
    .await;
    let sign_ups_took = one_address_burst(
        &one_address,
        "signup",
        "a good password",
        StatusCode::CREATED,
        3600,
    )
    .await;
    eprintln!(
        "one address: {BURST} failed sign-ins in {sign_ins_took:?}, {BURST} sign-ups in {sign_ups_took:?}; \
         peak memory {} KiB",
        memory_kib(server.pid(), "VmHWM")
    );

    // Ada, from yet another address, is not locked out by any of it.
    let later = Client_::browser_from(&server.url, "127.0.4.3");
    let signed_in = later.login("ada@example.com", "a good password").await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    assert!(memory_kib(server.pid(), "VmHWM") <= bound_kib);
}
