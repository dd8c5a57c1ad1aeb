//! `process.terminal`: the container's console. The init opens a pseudo-terminal from the
//! container's own devpts instance (so `tty` inside says `/dev/pts/0`), makes its slave the
//! controlling terminal and stdio, and hands the master to the monitor over the sync socket
//! (SCM_RIGHTS), as runc's console socket does. The CLI's side: raw mode and window sizes.
//!
//! The init half runs in the child of a fork: system calls only, no allocation.

use crate::sys::{Errno, SysResult};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// The message that carries the master fd; its tag is no `Step` of `msg.rs`.
pub const CONSOLE_TAG: [u8; 4] = *b"CONS";

fn check(r: libc::c_int) -> SysResult<libc::c_int> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

/// In the init, after pivot_root: allocate the console, send its master over `sync`, and make
/// the slave our controlling terminal and fds 0, 1 and 2.
pub fn setup_console(sync: RawFd) -> SysResult<()> {
    // SAFETY: constant path; a new fd we own.
    let master = check(unsafe {
        libc::open(
            c"/dev/pts/ptmx".as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    })?;
    let mut unlock: libc::c_int = 0;
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCSPTLCK takes a pointer to int, TIOCGPTN a pointer to unsigned int.
    unsafe {
        check(libc::ioctl(master, libc::TIOCSPTLCK, &mut unlock))?;
        check(libc::ioctl(master, libc::TIOCGPTN, &mut n))?;
    }
    // "/dev/pts/<n>" on the stack.
    let mut path = [0u8; 32];
    let prefix = b"/dev/pts/";
    path[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 10];
    let mut len = 0;
    let mut v = n;
    loop {
        digits[len] = b'0' + (v % 10) as u8;
        len += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in 0..len {
        path[prefix.len() + i] = digits[len - 1 - i];
    }
    // SAFETY: `path` is NUL-terminated (zero-filled beyond the digits).
    let slave = check(unsafe { libc::open(path.as_ptr().cast(), libc::O_RDWR | libc::O_NOCTTY) })?;
    send_fd(sync, master)?;
    // Wait until the monitor has given the pty its size: the program must see it at once.
    let mut ack = [0u8; super::msg::MSG_LEN];
    // SAFETY: reading into a stack buffer.
    if unsafe { libc::read(sync, ack.as_mut_ptr().cast(), ack.len()) } != ack.len() as isize {
        return Err(Errno(libc::EPIPE));
    }
    // SAFETY: plain fd and session calls on fds we own.
    unsafe {
        libc::close(master);
        check(libc::setsid())?;
        check(libc::ioctl(slave, libc::TIOCSCTTY, 0))?;
        for target in 0..3 {
            check(libc::dup2(slave, target))?;
        }
        if slave > 2 {
            libc::close(slave);
        }
    }
    Ok(())
}

/// Sends `fd` with a `CONSOLE_TAG` message over the unix socket `sock`.
fn send_fd(sock: RawFd, fd: RawFd) -> SysResult<()> {
    let mut data = [0u8; super::msg::MSG_LEN];
    data[..4].copy_from_slice(&CONSOLE_TAG);
    // Control buffer for one fd, aligned for cmsghdr.
    let mut cbuf = [0u64; 4];
    // SAFETY: msghdr/iovec point at live stack buffers; CMSG_* compute within `cbuf`.
    unsafe {
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        if libc::sendmsg(sock, &msg, 0) < 0 {
            return Err(Errno::last());
        }
    }
    Ok(())
}

/// One message from `sock`: its bytes, and the fd it carried, if any.
pub fn recv_msg(sock: RawFd, buf: &mut [u8]) -> SysResult<(usize, Option<OwnedFd>)> {
    let mut cbuf = [0u64; 4];
    // SAFETY: as in send_fd; a received fd is new and ours.
    unsafe {
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&cbuf);
        let n = loop {
            let n = libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC);
            if n >= 0 {
                break n as usize;
            }
            let e = Errno::last();
            if e.0 != libc::EINTR {
                return Err(e);
            }
        };
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        let fd = if !cmsg.is_null()
            && (*cmsg).cmsg_level == libc::SOL_SOCKET
            && (*cmsg).cmsg_type == libc::SCM_RIGHTS
        {
            let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
            Some(OwnedFd::from_raw_fd(fd))
        } else {
            None
        };
        Ok((n, fd))
    }
}

/// Copies the window size of the terminal `from` to `to` (TIOCGWINSZ, TIOCSWINSZ).
pub fn copy_winsize(from: RawFd, to: RawFd) -> SysResult<()> {
    // SAFETY: winsize is plain data; both ioctls take a pointer to it.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        check(libc::ioctl(from, libc::TIOCGWINSZ, &mut ws))?;
        check(libc::ioctl(to, libc::TIOCSWINSZ, &ws))?;
    }
    Ok(())
}

/// The terminal `fd` in raw mode until dropped (cfmakeraw(3)); None if it is no terminal.
pub struct RawMode {
    fd: RawFd,
    saved: libc::termios,
}

impl RawMode {
    pub fn enter(fd: RawFd) -> Option<RawMode> {
        // SAFETY: termios is plain data; tcgetattr fills it.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::isatty(fd) != 1 || libc::tcgetattr(fd, &mut saved) != 0 {
                return None;
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            if libc::tcsetattr(fd, libc::TCSANOW, &raw) != 0 {
                return None;
            }
            Some(RawMode { fd, saved })
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restoring the attributes read in `enter`.
        unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::process;
    use std::os::fd::AsRawFd;

    #[test]
    fn an_fd_crosses_the_socket() {
        let (a, b) = process::seqpacket_pair().unwrap();
        let null = process::open_dev_null(libc::O_RDONLY).unwrap();
        send_fd(a.as_raw_fd(), null.as_raw_fd()).unwrap();
        let mut buf = [0u8; super::super::msg::MSG_LEN];
        let (n, fd) = recv_msg(b.as_raw_fd(), &mut buf).unwrap();
        assert_eq!(n, buf.len());
        assert_eq!(buf[..4], CONSOLE_TAG);
        assert!(fd.is_some());
    }
}
