package fuse

import (
	"sync"
	"syscall"

	fuselib "github.com/hanwen/go-fuse/v2/fuse"
)

// Locks are per-mount state (ADR-013): fcntl byte-range locks and flock
// locks conflict between processes using this mount; they are not
// replicated, and another mount (or S3) does not see them.

// lockRange is one held lock: [start, end] inclusive, as FUSE passes
// them (end = OFFSET_MAX for "to the end of file").
type lockRange struct {
	owner      uint64
	start, end uint64
	write      bool
	pid        uint32
}

func (l lockRange) overlaps(start, end uint64) bool { return l.start <= end && start <= l.end }

// lockKey separates the two lock families, which never conflict with
// each other (as on Linux).
type lockKey struct {
	ino   uint64
	flock bool
}

type lockTable struct {
	mu    sync.Mutex
	cond  *sync.Cond
	locks map[lockKey][]lockRange
}

func newLockTable() *lockTable {
	t := &lockTable{locks: map[lockKey][]lockRange{}}
	t.cond = sync.NewCond(&t.mu)
	return t
}

// conflict returns a lock of another owner that keeps owner from taking
// the lock described.
func (t *lockTable) conflict(k lockKey, owner uint64, start, end uint64, write bool) (lockRange, bool) {
	for _, l := range t.locks[k] {
		if l.owner != owner && l.overlaps(start, end) && (write || l.write) {
			return l, true
		}
	}
	return lockRange{}, false
}

// set replaces owner's locks over [start, end] with the new one (none
// for an unlock), splitting ranges it cuts (POSIX semantics).
func (t *lockTable) set(k lockKey, owner uint64, start, end uint64, typ uint32, pid uint32) {
	var keep []lockRange
	for _, l := range t.locks[k] {
		if l.owner != owner || !l.overlaps(start, end) {
			keep = append(keep, l)
			continue
		}
		if l.start < start {
			left := l
			left.end = start - 1
			keep = append(keep, left)
		}
		if l.end > end {
			right := l
			right.start = end + 1
			keep = append(keep, right)
		}
	}
	if typ != syscall.F_UNLCK {
		keep = append(keep, lockRange{owner: owner, start: start, end: end, write: typ == syscall.F_WRLCK, pid: pid})
	}
	if len(keep) == 0 {
		delete(t.locks, k)
	} else {
		t.locks[k] = keep
	}
	t.cond.Broadcast()
}

func (t *lockTable) releaseOwner(ino, owner uint64, flock bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.set(lockKey{ino, flock}, owner, 0, ^uint64(0), syscall.F_UNLCK, 0)
}

func keyOf(in *fuselib.LkIn) lockKey {
	return lockKey{ino: in.NodeId, flock: in.LkFlags&fuselib.LK_FLOCK != 0}
}

// GetLk reports a lock that would block the one described (F_GETLK).
func (fs *FS) GetLk(_ <-chan struct{}, in *fuselib.LkIn, out *fuselib.LkOut) fuselib.Status {
	t := fs.locks
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.conflict(keyOf(in), in.Owner, in.Lk.Start, in.Lk.End, in.Lk.Typ == syscall.F_WRLCK)
	if !ok {
		out.Lk = fuselib.FileLock{Typ: syscall.F_UNLCK}
		return fuselib.OK
	}
	typ := uint32(syscall.F_RDLCK)
	if l.write {
		typ = syscall.F_WRLCK
	}
	out.Lk = fuselib.FileLock{Start: l.start, End: l.end, Typ: typ, Pid: l.pid}
	return fuselib.OK
}

// noteOwner remembers that a lock owner locked through a handle, so the
// handle's release drops the owner's locks (open file description and
// flock locks end with their file; the kernel does not send an unlock).
func (fs *FS) noteOwner(in *fuselib.LkIn) {
	if h, ok := fs.handle(in.Fh); ok {
		h.mu.Lock()
		if h.owners == nil {
			h.owners = map[uint64]bool{}
		}
		h.owners[in.Owner] = true
		h.mu.Unlock()
	}
}

// SetLk takes or releases a lock without waiting (F_SETLK, flock with
// LOCK_NB): a conflict is EAGAIN.
func (fs *FS) SetLk(_ <-chan struct{}, in *fuselib.LkIn) fuselib.Status {
	fs.noteOwner(in)
	t := fs.locks
	t.mu.Lock()
	defer t.mu.Unlock()
	k := keyOf(in)
	if in.Lk.Typ != syscall.F_UNLCK {
		if _, ok := t.conflict(k, in.Owner, in.Lk.Start, in.Lk.End, in.Lk.Typ == syscall.F_WRLCK); ok {
			return fuselib.EAGAIN
		}
	}
	t.set(k, in.Owner, in.Lk.Start, in.Lk.End, in.Lk.Typ, in.Lk.Pid)
	return fuselib.OK
}

// SetLkw waits for a lock (F_SETLKW, flock); an interrupted wait is
// EINTR.
func (fs *FS) SetLkw(cancel <-chan struct{}, in *fuselib.LkIn) fuselib.Status {
	fs.noteOwner(in)
	t := fs.locks
	k := keyOf(in)
	stop := make(chan struct{})
	defer close(stop)
	go func() { // wake the waiter when the kernel interrupts the call
		select {
		case <-cancel:
			t.mu.Lock()
			t.cond.Broadcast()
			t.mu.Unlock()
		case <-stop:
		}
	}()
	t.mu.Lock()
	defer t.mu.Unlock()
	for in.Lk.Typ != syscall.F_UNLCK {
		if _, ok := t.conflict(k, in.Owner, in.Lk.Start, in.Lk.End, in.Lk.Typ == syscall.F_WRLCK); !ok {
			break
		}
		select {
		case <-cancel:
			return fuselib.EINTR
		default:
		}
		t.cond.Wait()
	}
	t.set(k, in.Owner, in.Lk.Start, in.Lk.End, in.Lk.Typ, in.Lk.Pid)
	return fuselib.OK
}
