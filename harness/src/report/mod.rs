//! Results and reports: JSON (the machine-readable truth), JUnit, Markdown, HTML.

pub mod diagnoses;
pub mod evidence;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod results;

/// A report that could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot render JUnit XML")]
    Junit(#[source] quick_junit::SerializeError),
}
