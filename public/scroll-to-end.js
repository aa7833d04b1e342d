// Opens a server-rendered conversation at its end before the WASM has loaded: the message
// list is the element just before this script. A file and not an inline script because the
// Content-Security-Policy runs inline scripts only with the nonce of the answer that carried
// them, and the WASM, which renders this element too, cannot know that nonce.
document.currentScript.previousElementSibling.scrollTop = 1e9;
