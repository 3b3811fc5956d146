//! Scenario files: the typed model, the matchers inside expectations, and the
//! loader that turns YAML into scenarios with precise errors.

pub mod load;
pub mod matchers;
pub mod model;
pub mod pod_schema;
pub mod recover;
pub mod yaml;

pub use model::*;
