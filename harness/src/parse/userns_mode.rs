//! CRI-O's `io.kubernetes.cri-o.userns-mode` annotation value.
