//! The board's update agent.
//!
//! Today it verifies signed files on the board with the streaming verifier of `nanolin-core`,
//! through a fixed buffer, so its memory does not grow with the file; A/B slot updates build on
//! this.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod check;
