//! `TestApp`: the real server on a random port with a fresh database (SQLite or MongoDB), and
//! typed helpers that speak its REST API the way a client would. `TestProcess`: the real
//! binary as a child process. `Nginx`, `Caddy`: the README's proxy configurations in front of
//! a server (`ProxyProcess`). Every child process runs as a `confab_testdata::ChildProcess`.
//! `both_backends!`: one test body run on both stores.

mod caddy;
mod data;
mod nginx;
mod process;
mod proxy;

use std::pin::Pin;
use std::sync::Arc;

use confab::config::Config;
use confab_core::api::{
    ErrorBody, MessageCreated, MessageEnvelope, MessagePage, SearchPage, SessionPage, StarredPage,
    UserEnvelope,
};
use confab_core::chat_stream::{chat_events, server_sent_events, ChatEvent, DecodeError};
use confab_core::model::Message;
use confab_core::store::mongo::command_log::{assert_shapes, CommandLog, Indexes};
use confab_core::store::mongo::MongoStore;
use confab_core::store::DynStore;
use futures::{Stream, StreamExt};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub use caddy::Caddy;
pub use data::{Backend, TestData};
pub use nginx::Nginx;
pub use process::{confab, listening_url, run_to_end, TestProcess};
pub use proxy::ProxyProcess;

/// Writes one test for both backends: `both_backends!(name, |backend| async move { ... });`
/// expands to `mod name { async fn sqlite() ...; async fn mongo() ... }`, each a multi-threaded
/// `#[tokio::test]` whose body sees `backend` set to its [`Backend`]. The body may use what
/// the test file has in scope.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, |$backend:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $backend = $crate::support::Backend::Sqlite;
                $body.await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mongo() {
                let $backend = $crate::support::Backend::Mongo;
                $body.await
            }
        }
    };
}

/// The server in this process, on a random local port, on data of its own.
pub struct TestApp {
    /// `http://127.0.0.1:PORT` (a new port after each restart).
    pub address: String,
    pub store: DynStore,
    pub data: TestData,
    /// The configuration it runs with (its `addr` the current address).
    pub config: Config,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    /// On MongoDB, every command the server's store sent (see `Drop`).
    commands: CommandLog,
    /// On MongoDB, the indexes its server holds, read after the store connected.
    indexes: Option<Indexes>,
}

/// On MongoDB, the end of a test checks every command its server sent as a sharded cluster
/// would route it: each one on a sharded collection names one user (`routing_faults`; the
/// store shapes its queries as for MongoDB even on FerretDB, see `route_every_query`), none
/// reads without a bound (`unbounded_reads`), and an index the server holds serves each
/// (`unindexed`, against the indexes read back with `listIndexes`).
impl Drop for TestApp {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.check_commands();
        }
    }
}

/// One client with its own cookie jar (one browser).
pub struct Client_ {
    pub http: Client,
    pub base: String,
    pub token: Option<String>,
}

impl TestApp {
    /// The server on SQLite.
    pub async fn spawn() -> TestApp {
        Self::spawn_on(Backend::Sqlite).await
    }

    /// The server on SQLite, with `configure` applied to its configuration.
    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_with_on(Backend::Sqlite, configure).await
    }

    /// The server on SQLite with the fake model provider as its default provider.
    pub async fn spawn_with_provider(provider_url: &str) -> TestApp {
        Self::spawn_with_provider_on(Backend::Sqlite, provider_url).await
    }

    /// The server on `backend`.
    pub async fn spawn_on(backend: Backend) -> TestApp {
        Self::spawn_with_on(backend, |_| {}).await
    }

    /// The server on `backend` with the fake model provider as its default provider.
    pub async fn spawn_with_provider_on(backend: Backend, provider_url: &str) -> TestApp {
        let url = provider_url.to_owned();
        Self::spawn_with_on(backend, move |config| {
            config.openai_base_url = url.into();
            config.default_model = "fake-model".into();
        })
        .await
    }

    /// The server on fresh data on `backend`, with `configure` applied to its configuration
    /// (whose `addr` is already the real address, for settings derived from it).
    pub async fn spawn_with_on(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_on_listener(backend, bind().await, configure).await
    }

    /// `spawn_with_on`, serving on `listener` (one with socket options of the test's choice).
    pub async fn spawn_on_listener(
        backend: Backend,
        listener: tokio::net::TcpListener,
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        let data = TestData::fresh(backend);
        let mut config = Config::for_data_dir(data.dir.path());
        data.apply(&mut config);
        config.max_body_bytes = 64 * 1024;
        config.max_import_bytes = 256 * 1024;
        // The real address, so configuration that depends on it (redirect URLs) is right.
        config.addr = listener.local_addr().expect("address");
        let address = format!("http://{}", config.addr);
        configure(&mut config);
        let commands = CommandLog::default();
        let (store, indexes, stop, server) = start(listener, &config, &commands).await;
        TestApp {
            address,
            store,
            data,
            config,
            stop: Some(stop),
            server: Some(server),
            commands,
            indexes,
        }
    }

    /// The server on `store`, which the test opened itself (to keep a typed handle on it),
    /// instead of the store the configuration names. The store's own data is the test's to
    /// keep: a restart opens the data the configuration names.
    pub async fn spawn_with_store(store: DynStore, configure: impl FnOnce(&mut Config)) -> TestApp {
        let data = TestData::fresh(Backend::Sqlite);
        let mut config = Config::for_data_dir(data.dir.path());
        data.apply(&mut config);
        config.max_body_bytes = 64 * 1024;
        config.max_import_bytes = 256 * 1024;
        let listener = bind().await;
        config.addr = listener.local_addr().expect("address");
        let address = format!("http://{}", config.addr);
        configure(&mut config);
        let (store, stop, server) = serve_store(listener, &config, store);
        TestApp {
            address,
            store,
            data,
            config,
            stop: Some(stop),
            server: Some(server),
            commands: CommandLog::default(),
            indexes: None,
        }
    }

    /// Stops the server as SIGTERM would, then starts a new one on the same data and
    /// configuration, at a new address. Clients made before follow with [`Client_::follow`];
    /// settings derived from the old address (e.g. `public_url`) are kept as they were.
    pub async fn restart(&mut self) {
        self.restart_with(|_| {}).await;
    }

    /// [`TestApp::restart`], with `configure` applied to the configuration first.
    pub async fn restart_with(&mut self, configure: impl FnOnce(&mut Config)) {
        // What the server before the restart sent, before the new one's connect is left out.
        self.check_commands();
        self.shut_down().await;
        let listener = bind().await;
        self.config.addr = listener.local_addr().expect("address");
        self.address = format!("http://{}", self.config.addr);
        configure(&mut self.config);
        let (store, indexes, stop, server) = start(listener, &self.config, &self.commands).await;
        self.store = store;
        self.indexes = indexes;
        self.stop = Some(stop);
        self.server = Some(server);
    }

    /// Checks what the server's MongoDB store sent since the last check (see `Drop`).
    fn check_commands(&self) {
        let commands = self.commands.take();
        if let Some(indexes) = &self.indexes {
            assert_shapes(&commands, indexes);
        }
    }

    /// Stops the server as SIGTERM would, and waits until it has finished.
    pub async fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task");
        }
    }

    /// A new browser-like client: keeps cookies, sends our Origin on writes.
    pub fn client(&self) -> Client_ {
        Client_::browser(&self.address)
    }

    /// A client that signs up a fresh account and stays signed in.
    pub async fn user(&self, email: &str) -> Client_ {
        let client = self.client();
        client.sign_up(email, "a good password").await;
        client
    }
}

impl Client_ {
    /// A new browser-like client of the server at `base`: keeps cookies, sends the server's
    /// own Origin on writes.
    pub fn browser(base: &str) -> Client_ {
        Client_ {
            http: Client::builder()
                .cookie_store(true)
                .build()
                .expect("client"),
            base: base.to_owned(),
            token: None,
        }
    }

    /// [`Client_::browser`], connecting from `source` (any 127.x.y.z reaches a server on
    /// 127.0.0.1), so the server sees another client address.
    pub fn browser_from(base: &str, source: &str) -> Client_ {
        let source: std::net::IpAddr = source.parse().expect("source address");
        Client_ {
            http: Client::builder()
                .cookie_store(true)
                .local_address(source)
                .build()
                .expect("client"),
            base: base.to_owned(),
            token: None,
        }
    }

    /// Points this client at a server's new address (after a restart). Cookies do not depend
    /// on the port, so a sign-in the server kept goes on working.
    pub fn follow(&mut self, base: &str) {
        self.base = base.to_owned();
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut builder = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            builder = builder.bearer_auth(token);
        } else {
            builder = builder.header("Origin", &self.base);
        }
        builder
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path)
            .send()
            .await
            .expect("request")
    }

    /// GETs `path` and returns its JSON body, asserting 200.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("json")
    }

    /// POSTs `body` as it is (bytes, not re-encoded) with a JSON content type.
    pub async fn post_raw(&self, path: &str, body: &str) -> Response {
        self.request(Method::POST, path)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request")
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.request(Method::POST, path)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn put(&self, path: &str, body: Value) -> Response {
        self.request(Method::PUT, path)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path)
            .send()
            .await
            .expect("request")
    }

    pub async fn signup(&self, email: &str, password: &str) -> Response {
        self.post(
            "/api/auth/signup",
            json!({ "email": email, "password": password }),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post(
            "/api/auth/login",
            json!({ "email": email, "password": password }),
        )
        .await
    }

    /// Posts a message and returns the JSON answer as it came, asserting 201 (typed:
    /// [`Client_::post_message`]).
    pub async fn message(&self, session_id: Option<&str>, role: &str, content: &str) -> Value {
        let mut body = json!({ "role": role, "content": content });
        if let Some(session_id) = session_id {
            body["sessionId"] = json!(session_id);
        }
        let response = self.post("/api/chat/messages", body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.expect("json")
    }

    /// Makes an API token named `name` and returns its secret.
    pub async fn new_api_token(&self, name: &str) -> String {
        let response = self.post("/api/tokens", json!({ "name": name })).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let created: Value = response.json().await.expect("json");
        created["token"].as_str().expect("a token").to_owned()
    }

    /// Signs up and stays signed in, asserting 201; returns the new user.
    pub async fn sign_up(&self, email: &str, password: &str) -> UserEnvelope {
        let response = self.signup(email, password).await;
        assert_eq!(response.status(), StatusCode::CREATED, "signup of {email}");
        response.json().await.expect("a user")
    }

    /// Signs in and stays signed in, asserting 200; returns the user.
    pub async fn sign_in(&self, email: &str, password: &str) -> UserEnvelope {
        let response = self.login(email, password).await;
        assert_eq!(response.status(), StatusCode::OK, "sign-in of {email}");
        response.json().await.expect("a user")
    }

    /// GETs `path` and reads its body as `T`, asserting 200.
    pub async fn get_as<T: DeserializeOwned>(&self, path: &str) -> T {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("the answer's type")
    }

    /// Posts a message (in a new session without `session_id`), asserting 201.
    pub async fn post_message(
        &self,
        session_id: Option<&str>,
        role: &str,
        content: &str,
    ) -> MessageCreated {
        let created = self.message(session_id, role, content).await;
        serde_json::from_value(created).expect("the message and its session")
    }

    /// The first page of a session's messages.
    pub async fn messages(&self, session_id: &str) -> MessagePage {
        self.get_as(&format!("/api/chat/messages?sessionId={session_id}"))
            .await
    }

    /// The first page of the signed-in user's sessions.
    pub async fn sessions(&self) -> SessionPage {
        self.get_as("/api/chat/sessions").await
    }

    /// The first page of what a search for `q` finds (`q` as it goes in the query string).
    pub async fn search(&self, q: &str) -> SearchPage {
        self.get_as(&format!("/api/chat/search?q={q}")).await
    }

    /// `GET /api/chat/search` with `params` URL-encoded (`q` among them), as it answers.
    pub async fn search_with(&self, params: &[(&str, &str)]) -> Response {
        self.request(Method::GET, "/api/chat/search")
            .query(params)
            .send()
            .await
            .expect("request")
    }

    /// Stars (`PUT`) or unstars (`DELETE`) a message, asserting 200; returns it as stored.
    pub async fn set_star(&self, message_id: &str, starred: bool) -> Message {
        let path = format!("/api/chat/messages/{message_id}/star");
        let response = if starred {
            self.put(&path, json!({})).await
        } else {
            self.delete(&path).await
        };
        assert_eq!(response.status(), StatusCode::OK, "star {message_id}");
        let envelope: MessageEnvelope = response.json().await.expect("the message");
        envelope.message
    }

    /// A page of the Starred view (`query` as it goes in the query string, `""` for none).
    pub async fn starred(&self, query: &str) -> StarredPage {
        self.get_as(&format!("/api/chat/starred{query}")).await
    }

    /// Starts a chat reply (`POST /api/chat` with `body`), read as it streams.
    pub async fn chat(&self, body: Value) -> ChatEvents {
        ChatEvents::new(self.post("/api/chat", body).await)
    }

    /// `POST /api/chat/sessions/{session_id}/fork` at `message_id`, answered as it comes.
    pub async fn fork(&self, session_id: &str, message_id: &str) -> Response {
        self.post(
            &format!("/api/chat/sessions/{session_id}/fork"),
            json!({ "messageId": message_id }),
        )
        .await
    }

    pub async fn session(&self, title: &str) -> Value {
        let response = self
            .post("/api/chat/sessions", json!({ "title": title }))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.expect("json")
    }
}

/// A chat reply stream (`/api/chat`, `/api/chat/regenerate`) read event by event as it
/// arrives, with the decoder the browser uses (`confab_core::chat_stream`).
pub struct ChatEvents {
    events: Pin<Box<dyn Stream<Item = Result<ChatEvent, DecodeError<reqwest::Error>>> + Send>>,
}

impl ChatEvents {
    pub fn new(response: Response) -> ChatEvents {
        assert_eq!(response.status(), StatusCode::OK);
        ChatEvents {
            events: Box::pin(chat_events(response.bytes_stream())),
        }
    }

    /// The next event; `None` when the stream ended.
    pub async fn next(&mut self) -> Option<ChatEvent> {
        self.events
            .next()
            .await
            .map(|event| event.unwrap_or_else(|error| panic!("{error}")))
    }

    /// The next event; `None` when the stream ended or was cut (by a server that was killed).
    pub async fn next_unless_cut(&mut self) -> Option<ChatEvent> {
        match self.events.next().await? {
            Ok(event) => Some(event),
            Err(DecodeError::Transport(_)) => None,
            Err(error) => panic!("{error}"),
        }
    }

    /// Reads until an event named `name` (`delta`, `done`, …), returning it.
    pub async fn until(&mut self, name: &str) -> ChatEvent {
        while let Some(event) = self.next().await {
            if event.encode().0 == name {
                return event;
            }
        }
        panic!("the stream ended before a {name:?} event");
    }

    /// Reads to the end.
    pub async fn all(mut self) -> Vec<ChatEvent> {
        let mut events = Vec::new();
        while let Some(event) = self.next().await {
            events.push(event);
        }
        events
    }
}

/// A chat event as its SSE name and its data as JSON, as the wire carries it.
pub fn named(event: &ChatEvent) -> (String, Value) {
    let (name, data) = event.encode();
    (
        name,
        serde_json::from_str(&data).expect("event data is JSON"),
    )
}

/// The events of a whole Server-Sent Events body, read with the decoder the browser uses: each
/// one's name and its data, parsed as JSON when it is JSON (`[DONE]` is not).
pub fn sse_events(body: &str) -> Vec<(String, Value)> {
    let bytes = futures::stream::iter([Ok::<_, std::convert::Infallible>(body.as_bytes())]);
    futures::executor::block_on(server_sent_events(bytes).collect::<Vec<_>>())
        .into_iter()
        .map(|event| {
            let event = event.expect("a well-formed event stream");
            let data = serde_json::from_str(&event.data).unwrap_or(Value::String(event.data));
            (event.event, data)
        })
        .collect()
}

/// The body of an API error answer.
pub async fn error_body(response: Response) -> ErrorBody {
    response.json().await.expect("an error body")
}

/// The error code of an API error answer.
pub async fn error_code(response: Response) -> String {
    error_body(response).await.error.code
}

async fn bind() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
}

/// Opens the store of `config` and serves it on `listener` until the returned sender fires.
/// A MongoDB store's commands go to `commands`, what it sends while connecting left out, and
/// the indexes its server holds once connected are returned (`None` on SQLite).
async fn start(
    listener: tokio::net::TcpListener,
    config: &Config,
    commands: &CommandLog,
) -> (
    DynStore,
    Option<Indexes>,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let url = config
        .database_url
        .as_ref()
        .map(secrecy::ExposeSecret::expose_secret);
    let (store, indexes): (DynStore, _) = match url {
        Some(url) if url.starts_with("mongodb") => {
            let mut store = MongoStore::connect_with(url, |options| commands.monitor(options))
                .await
                .expect("open the MongoDB store");
            commands.pooled().await;
            store.route_every_query();
            let indexes = Indexes::read(store.database(), store.server())
                .await
                .expect("listIndexes");
            commands.take();
            (Arc::new(store), Some(indexes))
        }
        _ => (confab::store::open(config).await.expect("open store"), None),
    };
    let (store, stop, server) = serve_store(listener, config, store);
    (store, indexes, stop, server)
}

/// Serves `store` (whatever the configuration names) on `listener`.
fn serve_store(
    listener: tokio::net::TcpListener,
    config: &Config,
    store: DynStore,
) -> (DynStore, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let server_store = Arc::clone(&store);
    let config = config.clone();
    let server = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        confab::serve(listener, server_store, config, shutdown)
            .await
            .expect("server");
    });
    (store, stop, server)
}

/// The text of the sign-in page's provider error, without Leptos' hydration markers.
pub fn provider_error(html: &str) -> Option<String> {
    let start = html.find("provider-error")?;
    let text_start = start + html.get(start..)?.find('>')? + 1;
    let text_end = text_start + html.get(text_start..)?.find("</p>")?;
    let text = html.get(text_start..text_end)?.replace("<!>", "");
    Some(text)
}

/// What the fake provider (`fake-openai`) at `provider` was asked, oldest first.
pub async fn provider_requests(provider: &str) -> Vec<Value> {
    let url = format!("{}/_requests", provider.trim_end_matches("/v1"));
    reqwest::get(url)
        .await
        .unwrap()
        .json::<Vec<Value>>()
        .await
        .unwrap()
}
