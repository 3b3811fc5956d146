//! `compare`: results files from several runs side by side.
