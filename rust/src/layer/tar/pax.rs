//! PAX extended header records (`x`): `"%d %s=%s\n"`, the length counting the whole record.

/// Values from one `x` header that override the next entry's ustar fields.
#[derive(Debug, Default)]
pub struct Pax {
    pub path: Option<Vec<u8>>,
    pub linkpath: Option<Vec<u8>>,
    pub size: Option<u64>,
    pub uid: Option<u64>,
    pub gid: Option<u64>,
    pub mtime: Option<(i64, u32)>,
    /// `SCHILY.xattr.NAME` records, in stream order.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// A `GNU.sparse.*` key was seen: a PAX sparse file.
    pub sparse: bool,
}

/// Parses all records of one extended header.
pub fn parse(mut data: &[u8]) -> Result<Pax, &'static str> {
    let mut pax = Pax::default();
    while !data.is_empty() {
        if data.iter().all(|&b| b == 0) {
            break;
        }
        let sp = data
            .iter()
            .position(|&b| b == b' ')
            .ok_or("malformed PAX record")?;
        let len: usize = std::str::from_utf8(&data[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("malformed PAX record length")?;
        if len <= sp + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err("malformed PAX record length");
        }
        let record = &data[sp + 1..len - 1];
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or("malformed PAX record")?;
        apply(&mut pax, &record[..eq], &record[eq + 1..])?;
        data = &data[len..];
    }
    Ok(pax)
}

fn apply(pax: &mut Pax, key: &[u8], value: &[u8]) -> Result<(), &'static str> {
    match key {
        b"path" => pax.path = Some(value.to_vec()),
        b"linkpath" => pax.linkpath = Some(value.to_vec()),
        b"size" => pax.size = Some(decimal(value)?),
        b"uid" => pax.uid = Some(decimal(value)?),
        b"gid" => pax.gid = Some(decimal(value)?),
        b"mtime" => pax.mtime = Some(time(value)?),
        _ if key.starts_with(b"SCHILY.xattr.") => {
            pax.xattrs.push((key[13..].to_vec(), value.to_vec()));
        }
        _ if key.starts_with(b"GNU.sparse.") => pax.sparse = true,
        // atime, ctime, uname, gname, charset, comment, vendor keys: not needed.
        _ => {}
    }
    Ok(())
}

fn decimal(v: &[u8]) -> Result<u64, &'static str> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or("malformed PAX number")
}

/// `[-]seconds[.fraction]` into seconds and nanoseconds (the fraction truncated to 9 digits).
fn time(v: &[u8]) -> Result<(i64, u32), &'static str> {
    const BAD: &str = "malformed PAX time";
    let s = std::str::from_utf8(v).map_err(|_| BAD)?;
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = int.parse().map_err(|_| BAD)?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BAD);
    }
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    let mut nanos: u32 = digits.parse().map_err(|_| BAD)?;
    // "-1.5" is 1.5 s before the epoch: -2 s + 0.5 s.
    let mut secs = secs;
    if int.starts_with('-') && nanos > 0 {
        secs -= 1;
        nanos = 1_000_000_000 - nanos;
    }
    Ok((secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records() {
        let data = b"30 mtime=1700000000.123456789\n20 path=a/very/long\n\
                     27 SCHILY.xattr.user.k=v\0w\n";
        let pax = parse(data).unwrap();
        assert_eq!(pax.mtime, Some((1_700_000_000, 123_456_789)));
        assert_eq!(pax.path.as_deref(), Some(&b"a/very/long"[..]));
        assert_eq!(pax.xattrs, vec![(b"user.k".to_vec(), b"v\0w".to_vec())]);
        assert_eq!(time(b"-1.5").unwrap(), (-2, 500_000_000));
        assert!(parse(b"99 path=x\n").is_err());
        assert!(parse(b"x path=y\n").is_err());
    }
}
