//! OpenShift's `openshift.io/sa.scc.uid-range` namespace annotation:
//! `start/size`, e.g. `1000650000/10000`.

use std::fmt;

pub const ANNOTATION: &str = "openshift.io/sa.scc.uid-range";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UidRange {
    pub start: u32,
    pub size: u32,
}

impl UidRange {
    /// The last uid of the range.
    pub fn end(&self) -> u64 {
        // u64 sums of two u32 cannot overflow; `parse` refuses size 0, and
        // a hand-made size 0 gives `start - 1` saturated, not a panic.
        (self.start as u64 + self.size as u64).saturating_sub(1)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid uid range {text:?}: {problem}")]
pub struct UidRangeError {
    pub text: String,
    pub problem: String,
}

pub fn parse(text: &str) -> Result<UidRange, UidRangeError> {
    let e = |problem: &str| UidRangeError {
        text: text.to_string(),
        problem: problem.to_string(),
    };
    let (start, size) = text
        .trim()
        .split_once('/')
        .ok_or_else(|| e("expected start/size, e.g. 1000650000/10000"))?;
    let start: u32 = start
        .trim()
        .parse()
        .map_err(|_| e("start is not an unsigned 32-bit number"))?;
    let size: u32 = size
        .trim()
        .parse()
        .map_err(|_| e("size is not an unsigned 32-bit number"))?;
    if size == 0 {
        return Err(e("size is 0"));
    }
    if start as u64 + size as u64 - 1 > u32::MAX as u64 {
        return Err(e("range ends above 4294967295"));
    }
    Ok(UidRange { start, size })
}

impl fmt::Display for UidRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.start, self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples() {
        let r = parse("1000650000/10000").unwrap();
        assert_eq!((r.start, r.size, r.end()), (1000650000, 10000, 1000659999));
        assert!(parse("1000650000")
            .unwrap_err()
            .to_string()
            .contains("expected start/size"));
        assert!(parse("1000650000/0").is_err());
        assert!(parse("x/10").is_err());
        assert!(parse("4294967295/2").unwrap_err().problem.contains("above"));
    }

    /// Overflow: the last uid of ranges near 2^32, and of a hand-made empty one.
    #[test]
    fn ends_near_2_32() {
        let r = parse("4294967295/1").unwrap();
        assert_eq!(r.end(), 4294967295);
        assert_eq!(parse(" 0 / 4294967295 ").unwrap().end(), 4294967294);
        assert_eq!(UidRange { start: 0, size: 0 }.end(), 0);
        assert!(parse("é/1").is_err());
        assert!(parse("1/é").is_err());
    }
}
