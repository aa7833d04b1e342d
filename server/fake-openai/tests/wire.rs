//! Each mode's bytes on the wire, read with a bare HTTP/1.1 client over TCP so that how a body
//! ends (terminating chunk, abort, silence) is seen exactly, and the request log's account of it.

use std::time::{Duration, Instant};

use confab_core::chat_stream::server_sent_events;
use fake_openai::{huge_piece, long_reply, HUGE_CHUNK_BYTES, HUGE_TOTAL_BYTES};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response as read off the socket.
struct Wire {
    status: u16,
    /// The body with the chunked encoding removed.
    body: String,
    /// Whether the body ended with chunked encoding's terminating chunk (a clean end) rather
    /// than the connection being cut.
    clean_end: bool,
}

fn host(base: &str) -> String {
    base.trim_start_matches("http://")
        .trim_end_matches("/v1")
        .to_owned()
}

/// Sends a request; the connection is closed by the server after the answer.
async fn send(
    base: &str,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> TcpStream {
    let mut stream = TcpStream::connect(host(base)).await.expect("connect");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        host(base),
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    stream
}

/// Reads until the server closes or breaks the connection.
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return bytes,
            Ok(read) => bytes.extend_from_slice(&buffer[..read]),
        }
    }
}

/// Splits raw bytes into status, decoded body and whether the body ended cleanly. Handles
/// `content-length` and `chunked` bodies (all this server sends).
fn decode(raw: &[u8]) -> Wire {
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8(raw[..split].to_vec()).expect("ASCII head");
    let status = head[9..12].parse().expect("status");
    let mut rest = &raw[split + 4..];
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    if !chunked {
        return Wire {
            status,
            body: String::from_utf8(rest.to_vec()).expect("UTF-8 body"),
            clean_end: true,
        };
    }
    let mut body = Vec::new();
    while let Some(line_end) = rest.windows(2).position(|window| window == b"\r\n") {
        let size = usize::from_str_radix(
            std::str::from_utf8(&rest[..line_end]).expect("size line"),
            16,
        )
        .expect("hex size");
        if size == 0 {
            return Wire {
                status,
                body: String::from_utf8(body).expect("UTF-8 body"),
                clean_end: true,
            };
        }
        let start = line_end + 2;
        if rest.len() < start + size + 2 {
            body.extend_from_slice(&rest[start.min(rest.len())..]);
            break;
        }
        body.extend_from_slice(&rest[start..start + size]);
        rest = &rest[start + size + 2..];
    }
    Wire {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
        clean_end: false,
    }
}

fn completion_body(model: &str) -> String {
    json!({
        "model": model, "stream": true, "stream_options": { "include_usage": true },
        "messages": [{ "role": "user", "content": "hello there" }]
    })
    .to_string()
}

/// Starts a streamed completion with `model` (the connection closes after the answer).
async fn start(base: &str, model: &str) -> TcpStream {
    send(
        base,
        "POST",
        "/v1/chat/completions",
        &completion_body(model),
        &[],
    )
    .await
}

async fn stream_of(base: &str, model: &str) -> Wire {
    decode(&read_to_close(&mut start(base, model).await).await)
}

/// Starts a streamed completion with `model` and reads until `enough` holds for the raw bytes
/// read so far (5 s at most); the connection is left open.
async fn read_until(
    base: &str,
    model: &str,
    enough: impl Fn(&[u8]) -> bool,
) -> (TcpStream, Vec<u8>) {
    let mut stream = start(base, model).await;
    let mut raw = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    while !enough(&raw) {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("more bytes come")
            .expect("read");
        assert!(read > 0, "the connection stays open");
        raw.extend_from_slice(&buffer[..read]);
    }
    (stream, raw)
}

/// The data of each event of an SSE body, in order, as text, read with the decoder Confab's
/// readers use; an event the body cuts short is not one.
fn data_lines(body: &str) -> Vec<String> {
    let bytes = futures::stream::iter([Ok::<_, std::convert::Infallible>(body.as_bytes())]);
    futures::executor::block_on(server_sent_events(bytes).collect::<Vec<_>>())
        .into_iter()
        .map(|event| event.expect("a well-formed event stream").data)
        .collect()
}

/// The content deltas of an SSE body (the role chunk's empty content excluded).
fn contents(body: &str) -> Vec<String> {
    data_lines(body)
        .iter()
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .filter(|chunk| chunk["choices"][0]["delta"]["role"].is_null())
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

fn role_chunk(model: &str) -> String {
    json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
        "choices": [{ "index": 0, "delta": { "role": "assistant", "content": "" }, "finish_reason": null }]
    })
    .to_string()
}

fn content_chunk(model: &str, text: &str) -> String {
    json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
        "choices": [{ "index": 0, "delta": { "content": text }, "finish_reason": null }]
    })
    .to_string()
}

/// The role chunk and `one`, ` two`, ` three`: how every breaking mode starts.
fn broken_start(model: &str) -> Vec<String> {
    vec![
        role_chunk(model),
        content_chunk(model, "one"),
        content_chunk(model, " two"),
        content_chunk(model, " three"),
    ]
}

async fn log(base: &str) -> Vec<Value> {
    let mut stream = send(base, "GET", "/_requests", "", &[]).await;
    let wire = decode(&read_to_close(&mut stream).await);
    assert_eq!(wire.status, 200);
    serde_json::from_str(&wire.body).expect("the log is JSON")
}

/// Polls the log until its only entry has left `running`; returns that entry.
async fn settled(base: &str, within: Duration) -> Value {
    let started = Instant::now();
    loop {
        let entries = log(base).await;
        assert_eq!(entries.len(), 1, "{entries:?}");
        if entries[0]["_outcome"] != "running" {
            return entries[0].clone();
        }
        assert!(
            started.elapsed() < within,
            "still running after {within:?}: {}",
            entries[0]["_chunks"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts the only request in the log ended with `outcome` after `chunks` content chunks.
async fn assert_settled(base: &str, outcome: &str, chunks: u64) {
    let entry = settled(base, Duration::from_secs(2)).await;
    assert_eq!(
        (entry["_outcome"].as_str(), entry["_chunks"].as_u64()),
        (Some(outcome), Some(chunks))
    );
}

#[tokio::test]
async fn fake_model_echoes_word_by_word_then_finish_usage_and_done() {
    let base = fake_openai::spawn().await;
    let wire = stream_of(&base, "fake-model").await;
    assert_eq!(wire.status, 200);
    assert!(wire.clean_end);
    let usage = json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "fake-model",
        "choices": [], "usage": { "prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13 }
    });
    let finish = json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "fake-model",
        "choices": [{ "index": 0, "delta": {}, "finish_reason": "stop" }]
    });
    assert_eq!(
        data_lines(&wire.body),
        [
            role_chunk("fake-model"),
            content_chunk("fake-model", "Echo:"),
            content_chunk("fake-model", " hello"),
            content_chunk("fake-model", " there"),
            finish.to_string(),
            usage.to_string(),
            "[DONE]".to_owned(),
        ]
    );
    let entry = settled(&base, Duration::from_secs(2)).await;
    assert_eq!(
        entry,
        json!({
            "model": "fake-model", "stream": true, "stream_options": { "include_usage": true },
            "messages": [{ "role": "user", "content": "hello there" }],
            "_outcome": "completed", "_chunks": 3, "_headers": {}
        })
    );
}

#[tokio::test]
async fn fake_cut_ends_the_body_cleanly_without_finish_or_done() {
    let base = fake_openai::spawn().await;
    let wire = stream_of(&base, "fake-cut").await;
    assert_eq!(wire.status, 200);
    assert!(wire.clean_end, "the terminating chunk was sent");
    assert_eq!(data_lines(&wire.body), broken_start("fake-cut"));
    assert!(!wire.body.contains("\"finish_reason\":\"stop\""));
    assert!(!wire.body.contains("[DONE]"));
    assert_settled(&base, "completed", 3).await;
}

#[tokio::test]
async fn fake_reset_aborts_the_connection_after_three_chunks() {
    let base = fake_openai::spawn().await;
    let wire = stream_of(&base, "fake-reset").await;
    assert_eq!(wire.status, 200);
    assert!(
        !wire.clean_end,
        "no terminating chunk: the body was aborted"
    );
    assert_eq!(data_lines(&wire.body), broken_start("fake-reset"));
    assert_settled(&base, "completed", 3).await;
}

#[tokio::test]
async fn fake_error_midstream_aborts_after_three_words_of_the_echo() {
    let base = fake_openai::spawn().await;
    let body = json!({ "model": "fake-error-midstream", "stream": true,
        "messages": [{ "role": "user", "content": "one two three four" }] });
    let mut stream = send(
        &base,
        "POST",
        "/v1/chat/completions",
        &body.to_string(),
        &[],
    )
    .await;
    let wire = decode(&read_to_close(&mut stream).await);
    assert!(!wire.clean_end);
    assert_eq!(contents(&wire.body), ["Echo:", " one", " two"]);
}

#[tokio::test]
async fn fake_malformed_sends_broken_json_then_holds_one_second_and_closes() {
    let base = fake_openai::spawn().await;
    let started = Instant::now();
    let wire = stream_of(&base, "fake-malformed").await;
    let elapsed = started.elapsed();
    assert!(wire.clean_end);
    let mut expected = broken_start("fake-malformed");
    expected.push("{\"choices\": [".to_owned());
    assert_eq!(data_lines(&wire.body), expected);
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    assert_settled(&base, "completed", 3).await;
}

#[tokio::test]
async fn fake_stall_goes_silent_and_notices_when_the_client_leaves() {
    let base = fake_openai::spawn().await;
    let (mut stream, raw) = read_until(&base, "fake-stall", |raw| {
        String::from_utf8_lossy(raw).contains(" three")
    })
    .await;
    assert_eq!(data_lines(&decode(&raw).body), broken_start("fake-stall"));
    let mut buffer = [0u8; 4096];
    let more = tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buffer)).await;
    assert!(more.is_err(), "nothing more is sent: {more:?}");
    let entries = log(&base).await;
    assert_eq!(entries[0]["_outcome"], "running");
    assert_eq!(entries[0]["_chunks"], 3);

    drop(stream);
    assert_settled(&base, "cancelled", 3).await;
}

#[tokio::test]
async fn fake_huge_sends_eight_mebibytes_in_kibibyte_chunks_then_finishes() {
    let base = fake_openai::spawn().await;
    let wire = stream_of(&base, "fake-huge").await;
    assert!(wire.clean_end);
    let pieces = contents(&wire.body);
    let count = HUGE_TOTAL_BYTES / HUGE_CHUNK_BYTES;
    assert_eq!(pieces.len(), count);
    for (index, piece) in pieces.iter().enumerate() {
        assert_eq!(piece, &huge_piece(index + 1), "chunk {}", index + 1);
    }
    assert_eq!(
        pieces.iter().map(String::len).sum::<usize>(),
        8 * 1024 * 1024
    );
    let tail = data_lines(&wire.body);
    assert_eq!(tail.last().map(String::as_str), Some("[DONE]"));
    assert!(wire.body.contains("\"finish_reason\":\"stop\""));
    assert_settled(&base, "completed", count as u64).await;
}

#[tokio::test]
async fn fake_huge_is_cancelled_when_the_reader_drops() {
    let base = fake_openai::spawn().await;
    let (stream, raw) = read_until(&base, "fake-huge", |raw| raw.len() >= 64 * 1024).await;
    drop(stream);
    let entry = settled(&base, Duration::from_secs(2)).await;
    assert_eq!(entry["_outcome"], "cancelled");
    let chunks = entry["_chunks"].as_u64().unwrap();
    // At least what was read, and far from all of it: the fake stopped soon after the drop.
    assert!(
        (50..2000).contains(&chunks),
        "{chunks} chunks were sent before the fake noticed"
    );
    // Whatever did arrive is exact, multi-byte characters included.
    let received = contents(&decode(&raw).body);
    assert!(received.len() >= 50);
    for (index, piece) in received.iter().enumerate() {
        assert_eq!(piece, &huge_piece(index + 1));
    }
}

#[tokio::test]
async fn fake_long_sends_300_words_40_ms_apart() {
    let base = fake_openai::spawn().await;
    let started = Instant::now();
    let wire = stream_of(&base, "fake-long").await;
    let elapsed = started.elapsed();
    assert!(wire.clean_end);
    let pieces = contents(&wire.body);
    assert_eq!(pieces.len(), 300);
    assert_eq!(pieces.concat(), long_reply());
    assert_eq!(pieces.concat().split(' ').next_back(), Some("w300"));
    assert!(elapsed >= Duration::from_millis(300 * 40), "{elapsed:?}");
    assert_eq!(
        data_lines(&wire.body).last().map(String::as_str),
        Some("[DONE]")
    );
    let usage: Value = serde_json::from_str(&data_lines(&wire.body)[302]).unwrap();
    assert_eq!(usage["usage"]["completion_tokens"], 300);
}

#[tokio::test]
async fn fake_long_stopped_midway_is_logged_as_cancelled_at_once() {
    let base = fake_openai::spawn().await;
    let (stream, _) = read_until(&base, "fake-long", |raw| {
        contents(&String::from_utf8_lossy(raw)).len() >= 10
    })
    .await;
    drop(stream);
    let dropped = Instant::now();
    // "At once" against the whole stream's 300 chunks over at least 12 s: the bounds leave
    // room for a loaded machine (the test used to ask for 500 ms and 12 chunks, which a
    // preempted test thread could miss) and still tell a cancelled stream from a finished one.
    let entry = settled(&base, Duration::from_secs(10)).await;
    assert!(
        dropped.elapsed() < Duration::from_secs(5),
        "{:?}",
        dropped.elapsed()
    );
    assert_eq!(entry["_outcome"], "cancelled");
    let chunks = entry["_chunks"].as_u64().unwrap();
    assert!((10..60).contains(&chunks), "{chunks}");
}

#[tokio::test]
async fn retry_headers_are_recorded_beside_the_body() {
    let base = fake_openai::spawn().await;
    let body = json!({ "model": "fake-model", "messages": [{ "role": "user", "content": "hi" }] });
    let mut stream = send(
        &base,
        "POST",
        "/v1/chat/completions",
        &body.to_string(),
        &[
            ("Idempotency-Key", "key-1"),
            ("X-Stainless-Retry-Count", "2"),
            ("X-Other", "no"),
        ],
    )
    .await;
    let wire = decode(&read_to_close(&mut stream).await);
    assert_eq!(wire.status, 200);
    let answer: Value = serde_json::from_str(&wire.body).unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], "Echo: hi");
    assert_eq!(answer["usage"]["completion_tokens"], 2);
    let entries = log(&base).await;
    assert_eq!(
        entries[0]["_headers"],
        json!({ "idempotency-key": "key-1", "x-stainless-retry-count": "2" })
    );
    assert_eq!(entries[0]["_outcome"], "completed");
    assert_eq!(
        entries[0]["_chunks"], 0,
        "an answer in one piece has no chunks"
    );
}

#[tokio::test]
async fn fake_500_answers_an_openai_error() {
    let base = fake_openai::spawn().await;
    let wire = stream_of(&base, "fake-500").await;
    assert_eq!(wire.status, 500);
    let body: Value = serde_json::from_str(&wire.body).unwrap();
    assert_eq!(
        body,
        json!({ "error": { "message": fake_openai::SERVER_ERROR_MESSAGE, "type": "server_error", "code": null } })
    );
    assert!(
        fake_openai::SERVER_ERROR_MESSAGE.contains(fake_openai::SECRET_IN_ERROR),
        "the message quotes the secret"
    );
    assert_eq!(log(&base).await[0]["_outcome"], "completed");
}

#[tokio::test]
async fn the_model_list_names_every_mode() {
    let base = fake_openai::spawn().await;
    let mut stream = send(&base, "GET", "/v1/models", "", &[]).await;
    let wire = decode(&read_to_close(&mut stream).await);
    let list: Value = serde_json::from_str(&wire.body).unwrap();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|model| model["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "fake-model",
            "fake-slow",
            "fake-no-usage",
            "fake-error-midstream",
            "fake-500",
            "fake-cut",
            "fake-reset",
            "fake-malformed",
            "fake-stall",
            "fake-huge",
            "fake-long"
        ]
    );
}
