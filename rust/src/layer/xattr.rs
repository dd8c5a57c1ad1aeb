//! Which extended attributes travel in layers (both directions use the same rule).

/// True for the xattrs pycore writes on unpack and emits on pack: user data, file
/// capabilities and POSIX ACLs. `trusted.*` (overlayfs' own `trusted.overlay.*` above all)
/// and other `security.*` labels are dropped.
pub fn allowed(name: &[u8]) -> bool {
    name.starts_with(b"user.")
        || name == b"security.capability"
        || name == b"system.posix_acl_access"
        || name == b"system.posix_acl_default"
}

/// The overlayfs opaque-directory attribute (Documentation/filesystems/overlayfs.rst).
pub const OVERLAY_OPAQUE: &str = "trusted.overlay.opaque";

#[cfg(test)]
mod tests {
    #[test]
    fn policy() {
        assert!(super::allowed(b"user.x"));
        assert!(super::allowed(b"security.capability"));
        assert!(!super::allowed(b"trusted.overlay.opaque"));
        assert!(!super::allowed(b"security.selinux"));
    }
}
