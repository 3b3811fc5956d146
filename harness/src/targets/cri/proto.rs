//! Generated CRI v1 client types (from `proto/cri_v1.proto`, compiled by build.rs).
#![allow(clippy::all, missing_docs)]

tonic::include_proto!("runtime.v1");
