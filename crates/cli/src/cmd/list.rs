//! `edgellm list`: the models in the store and the Ollama directory, like `ollama list`.

use std::time::SystemTime;

use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct ListArgs {}

pub fn run(_a: ListArgs) -> Result<()> {
    let store = edgellm_store::Store::open_default()?;
    let now = SystemTime::now();
    let rows: Vec<[String; 4]> = store
        .list()?
        .into_iter()
        .map(|m| {
            let mut name = m.name;
            if m.read_only {
                name.push_str(" (ollama)");
            }
            [
                name,
                m.digest.chars().take(12).collect(),
                human_bytes(m.size),
                ago(now, m.modified_at),
            ]
        })
        .collect();
    print!("{}", table(&["NAME", "ID", "SIZE", "MODIFIED"], &rows));
    Ok(())
}

/// Left-aligned columns separated by at least three spaces; no trailing blanks.
pub fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            s.push_str(cell);
            if i + 1 < N {
                s.push_str(&" ".repeat(w - cell.chars().count() + 3));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// Decimal units as Ollama prints them: `98 MB`, `1.1 GB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [(&str, f64); 4] = [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)];
    for (unit, scale) in UNITS {
        let v = n as f64 / scale;
        if v >= 1.0 {
            return if v >= 10.0 {
                format!("{v:.0} {unit}")
            } else {
                format!("{v:.1} {unit}")
            };
        }
    }
    format!("{n} B")
}

/// `Less than a second ago`, `5 minutes ago`, `2 days ago`, ...
pub fn ago(now: SystemTime, then: SystemTime) -> String {
    let secs = now.duration_since(then).map_or(0, |d| d.as_secs());
    let (n, unit) = match secs {
        0 => return "Less than a second ago".into(),
        1..=59 => (secs, "second"),
        60..=3599 => (secs / 60, "minute"),
        3600..=86_399 => (secs / 3600, "hour"),
        86_400..=604_799 => (secs / 86_400, "day"),
        604_800..=2_591_999 => (secs / 604_800, "week"),
        2_592_000..=31_535_999 => (secs / 2_592_000, "month"),
        _ => (secs / 31_536_000, "year"),
    };
    match n {
        1 if unit == "hour" => "About an hour ago".into(),
        1 => format!("About a {unit} ago"),
        _ => format!("{n} {unit}s ago"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats() {
        assert_eq!(human_bytes(98_362_432), "98 MB");
        assert_eq!(human_bytes(1_117_320_768), "1.1 GB");
        assert_eq!(human_bytes(512), "512 B");
        let now = SystemTime::now();
        assert_eq!(ago(now, now - Duration::from_secs(7200)), "2 hours ago");
        assert_eq!(
            ago(now, now - Duration::from_secs(60)),
            "About a minute ago"
        );
        let t = table(
            &["NAME", "ID"],
            &[["a:latest".to_string(), "0123".to_string()]],
        );
        assert_eq!(t, "NAME       ID\na:latest   0123\n");
    }
}
