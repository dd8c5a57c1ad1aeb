//! Entry names from the tar, made safe to resolve beneath the root.
//!
//! A leading `/` is dropped (the name is contained, like Docker and umoci do); `.` and empty
//! components vanish; a `..` component is refused: no honest layer needs it.

/// Why a name was refused.
pub const DOTDOT: &str = "path contains a \"..\" component";
const NUL: &str = "path contains a NUL byte";

/// Returns `name` as `a/b/c` (no leading `/`, no `.`, `..` or empty components); the empty
/// result is the root itself.
pub fn clean(name: &[u8]) -> Result<Vec<u8>, &'static str> {
    if name.contains(&0) {
        return Err(NUL);
    }
    let mut out = Vec::with_capacity(name.len());
    for comp in name.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => return Err(DOTDOT),
            _ => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(comp);
            }
        }
    }
    Ok(out)
}

/// Splits a clean path into its parent (maybe empty: the root) and its last component.
pub fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

/// Joins a clean parent and a component.
pub fn join(parent: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parent.len() + 1 + name.len());
    out.extend_from_slice(parent);
    if !parent.is_empty() {
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_and_refuses() {
        assert_eq!(clean(b"/etc//x/./y/").unwrap(), b"etc/x/y");
        assert_eq!(clean(b"./").unwrap(), b"");
        assert_eq!(clean(b"../x"), Err(DOTDOT));
        assert_eq!(clean(b"a/../../x"), Err(DOTDOT));
        assert_eq!(clean(b"a/..x/y").unwrap(), b"a/..x/y");
        assert!(clean(b"a\0b").is_err());
        assert_eq!(split(b"a/b/c"), (&b"a/b"[..], &b"c"[..]));
        assert_eq!(split(b"c"), (&b""[..], &b"c"[..]));
        assert_eq!(join(b"", b"c"), b"c");
        assert_eq!(join(b"a", b"c"), b"a/c");
    }
}
