//! ChatGPT's data export: a ZIP holding `conversations.json` (newer exports split it into
//! `conversations-000.json`, `conversations-001.json`, …) beside images and HTML. A ZIP's
//! directory is at its end, so the upload is first spooled to an unnamed temporary file.

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::pipeline::{peek, read_json, Halt, Limited, Sink};
use super::Problem;
use crate::service::ServiceError;

/// Whether an entry holds conversations: `conversations.json` or `conversations-NNN.json`, in
/// any folder.
fn holds_conversations(name: &str) -> bool {
    let base = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase();
    base.starts_with("conversations") && base.ends_with(".json") && !name.starts_with("__MACOSX")
}

pub(super) fn read_conversations(
    mut input: impl Read,
    sink: &mut Sink,
    max_bytes: u64,
) -> Result<(), Halt> {
    let mut spool = tempfile::tempfile().map_err(|error| {
        ServiceError::Internal(format!(
            "cannot create a temporary file for the upload: {error}"
        ))
    })?;
    std::io::copy(&mut input, &mut spool).map_err(|error| {
        ServiceError::invalid(
            "unreadable_file",
            format!("the file could not be read: {error}"),
        )
    })?;
    spool
        .seek(SeekFrom::Start(0))
        .map_err(|error| ServiceError::Internal(format!("cannot reread the upload: {error}")))?;
    let mut archive = zip::ZipArchive::new(spool).map_err(|error| {
        ServiceError::invalid(
            "invalid_zip",
            format!("the ZIP file cannot be read: {error}"),
        )
    })?;
    let mut names: Vec<String> = archive
        .file_names()
        .filter_map(Result::ok)
        .filter(|name| holds_conversations(name))
        .map(|name| name.into_owned())
        .collect();
    if names.is_empty() {
        return Err(ServiceError::invalid(
            "unsupported_format",
            "the ZIP file holds no conversations.json",
        )
        .into());
    }
    names.sort();
    tracing::debug!(files = names.len(), "importing conversations from a ZIP");

    // The entries' sizes are the archive's word; the bytes actually unpacked are counted.
    let unpacked = Arc::new(AtomicU64::new(0));
    let exceeded = Arc::new(AtomicBool::new(false));
    for name in names {
        let entry = match archive.by_name(&name) {
            Ok(entry) => entry,
            Err(error) => {
                sink.problem(Problem::new(
                    Some(&name),
                    format!("it cannot be unpacked: {error}"),
                ));
                continue;
            }
        };
        let limited = Limited::new(entry, max_bytes, unpacked.clone(), exceeded.clone());
        let mut input = BufReader::with_capacity(64 * 1024, limited);
        let outcome = peek(&mut input).and_then(|container| read_json(input, container, sink));
        match outcome {
            Ok(()) => {}
            Err(Halt::Cancelled) => return Err(Halt::Cancelled),
            Err(Halt::Failed(_)) if exceeded.load(Ordering::Relaxed) => {
                return Err(ServiceError::TooLarge(
                    format!(
                        "the conversations in the ZIP file unpack to more than the import limit of {} MiB",
                        max_bytes.div_ceil(1024 * 1024)
                    ),
                )
                .into());
            }
            // One broken file should not cost the others.
            Err(Halt::Failed(error)) => sink.problem(Problem::new(Some(&name), error.to_string())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversation_files_are_found() {
        assert!(holds_conversations("conversations.json"));
        assert!(holds_conversations("export/conversations-003.json"));
        assert!(!holds_conversations("chat.html"));
        assert!(!holds_conversations("user.json"));
        assert!(!holds_conversations("__MACOSX/._conversations.json"));
    }
}
