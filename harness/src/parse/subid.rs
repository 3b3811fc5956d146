//! `/etc/subuid` and `/etc/subgid` (subuid(5)): `name:start:count` lines.
