//! What only a browser can do: stream a reply from `/api/chat` (a server function cannot
//! stream), upload an import, remember things in localStorage, copy, scroll. On the server
//! these are never called from a render path; their stubs do nothing.

use std::time::Duration;

/// How a streamed request ended before its last event.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamError {
    /// The Stop button: the server keeps and saves the reply anyway.
    Aborted,
    /// Network or HTTP failure, with a sentence for the user.
    Failed(String),
}

/// Runs `action` after `delay` (browser only).
pub fn after(delay: Duration, action: impl FnOnce() + 'static) {
    #[cfg(feature = "hydrate")]
    leptos::prelude::set_timeout(action, delay);
    #[cfg(not(feature = "hydrate"))]
    let _ = (delay, action);
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::StreamError;
    use confab_core::chat_stream::{chat_events, ChatEvent, DecodeError};
    use futures::StreamExt;
    use std::cell::RefCell;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    thread_local! {
        static CURRENT_ABORT: RefCell<Option<web_sys::AbortController>> = const { RefCell::new(None) };
    }

    fn describe(error: JsValue) -> String {
        error
            .dyn_ref::<js_sys::Error>()
            .map(|error| String::from(error.message()))
            .or_else(|| error.as_string())
            .unwrap_or_else(|| "the request failed".into())
    }

    fn is_abort(error: &JsValue) -> bool {
        js_sys::Reflect::get(error, &"name".into())
            .ok()
            .and_then(|name| name.as_string())
            .is_some_and(|name| name == "AbortError")
    }

    /// The error sentence from a JSON error body `{"error": {"message": ...}}`.
    fn error_from_body(status: u16, body: &str) -> String {
        serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|value| {
                value
                    .pointer("/error/message")
                    .and_then(|message| message.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| format!("the server answered {status}"))
    }

    async fn post(
        path: &str,
        body: &str,
        accept: &str,
        signal: Option<&web_sys::AbortSignal>,
    ) -> Result<web_sys::Response, StreamError> {
        let window = web_sys::window().ok_or_else(|| StreamError::Failed("no window".into()))?;
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(&JsValue::from_str(body));
        init.set_credentials(web_sys::RequestCredentials::SameOrigin);
        let headers = web_sys::Headers::new().map_err(|e| StreamError::Failed(describe(e)))?;
        let _ = headers.set("Content-Type", "application/json");
        let _ = headers.set("Accept", accept);
        init.set_headers(&headers);
        if let Some(signal) = signal {
            init.set_signal(Some(signal));
        }
        let response = JsFuture::from(window.fetch_with_str_and_init(path, &init))
            .await
            .map_err(|error| {
                if is_abort(&error) {
                    StreamError::Aborted
                } else {
                    StreamError::Failed(describe(error))
                }
            })?;
        response
            .dyn_into::<web_sys::Response>()
            .map_err(|_| StreamError::Failed("not a response".into()))
    }

    async fn text_of(response: &web_sys::Response) -> String {
        match response.text() {
            Ok(promise) => JsFuture::from(promise)
                .await
                .ok()
                .and_then(|text| text.as_string())
                .unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn post_json(path: &str, body: &str) -> Result<String, String> {
        let response =
            post(path, body, "application/json", None)
                .await
                .map_err(|error| match error {
                    StreamError::Aborted => "cancelled".to_owned(),
                    StreamError::Failed(message) => message,
                })?;
        let text = text_of(&response).await;
        if response.ok() {
            Ok(text)
        } else {
            Err(error_from_body(response.status(), &text))
        }
    }

    pub async fn post_event_stream(
        path: &str,
        body: &str,
        mut on_event: impl FnMut(ChatEvent),
    ) -> Result<(), StreamError> {
        let controller =
            web_sys::AbortController::new().map_err(|e| StreamError::Failed(describe(e)))?;
        let signal = controller.signal();
        CURRENT_ABORT.with(|slot| *slot.borrow_mut() = Some(controller));
        let result = read_stream(path, body, &signal, &mut on_event).await;
        CURRENT_ABORT.with(|slot| *slot.borrow_mut() = None);
        result
    }

    async fn read_stream(
        path: &str,
        body: &str,
        signal: &web_sys::AbortSignal,
        on_event: &mut impl FnMut(ChatEvent),
    ) -> Result<(), StreamError> {
        let response = post(path, body, "text/event-stream", Some(signal)).await?;
        if !response.ok() {
            let text = text_of(&response).await;
            return Err(StreamError::Failed(error_from_body(
                response.status(),
                &text,
            )));
        }
        let body = response
            .body()
            .ok_or_else(|| StreamError::Failed("the reply has no body".into()))?;
        let bytes = wasm_streams::ReadableStream::from_raw(body)
            .try_into_stream()
            .map_err(|_| StreamError::Failed("the reply cannot be read".into()))?
            .map(|chunk| chunk.map(|chunk| js_sys::Uint8Array::new(&chunk).to_vec()));
        let mut events = std::pin::pin!(chat_events(bytes));
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => on_event(event),
                Err(DecodeError::Transport(error)) => {
                    return Err(if is_abort(&error) || signal.aborted() {
                        StreamError::Aborted
                    } else {
                        StreamError::Failed(describe(error))
                    });
                }
                // An event this client does not know (from a newer server) is skipped.
                Err(DecodeError::Event { .. }) => {}
                Err(DecodeError::Malformed(reason)) => {
                    return Err(StreamError::Failed(format!(
                        "the reply stream is malformed: {reason}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// A fresh id for one composed message (`clientId`): time and randomness, 32 hex digits.
    pub fn new_client_id() -> String {
        let time = js_sys::Date::now() as u64;
        let noise = (js_sys::Math::random() * (u64::MAX as f64)) as u64;
        format!("{time:016x}{noise:016x}")
    }

    pub fn abort_current() {
        CURRENT_ABORT.with(|slot| {
            if let Some(controller) = slot.borrow().as_ref() {
                controller.abort();
            }
        });
    }

    /// Loads `path` as a new page, dropping everything the app holds in memory.
    pub fn load_page(path: &str) {
        if let Some(window) = web_sys::window() {
            let _ = window.location().assign(path);
        }
    }

    /// The origin this page was loaded from (`https://host:port`), which links to this site
    /// start with.
    pub fn origin() -> String {
        web_sys::window()
            .and_then(|window| window.location().origin().ok())
            .unwrap_or_default()
    }

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok()?
    }

    pub fn remember(key: &str, value: &str) {
        if let Some(storage) = storage() {
            let _ = storage.set_item(key, value);
        }
    }

    pub fn recall(key: &str) -> Option<String> {
        storage()?.get_item(key).ok()?
    }

    pub fn copy(text: &str) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let clipboard = js_sys::Reflect::get(&window.navigator(), &"clipboard".into());
        if let Ok(clipboard) = clipboard {
            if let Ok(write) = js_sys::Reflect::get(&clipboard, &"writeText".into()) {
                if let Some(write) = write.dyn_ref::<js_sys::Function>() {
                    let _ = write.call1(&clipboard, &JsValue::from_str(text));
                }
            }
        }
    }

    pub fn element(id: &str) -> Option<web_sys::Element> {
        web_sys::window()?.document()?.get_element_by_id(id)
    }

    /// Scrolls to the element and marks it for a moment.
    pub fn reveal(id: &str) -> bool {
        let Some(element) = element(id) else {
            return false;
        };
        let options = web_sys::ScrollIntoViewOptions::new();
        options.set_block(web_sys::ScrollLogicalPosition::Center);
        element.scroll_into_view_with_scroll_into_view_options(&options);
        let _ = element.class_list().add_1("highlight");
        true
    }

    pub fn focus(id: &str) {
        if let Some(element) = element(id).and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = element.focus();
        }
    }

    /// The text of the code block around a clicked "Copy" button.
    pub fn code_for_copy_button(target: &web_sys::EventTarget) -> Option<String> {
        let element = target.dyn_ref::<web_sys::Element>()?;
        let button = element.closest(".copy-code").ok()??;
        let block = button.closest(".code-block").ok()??;
        block.query_selector("code").ok()??.text_content()
    }

    /// Whether the keyboard focus is in a text field (then "/" types a slash).
    pub fn typing_in_field() -> bool {
        web_sys::window()
            .and_then(|window| window.document())
            .and_then(|document| document.active_element())
            .is_some_and(|element| {
                let tag = element.tag_name().to_ascii_lowercase();
                tag == "input" || tag == "textarea" || tag == "select"
            })
    }

    /// The file chosen in the file input `input_id`, and its size in bytes.
    pub fn chosen_file(input_id: &str) -> Result<(web_sys::File, f64), String> {
        let input = element(input_id)
            .and_then(|element| element.dyn_into::<web_sys::HtmlInputElement>().ok())
            .ok_or("no file input")?;
        let file = input
            .files()
            .and_then(|files| files.get(0))
            .ok_or("choose a file first")?;
        let size = file.size();
        Ok((file, size))
    }

    /// POSTs `file` to `path` as the raw body (its bytes as they are: a ZIP stays a ZIP) and
    /// returns the answer's text, or the error sentence of a failed answer.
    pub async fn upload_file(path: &str, file: &web_sys::File) -> Result<String, String> {
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(file);
        init.set_credentials(web_sys::RequestCredentials::SameOrigin);
        let headers = web_sys::Headers::new().map_err(describe)?;
        let _ = headers.set("Content-Type", "application/octet-stream");
        let _ = headers.set("Accept", "application/json");
        init.set_headers(&headers);
        fetch_text(path, &init).await
    }

    /// POSTs the JSON `body` to `path` and saves the answer as a download, under the name its
    /// `Content-Disposition` gives (else `fallback_name`); the error sentence of a failed
    /// answer otherwise. The file is held in the page's memory until it is handed over.
    pub async fn download(path: &str, body: &str, fallback_name: &str) -> Result<(), String> {
        let response = post(path, body, "*/*", None)
            .await
            .map_err(|error| match error {
                StreamError::Aborted => "cancelled".to_owned(),
                StreamError::Failed(message) => message,
            })?;
        if !response.ok() {
            let text = text_of(&response).await;
            return Err(error_from_body(response.status(), &text));
        }
        let name = response
            .headers()
            .get("Content-Disposition")
            .ok()
            .flatten()
            .and_then(|value| attachment_name(&value))
            .unwrap_or_else(|| fallback_name.to_owned());
        let blob: web_sys::Blob = JsFuture::from(response.blob().map_err(describe)?)
            .await
            .map_err(describe)?
            .dyn_into()
            .map_err(|_| "not a file")?;
        let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(describe)?;
        let document = web_sys::window()
            .and_then(|window| window.document())
            .ok_or("no document")?;
        let link: web_sys::HtmlAnchorElement = document
            .create_element("a")
            .map_err(describe)?
            .dyn_into()
            .map_err(|_| "not a link")?;
        link.set_href(&url);
        link.set_download(&name);
        link.click();
        // Revoked at once, the address could be gone before the browser started reading it.
        super::after(std::time::Duration::from_secs(60), move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        });
        Ok(())
    }

    /// The file name of `attachment; filename="NAME"` (Confab's own answers quote it and
    /// leave no quote inside).
    fn attachment_name(disposition: &str) -> Option<String> {
        let (_, rest) = disposition.split_once("filename=\"")?;
        let (name, _) = rest.split_once('"')?;
        Some(name.to_owned()).filter(|name| !name.is_empty())
    }

    /// GETs `path` and returns the answer's text, or the error sentence of a failed answer.
    pub async fn get_text(path: &str) -> Result<String, String> {
        let init = web_sys::RequestInit::new();
        init.set_method("GET");
        init.set_credentials(web_sys::RequestCredentials::SameOrigin);
        fetch_text(path, &init).await
    }

    /// Fetches `path` and returns the answer's text, or the error sentence of a failed answer.
    async fn fetch_text(path: &str, init: &web_sys::RequestInit) -> Result<String, String> {
        let window = web_sys::window().ok_or("no window")?;
        let response: web_sys::Response =
            JsFuture::from(window.fetch_with_str_and_init(path, init))
                .await
                .map_err(describe)?
                .dyn_into()
                .map_err(|_| "not a response")?;
        let text = text_of(&response).await;
        if response.ok() {
            Ok(text)
        } else {
            Err(error_from_body(response.status(), &text))
        }
    }

    /// Resolves after `milliseconds`.
    pub async fn sleep(milliseconds: i32) {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            if let Some(window) = web_sys::window() {
                let _ = window
                    .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, milliseconds);
            }
        });
        let _ = JsFuture::from(promise).await;
    }
}

#[cfg(feature = "hydrate")]
pub use browser::*;

#[cfg(not(feature = "hydrate"))]
mod server_stubs {
    use super::StreamError;
    use confab_core::chat_stream::ChatEvent;

    pub async fn post_json(_path: &str, _body: &str) -> Result<String, String> {
        Err("only in the browser".into())
    }
    pub async fn post_event_stream(
        _path: &str,
        _body: &str,
        _on_event: impl FnMut(ChatEvent),
    ) -> Result<(), StreamError> {
        Err(StreamError::Failed("only in the browser".into()))
    }
    pub fn abort_current() {}
    pub fn new_client_id() -> String {
        String::new()
    }
    pub fn load_page(_path: &str) {}
    pub fn origin() -> String {
        String::new()
    }
    pub fn remember(_key: &str, _value: &str) {}
    pub fn recall(_key: &str) -> Option<String> {
        None
    }
    pub fn copy(_text: &str) {}
    pub fn reveal(_id: &str) -> bool {
        false
    }
    pub fn focus(_id: &str) {}
    pub fn typing_in_field() -> bool {
        false
    }
    pub fn chosen_file(_input_id: &str) -> Result<(web_sys::File, f64), String> {
        Err("only in the browser".into())
    }
    pub async fn upload_file(_path: &str, _file: &web_sys::File) -> Result<String, String> {
        Err("only in the browser".into())
    }
    pub async fn get_text(_path: &str) -> Result<String, String> {
        Err("only in the browser".into())
    }
    pub async fn download(_path: &str, _body: &str, _fallback_name: &str) -> Result<(), String> {
        Err("only in the browser".into())
    }
    pub async fn sleep(_milliseconds: i32) {}
}

#[cfg(not(feature = "hydrate"))]
pub use server_stubs::*;
