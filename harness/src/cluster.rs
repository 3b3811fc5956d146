//! `cluster`: making targets (kind with CRI-O, OpenShift preparation).
