//! The browser entry point: hydrates the server-rendered page.

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
