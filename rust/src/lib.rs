//! pycore's native half: layer extraction and packing, digests, and (later) the container
//! runtime. Python decides, Rust does; the Python boundary lives in `py/` alone.

pub mod digest;
pub mod fsx;
pub mod layer;
pub mod mount;
pub mod net;
pub mod runtime;
pub mod sys;

#[cfg(feature = "python")]
mod py;
