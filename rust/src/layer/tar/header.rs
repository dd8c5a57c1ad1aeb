//! One 512-byte tar header block: field offsets, numbers (octal or base-256), checksum.

/// The tar block size.
pub const BLOCK: usize = 512;

/// Field byte ranges shared by ustar and GNU headers (POSIX.1-2001 `ustar` interchange format).
pub mod field {
    use std::ops::Range;
    pub const NAME: Range<usize> = 0..100;
    pub const MODE: Range<usize> = 100..108;
    pub const UID: Range<usize> = 108..116;
    pub const GID: Range<usize> = 116..124;
    pub const SIZE: Range<usize> = 124..136;
    pub const MTIME: Range<usize> = 136..148;
    pub const CHKSUM: Range<usize> = 148..156;
    pub const TYPEFLAG: usize = 156;
    pub const LINKNAME: Range<usize> = 157..257;
    pub const MAGIC: Range<usize> = 257..263;
    pub const DEVMAJOR: Range<usize> = 329..337;
    pub const DEVMINOR: Range<usize> = 337..345;
    pub const PREFIX: Range<usize> = 345..500;
}

/// The header's checksum: the byte sum with the checksum field read as spaces. Returns the
/// unsigned and the signed sum (old tars used signed chars; both are accepted on read).
pub fn checksum(block: &[u8; BLOCK]) -> (u32, i32) {
    let mut unsigned = 0u32;
    let mut signed = 0i32;
    for (i, &b) in block.iter().enumerate() {
        let b = if field::CHKSUM.contains(&i) { b' ' } else { b };
        unsigned += u32::from(b);
        signed += i32::from(b as i8);
    }
    (unsigned, signed)
}

/// A view of one header block.
pub struct Header<'a>(pub &'a [u8; BLOCK]);

impl Header<'_> {
    /// True when every byte is zero (an end-of-archive marker).
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }

    /// Checks the stored checksum.
    pub fn checksum_ok(&self) -> bool {
        let Ok(stored) = octal(&self.0[field::CHKSUM]) else {
            return false;
        };
        let (u, s) = checksum(self.0);
        stored == u64::from(u) || i64::try_from(stored).ok() == Some(i64::from(s))
    }

    /// The type flag byte.
    pub fn typeflag(&self) -> u8 {
        self.0[field::TYPEFLAG]
    }

    /// True for POSIX ustar (`ustar\0`), whose `prefix` field extends the name.
    pub fn is_ustar(&self) -> bool {
        &self.0[field::MAGIC] == b"ustar\0"
    }

    /// The name, joined with the ustar prefix where there is one.
    pub fn name(&self) -> Vec<u8> {
        let name = cstr(&self.0[field::NAME]);
        let prefix = cstr(&self.0[field::PREFIX]);
        if self.is_ustar() && !prefix.is_empty() {
            let mut out = prefix.to_vec();
            out.push(b'/');
            out.extend_from_slice(name);
            return out;
        }
        name.to_vec()
    }

    /// The link name.
    pub fn linkname(&self) -> Vec<u8> {
        cstr(&self.0[field::LINKNAME]).to_vec()
    }

    /// A numeric field that must not be negative.
    pub fn unsigned(&self, range: std::ops::Range<usize>) -> Result<u64, &'static str> {
        let v = number(&self.0[range])?;
        u64::try_from(v).map_err(|_| "negative number in header")
    }

    /// A numeric field that may be negative (mtime).
    pub fn signed(&self, range: std::ops::Range<usize>) -> Result<i64, &'static str> {
        number(&self.0[range])
    }
}

/// Bytes up to the first NUL.
pub fn cstr(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |i| &b[..i])
}

/// A numeric field: octal text, or GNU base-256 when the top bit of the first byte is set
/// (0x80: positive, 0xff: negative two's complement).
pub fn number(b: &[u8]) -> Result<i64, &'static str> {
    match b.first() {
        Some(&f) if f & 0x80 != 0 => base256(b),
        _ => octal(b).and_then(|v| i64::try_from(v).map_err(|_| "number too large")),
    }
}

fn base256(b: &[u8]) -> Result<i64, &'static str> {
    let negative = b[0] & 0x40 != 0;
    let mut v: i128 = if negative { -1 } else { 0 };
    let first = if negative { b[0] | 0x80 } else { b[0] & 0x7f };
    for &byte in std::iter::once(&first).chain(&b[1..]) {
        v = v.checked_mul(256).ok_or("number too large")? | i128::from(byte);
        if v > i128::from(i64::MAX) || v < i128::from(i64::MIN) {
            return Err("number too large");
        }
    }
    i64::try_from(v).map_err(|_| "number too large")
}

/// Octal text, leading spaces allowed, ended by NUL or space; empty is zero.
pub fn octal(b: &[u8]) -> Result<u64, &'static str> {
    let mut v: u64 = 0;
    let mut digits = b.iter().skip_while(|&&c| c == b' ').peekable();
    while let Some(&c) = digits.next() {
        match c {
            b'0'..=b'7' => {
                v = v.checked_mul(8).ok_or("number too large")? + u64::from(c - b'0');
            }
            0 | b' ' => {
                return if digits.all(|&c| c == 0 || c == b' ') {
                    Ok(v)
                } else {
                    Err("malformed octal number")
                };
            }
            _ => return Err("malformed octal number"),
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(octal(b"0000644\0").unwrap(), 0o644);
        assert_eq!(octal(b"  12 \0").unwrap(), 0o12);
        assert_eq!(octal(b"\0\0\0").unwrap(), 0);
        assert!(octal(b"12x4").is_err());
        assert!(octal(b"1 2").is_err());
        let mut big = [0u8; 12];
        big[0] = 0x80;
        big[7] = 1;
        big[11] = 2;
        assert_eq!(number(&big).unwrap(), (1 << 32) + 2);
        let neg = [0xffu8; 12];
        assert_eq!(number(&neg).unwrap(), -1);
        let mut huge = [0xffu8; 12];
        huge[0] = 0x80;
        assert!(number(&huge).is_err());
    }
}
