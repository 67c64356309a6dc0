//! The one duration format, so a p99 prints the same in the TUI, the
//! progress line, the summary, `compare` and the report.

/// Formats nanoseconds with a unit readable from ns to s, to three
/// significant digits: `850ns`, `41.2µs`, `320µs`, `3.45ms`, `1.20s`.
/// Negative values (differences in `compare`) keep their sign.
pub fn format_ns(ns: f64) -> String {
    let a = ns.abs();
    let (v, unit) = if a >= 1e9 {
        (ns / 1e9, "s")
    } else if a >= 1e6 {
        (ns / 1e6, "ms")
    } else if a >= 1e3 {
        (ns / 1e3, "µs")
    } else {
        return format!("{ns:.0}ns");
    };
    let decimals = match v.abs() {
        x if x >= 100.0 => 0,
        x if x >= 10.0 => 1,
        _ => 2,
    };
    format!("{v:.decimals$}{unit}")
}

/// Seconds as a person reads them: `42s`, `3m05s`, `1h02m`.
pub fn format_secs(v: f64) -> String {
    let t = v.max(0.0).round() as u64;
    match t {
        0..=59 => format!("{t}s"),
        60..=3599 => format!("{}m{:02}s", t / 60, t % 60),
        _ => format!("{}h{:02}m", t / 3600, (t % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::format_ns;

    #[test]
    fn units_switch_at_each_thousand() {
        assert_eq!(format_ns(850.0), "850ns");
        assert_eq!(format_ns(41_234.0), "41.2µs");
        assert_eq!(format_ns(320_000.0), "320µs");
        assert_eq!(format_ns(3_454_000.0), "3.45ms");
        assert_eq!(format_ns(1.2e9), "1.20s");
        assert_eq!(format_ns(-2_500_000.0), "-2.50ms");
        assert_eq!(super::format_secs(42.4), "42s");
        assert_eq!(super::format_secs(185.0), "3m05s");
        assert_eq!(super::format_secs(3720.0), "1h02m");
    }
}
