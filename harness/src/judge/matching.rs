//! Matching single observed values against the scenario's matchers.

use crate::observation::normalize_text;
use crate::parse::idmap::{IdMap, IdMapLine};
use crate::scenario::matchers::{LineMatch, MapExpect, TextMatch, ValueMatch};
use crate::templates::Templates;

/// `Ok(true/false)` for a decision; `Err` when a template value is missing.
pub fn value_matches(m: &ValueMatch, observed: u64, templates: &Templates) -> Result<bool, String> {
    Ok(match m {
        ValueMatch::Exact(n) => observed == *n,
        ValueMatch::Any => true,
        ValueMatch::Template { name, offset } => {
            let text = templates.get(name).ok_or_else(|| {
                format!("template value `{name}` is not available on this target")
            })?;
            let base: i64 = text
                .trim()
                .parse()
                .map_err(|_| format!("template value `{name}` is {text:?}, not a number"))?;
            i128::from(observed) == i128::from(base) + i128::from(*offset)
        }
        ValueMatch::Range {
            min,
            max,
            multiple_of,
        } => {
            min.is_none_or(|m| observed >= m)
                && max.is_none_or(|m| observed <= m)
                && multiple_of.is_none_or(|m| m != 0 && observed.is_multiple_of(m))
        }
    })
}

/// A matcher as a person reads it, with template values filled in.
pub fn describe_value(m: &ValueMatch, templates: &Templates) -> String {
    match m {
        ValueMatch::Template { name, offset } => match templates
            .get(name)
            .and_then(|t| t.trim().parse::<i64>().ok())
            // A template value comes from the node (e.g. /etc/subuid), so
            // base + offset may overflow: then show the matcher unfilled.
            .and_then(|base| base.checked_add(*offset))
        {
            Some(sum) => format!("{sum} (= {m})"),
            None => m.to_string(),
        },
        ValueMatch::Range { .. } => format!("<{m}>"),
        _ => m.to_string(),
    }
}

pub fn describe_line(l: &LineMatch, templates: &Templates) -> String {
    format!(
        "{} {} {}",
        describe_value(&l.inside, templates),
        describe_value(&l.outside, templates),
        describe_value(&l.length, templates)
    )
}

fn line_matches(l: &LineMatch, o: &IdMapLine, templates: &Templates) -> Result<bool, String> {
    Ok(value_matches(&l.inside, o.inside, templates)?
        && value_matches(&l.outside, o.outside, templates)?
        && value_matches(&l.length, o.length, templates)?)
}

/// Whether an id map matches; `Err` for a missing template value.
pub fn map_matches(m: &MapExpect, observed: &IdMap, templates: &Templates) -> Result<bool, String> {
    match m {
        MapExpect::Host => Ok(observed.is_host()),
        MapExpect::NotHost => Ok(!observed.is_host()),
        MapExpect::Ordered(lines) => {
            if lines.len() != observed.0.len() {
                return Ok(false);
            }
            for (l, o) in lines.iter().zip(&observed.0) {
                if !line_matches(l, o, templates)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        MapExpect::Lines(lines) => {
            if lines.len() != observed.0.len() {
                return Ok(false);
            }
            // Which expected line may stand for which observed one; then a
            // one-to-one assignment (maps have a handful of lines).
            let mut fits = Vec::with_capacity(lines.len());
            for l in lines {
                let mut row = Vec::with_capacity(observed.0.len());
                for o in &observed.0 {
                    row.push(line_matches(l, o, templates)?);
                }
                fits.push(row);
            }
            Ok(assign(&fits, 0, &mut vec![false; observed.0.len()]))
        }
    }
}

/// Whether expected lines `row..` can each take a distinct observed line.
fn assign(fits: &[Vec<bool>], row: usize, taken: &mut [bool]) -> bool {
    let Some(options) = fits.get(row) else {
        return true;
    };
    for (col, fit) in options.iter().enumerate() {
        if *fit && !taken[col] {
            taken[col] = true;
            if assign(fits, row + 1, taken) {
                return true;
            }
            taken[col] = false;
        }
    }
    false
}

pub fn describe_map(m: &MapExpect, templates: &Templates) -> String {
    match m {
        MapExpect::Ordered(lines) => format!(
            "in this order: {}",
            describe_map(&MapExpect::Lines(lines.clone()), templates)
        ),
        MapExpect::Lines(lines) => lines
            .iter()
            .map(|l| describe_line(l, templates))
            .collect::<Vec<_>>()
            .join(" | "),
        other => other.to_string(),
    }
}

pub fn text_matches(m: &TextMatch, observed: &str, templates: &Templates) -> Result<bool, String> {
    let fill = |s: &str| crate::templates::substitute_str(s, templates);
    Ok(match m {
        TextMatch::Equals(s) => normalize_text(&fill(s)?) == normalize_text(observed),
        TextMatch::Contains(s) => observed.contains(fill(s)?.as_str()),
        TextMatch::Matches(r) => r.is_match(observed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Templates {
        let mut t = Templates::new();
        t.insert("subuid.containers.start".into(), "200000".into());
        t
    }

    #[test]
    fn values() {
        let v = |s: &str| s.parse::<ValueMatch>().unwrap();
        assert!(value_matches(&v("65536"), 65536, &t()).unwrap());
        assert!(!value_matches(&v("65536"), 65537, &t()).unwrap());
        assert!(value_matches(&v("any"), 7, &t()).unwrap());
        assert!(value_matches(&v("${subuid.containers.start}+1234"), 201234, &t()).unwrap());
        assert!(!value_matches(&v("${subuid.containers.start}"), 201234, &t()).unwrap());
        assert!(value_matches(&v("${ns.uidRangeStart}"), 1, &t())
            .unwrap_err()
            .contains("ns.uidRangeStart"));
        assert!(value_matches(&v("100..200"), 150, &t()).unwrap());
        assert!(!value_matches(&v("100..200"), 201, &t()).unwrap());
        let mult = ValueMatch::Range {
            min: Some(65536),
            max: None,
            multiple_of: Some(65536),
        };
        assert!(value_matches(&mult, 131072, &t()).unwrap());
        assert!(!value_matches(&mult, 0, &t()).unwrap());
        assert!(!value_matches(&mult, 131073, &t()).unwrap());
        assert_eq!(
            describe_value(&v("${subuid.containers.start}+1"), &t()),
            "200001 (= ${subuid.containers.start}+1)"
        );
    }

    /// Overflow: a template value from the node near 2^63 plus an offset
    /// is shown unfilled and compared in i128, not overflowed.
    #[test]
    fn template_sums_do_not_overflow() {
        let mut big = Templates::new();
        big.insert("subuid.containers.start".into(), i64::MAX.to_string());
        let m: ValueMatch = "${subuid.containers.start}+1".parse().unwrap();
        assert_eq!(describe_value(&m, &big), "${subuid.containers.start}+1");
        assert!(!value_matches(&m, u64::MAX, &big).unwrap());
        assert!(value_matches(&m, 1u64 << 63, &big).unwrap());
    }

    #[test]
    fn texts() {
        assert!(text_matches(&TextMatch::Equals("0 65535".into()), "0\t65535\n", &t()).unwrap());
        assert!(!text_matches(&TextMatch::Equals("0 65535".into()), "0 2147483647", &t()).unwrap());
        assert!(text_matches(
            &TextMatch::Contains("uid=0(root)".into()),
            "uid=0(root) gid=0(root)",
            &t()
        )
        .unwrap());
        assert!(text_matches(
            &TextMatch::Matches(regex::Regex::new("^uid=[0-9]+").unwrap()),
            "uid=12 x",
            &t()
        )
        .unwrap());
    }
}
