//! Counts in English words: "1 message", "2 messages".

/// `count` followed by `one` when it is 1, by `many` otherwise ("0 messages", "1 message").
pub fn counted(count: u64, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::counted;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(counted(0, "message", "messages"), "0 messages");
        assert_eq!(counted(1, "message", "messages"), "1 message");
        assert_eq!(counted(2, "message", "messages"), "2 messages");
        assert_eq!(
            counted(1, "conversation", "conversations"),
            "1 conversation"
        );
    }
}
