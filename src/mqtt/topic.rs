//! Topic filters: validation and matching with `+` and `#`.

/// True when `filter` is a valid topic filter: `#` only as the last level
/// and alone in it, `+` alone in its level, not empty.
pub fn valid_filter(filter: &str) -> bool {
    if filter.is_empty() {
        return false;
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i != levels.len() - 1) {
            return false;
        }
        if level.contains('+') && *level != "+" {
            return false;
        }
    }
    true
}

/// True when `topic` (a topic name, no wildcards) matches `filter`.
/// Topics starting with `$` are not matched by a leading wildcard.
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("devices/+/telemetry", "devices/d1/telemetry"));
        assert!(!matches("devices/+/telemetry", "devices/d1/x/telemetry"));
        assert!(matches("devices/#", "devices"));
        assert!(matches("devices/#", "devices/d1/telemetry"));
        assert!(matches("#", "a/b"));
        assert!(!matches("#", "$aws/things/x"));
        assert!(matches("$aws/things/+/shadow", "$aws/things/x/shadow"));
        assert!(matches("a/+", "a/"));
        assert!(!matches("a/b", "a/b/c"));
    }

    #[test]
    fn filter_validity() {
        assert!(valid_filter("a/+/b/#"));
        assert!(!valid_filter("a/#/b"));
        assert!(!valid_filter("a/b#"));
        assert!(!valid_filter("a+/b"));
        assert!(!valid_filter(""));
    }
}
