//! The sidebar's frame on narrow screens: a drawer over the page, opened by the header's menu
//! button. On wide screens the same frame is the sidebar's column and none of this shows.
//!
//! The drawer holds the sidebar itself (not a copy), so every function of the sidebar is on a
//! phone too, and what the sidebar gains later comes with it.

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::client;

/// The drawer's id, which the menu button's `aria-controls` names.
const DRAWER_ID: &str = "sidebar-drawer";
/// Where the focus goes back to when the drawer closes.
const MENU_BUTTON_ID: &str = "drawer-button";
/// Where the focus goes when the drawer opens.
const CLOSE_BUTTON_ID: &str = "drawer-close";
/// The widest window in which the sidebar is a drawer: `style/main.css` says the same.
const NARROW_MAX_WIDTH: f64 = 720.0;

/// Whether the drawer is open, shared by the header's menu button and the sidebar's frame
/// (which are in different parts of the page).
#[derive(Clone, Copy)]
pub struct Drawer {
    /// Open: the sidebar is over the page and the rest of the page is inert.
    pub is_open: RwSignal<bool>,
    /// A sidebar is mounted for the drawer to show (not on the administration pages): only then
    /// is there a menu button.
    present: RwSignal<bool>,
}

impl Drawer {
    /// Opens the drawer and moves the focus into it.
    pub fn open(&self) {
        self.is_open.set(true);
        // After the open drawer is drawn: a hidden element cannot take the focus.
        client::after(Duration::ZERO, || client::focus(CLOSE_BUTTON_ID));
    }

    /// Closes the drawer, if open, and gives the focus back to the menu button.
    pub fn close(&self) {
        if self.is_open.get_untracked() {
            self.is_open.set(false);
            // After the page behind is no longer inert: an inert button cannot take the focus.
            client::after(Duration::ZERO, || client::focus(MENU_BUTTON_ID));
        }
    }
}

/// Makes the drawer's state available to the header and the workspace.
pub fn provide_drawer() {
    provide_context(Drawer {
        is_open: RwSignal::new(false),
        present: RwSignal::new(false),
    });
}

/// The drawer's state (see `provide_drawer`).
pub fn use_drawer() -> Drawer {
    expect_context()
}

/// The header's menu button, shown only on narrow screens (by the style) and only where there is
/// a sidebar.
#[component]
pub fn MenuButton() -> impl IntoView {
    let drawer = use_drawer();
    view! {
        <Show when=move || drawer.present.get()>
            <button type="button" id=MENU_BUTTON_ID class="ghost drawer-button" aria-label="Menu"
                aria-controls=DRAWER_ID aria-expanded=move || drawer.is_open.get().to_string()
                on:click=move |_| drawer.open()>
                <span class="drawer-button-icon" aria-hidden="true"></span>
            </button>
        </Show>
    }
}

/// The frame around the sidebar: its column on wide screens; on narrow ones a dialog that slides
/// over the page, with a backdrop and a close button.
#[component]
pub fn DrawerFrame(children: Children) -> impl IntoView {
    let drawer = use_drawer();
    // After the first render, so the page from the server and the hydrated one agree (neither
    // has the button: it is of no use before the page is hydrated).
    Effect::new(move |_| drawer.present.set(true));
    on_cleanup(move || {
        drawer.present.set(false);
        drawer.is_open.set(false);
    });

    // Opening a conversation, or going anywhere else, closes the drawer.
    let location = use_location();
    Effect::watch(
        move || (location.pathname.get(), location.search.get()),
        move |_, _, _| drawer.close(),
        false,
    );

    let escape = window_event_listener(leptos::ev::keydown, move |event| {
        if event.key() == "Escape" && drawer.is_open.get_untracked() {
            event.prevent_default();
            drawer.close();
        }
    });
    // A window widened past the phone layout shows the sidebar in its column: an open drawer
    // would leave the rest of the page inert.
    let resize = window_event_listener(leptos::ev::resize, move |_| {
        let wide = window()
            .inner_width()
            .ok()
            .and_then(|width| width.as_f64())
            .is_some_and(|width| width > NARROW_MAX_WIDTH);
        if wide && drawer.is_open.get_untracked() {
            drawer.close();
        }
    });
    on_cleanup(move || {
        escape.remove();
        resize.remove();
    });

    // A link followed from the drawer closes it, even one to the page already shown (which
    // changes no location). Downloads stay on the page.
    let on_click = move |event: leptos::ev::MouseEvent| {
        let target: web_sys::Element = event_target(&event);
        let followed_link = target
            .closest("a[href]:not([download])")
            .ok()
            .flatten()
            .is_some();
        if followed_link {
            drawer.close();
        }
    };

    let open = move || drawer.is_open.get();
    view! {
        <Show when=open>
            <div class="drawer-backdrop" on:click=move |_| drawer.close()></div>
        </Show>
        // A dialog only while open: on wide screens, and closed, it is the sidebar's column.
        <div id=DRAWER_ID class="drawer" class:open=open on:click=on_click
            role=move || open().then_some("dialog")
            aria-modal=move || open().then_some("true")
            aria-label=move || open().then_some("Menu")>
            <div class="drawer-head">
                <button type="button" id=CLOSE_BUTTON_ID class="ghost" on:click=move |_| drawer.close()>
                    "Close"
                </button>
            </div>
            {children()}
        </div>
    }
}
