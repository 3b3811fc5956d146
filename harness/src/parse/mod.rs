//! Parsers for what targets return and what users write.

pub mod feature_metrics;
pub mod idmap;
pub mod subid;
pub mod uid_range;
pub mod userns_mode;
