//! Small formatting helpers for the checks and the report.

use couponbridge::locks::LockState;

/// The first four, then "…" when there are more.
pub fn examples<T: std::fmt::Display>(items: &[T]) -> String {
    let shown: Vec<String> = items.iter().take(4).map(ToString::to_string).collect();
    if items.len() > shown.len() {
        format!("{} …", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// All of them, comma-separated; "none" when there are none.
pub fn list_or_none(items: Vec<String>) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

pub fn state_name(s: LockState) -> &'static str {
    match s {
        LockState::Locked => "locked",
        LockState::Burning => "burning",
        LockState::Used => "used",
        LockState::Released => "released",
        LockState::Expired => "expired",
    }
}

/// Percentile `p` (0 to 1) of sorted microseconds, in milliseconds.
pub fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// A Markdown table.
pub fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!("| {} |\n|{}\n", head.join(" | "), "---|".repeat(head.len()));
    for r in rows {
        s.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    s
}
