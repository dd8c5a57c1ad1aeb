"""Rendering for the CLI: tables, `--format json` and TTY-aware progress. Never prints on its own;
every function takes the stream it writes to."""
