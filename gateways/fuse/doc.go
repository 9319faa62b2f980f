// Package fuse is the FUSE gateway: a kernel file system (hanwen/go-fuse,
// raw protocol) over a namespace reached through the native API, so the
// files are the same bytes S3 serves.
//
// It owns: translating FUSE requests into native API calls; the errno
// table (errno.go, the only place errno values are chosen); per-mount
// state — open files, their pending writes (batched per file and sent as
// one write event at fsync, close or a size threshold), read streams, the
// fcntl/flock lock table, files unlinked while open — and the kernel
// cache policy (short attribute and entry timeouts, page cache only for
// read-only opens).
//
// Invariants:
//   - fsync and close return only after every earlier write of the file
//     is committed; a failed background write-back is reported by the
//     next write, fsync or close (EIO).
//   - This mount reads its own writes: pending bytes are laid over the
//     server's on read, and over the size on getattr.
//   - Batches of one file are sent one at a time, in write order, so a
//     later write never loses to an earlier one.
//   - Writable shared mmap is refused (files open for writing use direct
//     I/O, whose shared mappings the kernel rejects with ENODEV); a log
//     line at mount says to use write().
//
// fuse imports go-fuse, gateways/native/wire and the standard library;
// never commands, log or projections (errno never enters the core).
package fuse
