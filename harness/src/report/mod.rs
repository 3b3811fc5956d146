//! Results and reports: JSON (the machine-readable truth), JUnit, Markdown.

pub mod evidence;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod results;
