//! Restart policies (`--restart no|on-failure[:N]|always|unless-stopped`), applied by the
//! monitor: it outlives the CLI, so it is the one left to start the container again. Without
//! a daemon there is no daemon restart, so `always` and `unless-stopped` behave alike.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The bundle annotation that carries the policy, in Docker's `--restart` syntax.
pub const ANNOTATION_RESTART: &str = "org.pycore.restart";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    #[default]
    No,
    /// Restart after a non-zero exit, at most this many times (0: without limit).
    OnFailure(u32),
    Always,
    UnlessStopped,
}

impl Policy {
    pub fn parse(s: &str) -> Option<Policy> {
        let (name, count) = match s.split_once(':') {
            Some((n, c)) => (n, Some(c.parse::<u32>().ok()?)),
            None => (s, None),
        };
        Some(match (name, count) {
            ("" | "no", None) => Policy::No,
            ("on-failure", c) => Policy::OnFailure(c.unwrap_or(0)),
            ("always", None) => Policy::Always,
            ("unless-stopped", None) => Policy::UnlessStopped,
            _ => return None,
        })
    }

    /// Whether a container that exited with `code` after `restarts` restarts goes again
    /// (Docker's `RestartManager.ShouldRestart`; a stop by the user is checked apart).
    pub fn should_restart(self, code: i32, restarts: u32) -> bool {
        match self {
            Policy::No => false,
            Policy::OnFailure(max) => code != 0 && (max == 0 || restarts < max),
            Policy::Always | Policy::UnlessStopped => true,
        }
    }
}

/// Docker's back-off: 100 ms, doubling at each restart, at most a minute; a container that
/// ran for 10 s or more starts again from 100 ms.
pub fn backoff(previous: Duration, ran_for: Duration) -> Duration {
    if ran_for >= Duration::from_secs(10) || previous.is_zero() {
        return Duration::from_millis(100);
    }
    (previous * 2).min(Duration::from_secs(60))
}

/// The file `stop`, `kill` and `rm` create beside `state.json` to tell the monitor that the
/// user stopped the container: it must not restart it (Docker's HasBeenManuallyStopped).
pub fn stop_marker(state: &Path) -> PathBuf {
    state.with_file_name("stopped")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dockers_syntax() {
        assert_eq!(Policy::parse("no"), Some(Policy::No));
        assert_eq!(Policy::parse("on-failure"), Some(Policy::OnFailure(0)));
        assert_eq!(Policy::parse("on-failure:3"), Some(Policy::OnFailure(3)));
        assert_eq!(Policy::parse("always"), Some(Policy::Always));
        assert_eq!(Policy::parse("unless-stopped"), Some(Policy::UnlessStopped));
        assert_eq!(Policy::parse("always:2"), None);
        assert_eq!(Policy::parse("sometimes"), None);
    }

    #[test]
    fn decides_like_docker() {
        assert!(!Policy::OnFailure(2).should_restart(0, 0));
        assert!(Policy::OnFailure(2).should_restart(3, 1));
        assert!(!Policy::OnFailure(2).should_restart(3, 2));
        assert!(Policy::Always.should_restart(0, 100));
        assert!(!Policy::No.should_restart(1, 0));
        let d = backoff(Duration::ZERO, Duration::ZERO);
        assert_eq!(d, Duration::from_millis(100));
        assert_eq!(backoff(d, Duration::ZERO), Duration::from_millis(200));
        assert_eq!(backoff(d, Duration::from_secs(11)), d);
    }
}
