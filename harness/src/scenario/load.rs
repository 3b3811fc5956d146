//! Loading scenario files: YAML with line and column, typed checking, template
//! names, and the pod checked against k8s-openapi's `v1.Pod`.
