//! Results and reports: JSON (the machine-readable truth), JUnit, Markdown.

pub mod results;
