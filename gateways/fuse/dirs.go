package fuse

import (
	"context"
	"strings"
	"sync"

	fuselib "github.com/hanwen/go-fuse/v2/fuse"

	"github.com/annal-storage/annal/gateways/native/wire"
)

// readDirPage is how many entries one listing request asks for.
const readDirPage = 1000

// dirHandle is an open directory: its listing, fetched when reading
// starts (offset 0), so offsets stay stable while the caller reads.
type dirHandle struct {
	mu      sync.Mutex
	ino     uint64
	entries []wire.Entry
	loaded  bool
}

// OpenDir opens a directory.
func (fs *FS) OpenDir(cancel <-chan struct{}, in *fuselib.OpenIn, out *fuselib.OpenOut) fuselib.Status {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.nextFh++
	fs.dirs[fs.nextFh] = &dirHandle{ino: in.NodeId}
	out.Fh = fs.nextFh
	return fuselib.OK
}

// ReleaseDir closes a directory.
func (fs *FS) ReleaseDir(in *fuselib.ReleaseIn) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	delete(fs.dirs, in.Fh)
}

func (fs *FS) dirHandle(fh uint64) (*dirHandle, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d, ok := fs.dirs[fh]
	return d, ok
}

// load fetches the whole listing; names this mount hid (unlinked while
// open) are left out.
func (d *dirHandle) load(ctx context.Context, b Backend) error {
	d.entries, d.loaded = nil, false
	after := ""
	for {
		page, err := b.ReadDir(ctx, d.ino, after, readDirPage)
		if err != nil {
			return err
		}
		for _, e := range page.Entries {
			if !strings.HasPrefix(e.Name, sillyPrefix) {
				d.entries = append(d.entries, e)
			}
		}
		if !page.More || len(page.Entries) == 0 {
			break
		}
		after = page.Entries[len(page.Entries)-1].Cursor
	}
	d.loaded = true
	return nil
}

// ReadDir lists names; offset k resumes after the k-th entry ("." and
// ".." are entries 1 and 2).
func (fs *FS) ReadDir(cancel <-chan struct{}, in *fuselib.ReadIn, out *fuselib.DirEntryList) fuselib.Status {
	return fs.readDir(cancel, in, out, false)
}

// ReadDirPlus lists names with their attributes, so `ls -l` needs no
// lookups.
func (fs *FS) ReadDirPlus(cancel <-chan struct{}, in *fuselib.ReadIn, out *fuselib.DirEntryList) fuselib.Status {
	return fs.readDir(cancel, in, out, true)
}

func (fs *FS) readDir(cancel <-chan struct{}, in *fuselib.ReadIn, out *fuselib.DirEntryList, plus bool) fuselib.Status {
	d, ok := fs.dirHandle(in.Fh)
	if !ok {
		return fuselib.EBADF
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if in.Offset == 0 || !d.loaded {
		ctx, stop := ctxOf(cancel)
		defer stop()
		if err := d.load(ctx, fs.b); err != nil {
			return status(err)
		}
	}
	dots := []fuselib.DirEntry{{Name: ".", Ino: d.ino, Mode: fuselib.S_IFDIR}, {Name: "..", Mode: fuselib.S_IFDIR}}
	for i := in.Offset; i < uint64(len(d.entries)+2); i++ {
		var e fuselib.DirEntry
		var attr wire.Attr
		if i < 2 {
			e = dots[i]
		} else {
			we := d.entries[i-2]
			attr = we.Attr
			e = fuselib.DirEntry{Name: we.Name, Ino: attr.Ino, Mode: attr.Mode}
		}
		e.Off = i + 1
		if !plus {
			if !out.AddDirEntry(e) {
				break
			}
			continue
		}
		entry := out.AddDirLookupEntry(e)
		if entry == nil {
			break
		}
		if i >= 2 {
			fs.fillEntry(attr, entry)
		}
	}
	return fuselib.OK
}
