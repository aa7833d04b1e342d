// Opens a server-rendered conversation at its end before the WASM has loaded: the message
// list is the element just before this script. A file and not an inline script because the
// Content-Security-Policy runs inline scripts only with the nonce of the answer that carried
// them, and the WASM, which renders this element too, cannot know that nonce. The WASM renders
// it without its source (app/src/components/message_list.rs); should it ever run once the app
// has hydrated (frontend/src/lib.rs sets the marker), it does nothing: the app places the list
// itself, and a late run would undo a reader's scrolling.
if (!window.__confabHydrated) {
  document.currentScript.previousElementSibling.scrollTop = 1e9;
}
