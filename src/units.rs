//! Sizes and durations as people write them in specs, and as reports show them.
//!
//! Sizes accept Docker's decimal units (`kB`, `MB`, `GB`, what `docker image ls`
//! prints) and binary units (`KiB`, `MiB`, `GiB`), case-insensitively, with or
//! without a space, so a value copied from either world means what it says.

use std::time::Duration;

/// Parses `"10 MB"`, `"1.5GiB"`, `"512"` (bytes) into bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim();
    let bad = || {
        format!(
            "invalid size {text:?}: expected a number of bytes or a number with a unit (B, kB, MB, GB, KiB, MiB, GiB)"
        )
    };
    if number.is_empty() {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    let bytes = value * multiplier as f64;
    if !bytes.is_finite() || bytes > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes.round() as u64)
}

/// Formats bytes the way `docker image ls` does (decimal units, 3 digits).
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if value >= 100.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else if value >= 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

/// Formats bytes in binary units when they are a whole number of them
/// (limits are usually written so: `512 MiB`), else like [`format_size`].
pub fn format_limit(bytes: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    format_size(bytes)
}

/// Parses `"20s"`, `"1m 30s"`, `"500ms"` into a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("invalid duration {text:?}: {e} (write e.g. \"30s\", \"2m\")"))
}

/// A duration in seconds, rounded to the millisecond, for machine reports.
pub fn seconds(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// Formats a duration compactly: `20s`, `1.5s`, `250ms`, `2m 5s`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        if ms.is_multiple_of(1000) {
            format!("{}s", ms / 1000)
        } else {
            format!("{:.1}s", d.as_secs_f64())
        }
    } else {
        let s = d.as_secs();
        format!("{}m {}s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_decimal_and_binary_units() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("10 MB"), Ok(10_000_000));
        assert_eq!(parse_size("10mb"), Ok(10_000_000));
        assert_eq!(parse_size("10MiB"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_size("1.5 GB"), Ok(1_500_000_000));
        assert_eq!(parse_size("64 kB"), Ok(64_000));
        assert_eq!(parse_size("64 KB"), Ok(64_000));
        assert_eq!(parse_size("2 KiB"), Ok(2048));
        assert_eq!(parse_size(" 7 B "), Ok(7));
    }

    #[test]
    fn bad_sizes_are_rejected_with_the_accepted_units() {
        for bad in ["", "MB", "10 XB", "1.2.3 MB", "-5 MB", "ten"] {
            let err = parse_size(bad).expect_err(bad);
            assert!(err.contains("expected a number"), "{bad}: {err}");
        }
    }

    #[test]
    fn sizes_format_like_docker() {
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_size(999), "999 B");
        assert_eq!(format_size(1_980_000), "1.98 MB");
        assert_eq!(format_size(106_123_456), "106 MB");
        assert_eq!(format_size(13_300), "13.3 kB");
    }

    #[test]
    fn limits_format_in_binary_units() {
        assert_eq!(format_limit(512 << 20), "512 MiB");
        assert_eq!(format_limit(2 << 30), "2 GiB");
        assert_eq!(format_limit(1_000_000), "1.00 MB");
    }

    #[test]
    fn durations_parse_and_format() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("soon").is_err());
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_secs(20)), "20s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_secs(125)), "2m 5s");
        assert_eq!(seconds(Duration::from_micros(1_234_567)), 1.235);
    }
}
