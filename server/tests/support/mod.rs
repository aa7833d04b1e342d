//! `TestApp`: the real server on a random port with a fresh database, and typed helpers that
//! speak its REST API the way a client would.

#![allow(dead_code)]

use std::sync::Arc;

use confab::config::Config;
use confab_core::store::DynStore;
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub struct TestApp {
    pub address: String,
    pub store: DynStore,
    _data: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// One client with its own cookie jar (one browser).
pub struct Client_ {
    pub http: Client,
    pub base: String,
    pub token: Option<String>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_serving(None, configure).await
    }

    /// The server on `store`, which the test opened itself (to keep a typed handle on it),
    /// instead of the store the configuration names.
    pub async fn spawn_with_store(store: DynStore, configure: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_serving(Some(store), configure).await
    }

    async fn spawn_serving(
        store: Option<DynStore>,
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        let data = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_data_dir(data.path());
        config.max_body_bytes = 64 * 1024;
        config.max_import_bytes = 256 * 1024;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        // The real address, so configuration that depends on it (redirect URLs) is right.
        config.addr = listener.local_addr().expect("address");
        configure(&mut config);
        let store = match store {
            Some(store) => store,
            None => confab::store::open(&config).await.expect("open store"),
        };
        let address = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let server_store = Arc::clone(&store);
        let server = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            confab::serve(listener, server_store, config, shutdown)
                .await
                .expect("server");
        });
        TestApp {
            address,
            store,
            _data: data,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// The server with the fake model provider as its default provider.
    pub async fn spawn_with_provider(provider_url: &str) -> TestApp {
        let url = provider_url.to_owned();
        Self::spawn_with(move |config| {
            config.openai_base_url = url;
            config.default_model = "fake-model".into();
        })
        .await
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
        Client_ {
            http: Client::builder()
                .cookie_store(true)
                .build()
                .expect("client"),
            base: self.address.clone(),
            token: None,
        }
    }

    /// A client that signs up a fresh account and stays signed in.
    pub async fn user(&self, email: &str) -> Client_ {
        let client = self.client();
        let response = client.signup(email, "a good password").await;
        assert_eq!(response.status(), StatusCode::CREATED, "signup of {email}");
        client
    }
}

impl Client_ {
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

    /// Posts a message and returns the JSON answer, asserting 201.
    pub async fn message(&self, session_id: Option<&str>, role: &str, content: &str) -> Value {
        let mut body = json!({ "role": role, "content": content });
        if let Some(session_id) = session_id {
            body["sessionId"] = json!(session_id);
        }
        let response = self.post("/api/chat/messages", body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.expect("json")
    }

    pub async fn session(&self, title: &str) -> Value {
        let response = self
            .post("/api/chat/sessions", json!({ "title": title }))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.expect("json")
    }
}

/// The error code of an API error answer.
pub async fn error_code(response: Response) -> String {
    let body: Value = response.json().await.expect("error body is JSON");
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
