//! The customers file: one Gameball customer id a line; blank lines and
//! lines starting with `#` are ignored, and `-` reads standard input.

use std::io::Read;
use std::path::Path;

/// The ids in `text`, trimmed, in order, each once (a customer listed
/// twice is copied once). Only whole lines are comments: an id may itself
/// hold a `#`.
pub fn parse(text: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| seen.insert(*l))
        .map(str::to_owned)
        .collect()
}

/// The ids in the file at `source`, or on standard input for `-`.
pub fn read(source: &Path) -> Result<Vec<String>, String> {
    let text = if source == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the customers from standard input: {e}"))?;
        text
    } else {
        std::fs::read_to_string(source).map_err(|e| format!("cannot read {}: {e}", source.display()))?
    };
    Ok(parse(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_id_a_line_without_blanks_comments_or_repeats() {
        let text = "# customers of the spring campaign\ncust-1\n\n  cust-2  \r\n#cust-3\ncust-1\nvip#4\n";
        assert_eq!(parse(text), ["cust-1", "cust-2", "vip#4"]);
        assert!(parse("\n# nothing\n").is_empty());
    }
}
