//! OpenShift's `openshift.io/sa.scc.uid-range` annotation: `start/size`.
