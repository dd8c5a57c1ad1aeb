//! Writing tar headers: ustar, with a PAX `x` header in front when a value does not fit
//! (long names, big ids or sizes, negative or huge mtimes) or xattrs must travel.

use crate::layer::tar::BLOCK;
use std::io::{self, Write};

/// What one header says.
pub struct Meta<'a> {
    pub path: &'a [u8],
    pub link: &'a [u8],
    pub typeflag: u8,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    pub mtime: i64,
    pub dev: (u32, u32),
    /// Sorted by name.
    pub xattrs: &'a [(Vec<u8>, Vec<u8>)],
}

const MAX_ID: u64 = 0o7777777;
const MAX_SIZE: u64 = 0o77777777777;

/// Writes the header (and PAX header when needed) for `m`.
pub fn write(w: &mut dyn Write, m: &Meta<'_>) -> io::Result<()> {
    let records = pax_records(m);
    if !records.is_empty() {
        let pax = Meta {
            path: b"././@PaxHeader",
            link: b"",
            typeflag: b'x',
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: records.len() as u64,
            mtime: 0,
            dev: (0, 0),
            xattrs: &[],
        };
        w.write_all(&ustar(&pax))?;
        w.write_all(&records)?;
        pad(w, records.len() as u64)?;
    }
    w.write_all(&ustar(m))
}

/// Zero bytes up to the next block boundary after `size` bytes of data.
pub fn pad(w: &mut dyn Write, size: u64) -> io::Result<()> {
    let rem = (size % BLOCK as u64) as usize;
    if rem != 0 {
        w.write_all(&[0u8; BLOCK][..BLOCK - rem])?;
    }
    Ok(())
}

fn pax_records(m: &Meta<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    if m.path.len() > 100 {
        record(&mut out, b"path", m.path);
    }
    if m.link.len() > 100 {
        record(&mut out, b"linkpath", m.link);
    }
    if m.size > MAX_SIZE {
        record(&mut out, b"size", m.size.to_string().as_bytes());
    }
    if m.uid > MAX_ID {
        record(&mut out, b"uid", m.uid.to_string().as_bytes());
    }
    if m.gid > MAX_ID {
        record(&mut out, b"gid", m.gid.to_string().as_bytes());
    }
    if !(0..=MAX_SIZE as i64).contains(&m.mtime) {
        record(&mut out, b"mtime", m.mtime.to_string().as_bytes());
    }
    for (name, value) in m.xattrs {
        let mut key = b"SCHILY.xattr.".to_vec();
        key.extend_from_slice(name);
        record(&mut out, &key, value);
    }
    out
}

/// Appends `"%d %s=%s\n"`, where the length counts its own digits.
fn record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn ustar(m: &Meta<'_>) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    copy(&mut b[0..100], m.path);
    octal(&mut b[100..108], u64::from(m.mode));
    octal(&mut b[108..116], if m.uid > MAX_ID { 0 } else { m.uid });
    octal(&mut b[116..124], if m.gid > MAX_ID { 0 } else { m.gid });
    octal(&mut b[124..136], if m.size > MAX_SIZE { 0 } else { m.size });
    octal(
        &mut b[136..148],
        u64::try_from(m.mtime)
            .ok()
            .filter(|&t| t <= MAX_SIZE)
            .unwrap_or(0),
    );
    b[156] = m.typeflag;
    copy(&mut b[157..257], m.link);
    b[257..263].copy_from_slice(b"ustar\0");
    b[263..265].copy_from_slice(b"00");
    if matches!(m.typeflag, b'3' | b'4') {
        octal(&mut b[329..337], u64::from(m.dev.0));
        octal(&mut b[337..345], u64::from(m.dev.1));
    }
    let sum: u32 = b.iter().map(|&x| u32::from(x)).sum::<u32>() + 8 * u32::from(b' ');
    octal(&mut b[148..155], u64::from(sum));
    b[155] = b' ';
    b
}

/// Copies what fits (longer values travel in the PAX header).
fn copy(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// Zero-padded octal digits filling all but the last byte, which stays NUL.
fn octal(field: &mut [u8], v: u64) {
    let digits = field.len() - 1;
    let s = format!("{v:0digits$o}");
    let s = s.as_bytes();
    field[..digits].copy_from_slice(&s[s.len().saturating_sub(digits)..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_lengths_count_themselves() {
        let mut out = Vec::new();
        record(&mut out, b"path", &[b'a'; 92]);
        assert_eq!(out.len(), 102);
        assert!(out.starts_with(b"102 path="));
        let mut out = Vec::new();
        record(&mut out, b"uid", b"1");
        assert_eq!(out, b"8 uid=1\n");
    }

    #[test]
    fn header_checksum_is_valid() {
        let m = Meta {
            path: b"a",
            link: b"",
            typeflag: b'0',
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 3,
            mtime: 5,
            dev: (0, 0),
            xattrs: &[],
        };
        let b = ustar(&m);
        let (sum, _) = crate::layer::tar::checksum(&b);
        let stored = std::str::from_utf8(&b[148..154]).unwrap();
        assert_eq!(u32::from_str_radix(stored, 8).unwrap(), sum);
    }
}
