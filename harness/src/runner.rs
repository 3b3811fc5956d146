//! `run`: scenarios → requirement checks → execution → judge → results, as
//! libtest-mimic trials so selection flags behave like `cargo test`.
