//! Reading tar streams: ustar, GNU (`L`/`K` long names, base-256 numbers) and PAX (`x`).
//! Writing lives in `pack/`.

mod entry;
mod header;
mod pax;
mod reader;

pub use entry::{Entry, Kind};
#[cfg(test)]
pub use header::checksum;
pub use header::BLOCK;
pub use reader::{next_entry, padding};
