//! The browser entry point: hydrates the server-rendered page.

// Hydrating the app lays out its view types, as deep as the app crate's own limit allows them
// to be (`app/src/lib.rs`): the default limit overflowed on the conversation's message list
// once the pages became children of a layout route.
#![recursion_limit = "512"]

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // Browser tests wait for this before they click: before hydration a click reaches no handler.
    let _ = js_sys::Reflect::set(
        &js_sys::global(),
        &"__confabHydrated".into(),
        &wasm_bindgen::JsValue::TRUE,
    );
}
