//! Real-node cases for the CRI target.
