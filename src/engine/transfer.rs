//! Moving images onto a daemon that lacks them, for `dockgrade prepare`:
//! pulls with per-layer progress, and saving/loading image archives.
