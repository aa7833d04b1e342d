//! Time-ordered ids (UUIDv7), so ids sort like creation times in every backend.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::{Timestamp, Uuid};

/// A fresh id for something created now.
pub fn new_id() -> String {
    Uuid::now_v7().to_string()
}

/// A fresh id for something created at `time` (imports keep the original order).
pub fn id_at(time: DateTime<Utc>) -> String {
    let seconds = time.timestamp().max(0) as u64;
    let nanos = time.timestamp_subsec_nanos();
    Uuid::new_v7(Timestamp::from_unix(uuid::NoContext, seconds, nanos)).to_string()
}

/// The same id every time for the same owner and source key, ordered by `time` and then by
/// `order` (the position in the source, for things created in the same millisecond). Imports
/// use it so that importing a file twice produces the same rows, which the store then skips.
pub fn derived_id(time: DateTime<Utc>, order: u16, owner: &str, source_key: &str) -> String {
    let digest = Sha256::new()
        .chain_update(owner.as_bytes())
        .chain_update([0])
        .chain_update(source_key.as_bytes())
        .finalize();
    let millis = time.timestamp_millis().clamp(0, (1 << 48) - 1) as u64;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    // Version 7 with the 12-bit order where UUIDv7 keeps its sub-millisecond sequence.
    let order = order.min(0x0fff);
    bytes[6] = 0x70 | (order >> 8) as u8;
    bytes[7] = (order & 0xff) as u8;
    bytes[8..].copy_from_slice(&digest[..8]);
    // The RFC 4122 variant.
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes).to_string()
}

/// Whether `text` looks like one of our ids (cheap check before touching the store).
pub fn is_valid_id(text: &str) -> bool {
    text.len() == 36 && Uuid::parse_str(text).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time() {
        let first = new_id();
        let second = new_id();
        assert!(first < second);
        let early = id_at(DateTime::from_timestamp(1_000, 0).unwrap());
        assert!(early < first);
    }

    #[test]
    fn derived_ids_are_stable_and_owner_specific() {
        let time = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let a = derived_id(time, 0, "user-1", "chatgpt:abc");
        assert_eq!(a, derived_id(time, 0, "user-1", "chatgpt:abc"));
        assert_ne!(a, derived_id(time, 0, "user-2", "chatgpt:abc"));
        assert!(
            a < derived_id(time, 1, "user-1", "chatgpt:zzz"),
            "order breaks ties"
        );
        assert!(is_valid_id(&a));
        assert_eq!(Uuid::parse_str(&a).unwrap().get_version_num(), 7);
    }
}
