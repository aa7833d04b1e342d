//! The full backup (`GET /api/export`) through the real server, while the account is in use.

use std::collections::HashMap;

use crate::support::{Client_, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// More than a page of the export (and of the session list it used to page by: 200).
const CONVERSATIONS: usize = 210;
/// With small socket buffers, large enough that the export (about 300 KiB) cannot
/// sit in buffers whole: the server is still writing it when the reader pauses.
const CONTENT_BYTES: usize = 1024;
const WRITERS: usize = 4;

/// A Confab export of `CONVERSATIONS` conversations of one message each, a minute apart.
fn seed_file() -> String {
    let start = chrono::DateTime::parse_from_rfc3339("2023-05-01T00:00:00Z").unwrap();
    let sessions: Vec<Value> = (0..CONVERSATIONS)
        .map(|n| {
            let time = (start + chrono::Duration::minutes(n as i64)).to_rfc3339();
            json!({
                "id": format!("00000000-0000-7000-8000-{n:012}"),
                "title": format!("Conversation {n}"),
                "isActive": true, "pinned": false, "archived": false,
                "messageCount": 1, "promptTokens": 0, "completionTokens": 0,
                "createdAt": time, "updatedAt": time, "lastMessageAt": time,
                "activeLeafId": format!("00000000-0000-7000-9000-{n:012}"),
                "messages": [{
                    "id": format!("00000000-0000-7000-9000-{n:012}"),
                    "sessionId": format!("00000000-0000-7000-8000-{n:012}"),
                    "parentId": null, "role": "user",
                    "content": format!("seed {n} {}", "x".repeat(CONTENT_BYTES)),
                    "type": "chat", "model": null, "promptTokens": null,
                    "completionTokens": null, "latencyMs": null, "status": "complete",
                    "clientId": null, "createdAt": time
                }]
            })
        })
        .collect();
    json!({
        "format": "confab", "version": 1, "exportedAt": "2023-06-01T00:00:00Z",
        "sessions": sessions
    })
    .to_string()
}

both_backends!(
    the_full_export_misses_no_conversation_written_to_during_it,
    |backend| async move {
        // Small socket buffers on both ends: the server cannot write far ahead of the reader.
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_send_buffer_size(8 * 1024).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(64).unwrap();
        let app = TestApp::spawn_on_listener(backend, listener, |config| {
            config.max_import_bytes = 64 * 1024 * 1024;
        })
        .await;
        let ada = app.user("ada@example.com").await;
        let imported = ada.post_raw("/api/import", &seed_file()).await;
        assert_eq!(imported.status(), StatusCode::OK);
        let report: Value = imported.json().await.unwrap();
        assert_eq!(report["sessions"], CONVERSATIONS);

        // Every conversation as it was before the export: id -> its one message.
        let mut before: HashMap<String, String> = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(cursor) => format!("/api/chat/sessions?limit=200&cursor={cursor}"),
                None => "/api/chat/sessions?limit=200".to_owned(),
            };
            let page = ada.get_json(&path).await;
            for session in page["sessions"].as_array().unwrap() {
                before.insert(
                    session["id"].as_str().unwrap().to_owned(),
                    session["activeLeafId"].as_str().unwrap().to_owned(),
                );
            }
            match page["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(before.len(), CONVERSATIONS);

        let created = ada.post("/api/tokens", json!({ "name": "backup" })).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let token: Value = created.json().await.unwrap();
        let mut export = SlowReader::get(
            &app.address,
            "/api/export",
            token["token"].as_str().unwrap(),
        )
        .await;
        let mut exported = export.read(16 * 1024).await;

        // While the export waits for its reader, several clients write to every second
        // conversation, the least recently active first: each one moves to the top of the
        // activity order.
        let mut oldest_first: Vec<String> = before.keys().cloned().collect();
        oldest_first.sort();
        let oldest_first: Vec<String> = oldest_first.into_iter().step_by(2).collect();
        let mut writers = Vec::new();
        for writer in 0..WRITERS {
            let client = app.client();
            let signed_in = client.login("ada@example.com", "a good password").await;
            assert_eq!(signed_in.status(), StatusCode::OK);
            let mine: Vec<String> = oldest_first
                .iter()
                .skip(writer)
                .step_by(WRITERS)
                .cloned()
                .collect();
            writers.push(tokio::spawn(async move {
                write_to_each(&client, &mine).await;
            }));
        }
        for writer in writers {
            writer.await.unwrap();
        }

        exported.extend(export.read(usize::MAX).await);
        let exported = http_body(&exported);
        let document: Value =
            serde_json::from_slice(&exported).expect("the export is one JSON document");
        let sessions = document["sessions"].as_array().unwrap();
        let mut seen: HashMap<&str, &Value> = HashMap::new();
        for session in sessions {
            let id = session["id"].as_str().unwrap();
            assert!(seen.insert(id, session).is_none(), "{id} is written once");
        }
        assert_eq!(
            seen.len(),
            CONVERSATIONS,
            "every conversation is in the backup"
        );
        let mut written_during = 0;
        for (id, first_message) in &before {
            let session = seen
                .get(id.as_str())
                .unwrap_or_else(|| panic!("{id} is missing"));
            let messages = session["messages"].as_array().unwrap();
            assert_eq!(
                messages[0]["id"],
                json!(first_message),
                "{id} keeps its message"
            );
            assert!(messages[0]["content"]
                .as_str()
                .unwrap()
                .starts_with("seed "));
            match messages.len() {
                1 => {}
                2 => {
                    assert_eq!(messages[1]["content"], "written during the export");
                    written_during += 1;
                }
                other => panic!("{id} has {other} messages"),
            }
        }
        // The writes really landed while the export ran: the conversations it had not reached
        // yet carry them.
        assert!(written_during > 0, "the export ended before the writes");
        assert!(
            written_during < CONVERSATIONS / 2,
            "the export started before the writes"
        );
    }
);

async fn write_to_each(client: &Client_, sessions: &[String]) {
    for session_id in sessions {
        let response = client
            .post(
                "/api/chat/messages",
                json!({ "sessionId": session_id, "role": "user", "content": "written during the export" }),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
}

/// An HTTP/1.1 GET read through a socket with a small receive buffer.
struct SlowReader {
    stream: TcpStream,
}

impl SlowReader {
    async fn get(address: &str, path: &str, token: &str) -> SlowReader {
        let address: std::net::SocketAddr = address.trim_start_matches("http://").parse().unwrap();
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(address).await.unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
             Connection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        SlowReader { stream }
    }

    /// At least `bytes` more of the response (fewer only at its end).
    async fn read(&mut self, bytes: usize) -> Vec<u8> {
        let mut read = Vec::new();
        let mut buffer = [0u8; 4096];
        while read.len() < bytes {
            let count = self.stream.read(&mut buffer).await.unwrap();
            if count == 0 {
                break;
            }
            read.extend_from_slice(&buffer[..count]);
        }
        read
    }
}

/// The body of a whole HTTP/1.1 response with status 200 and chunked transfer encoding.
fn http_body(response: &[u8]) -> Vec<u8> {
    let split = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("the response has headers");
    let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let mut rest = &response[split + 4..];
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|window| window == b"\r\n")
            .expect("a chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16)
            .expect("a hexadecimal chunk size");
        rest = &rest[line_end + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}
