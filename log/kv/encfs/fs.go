package encfs

import (
	"fmt"
	"io"
	"os"

	pebblevfs "github.com/cockroachdb/pebble/vfs"
)

// files holds the file operations both FS flavours share.
type files struct{ key *Key }

func (fs files) create(name string) (*cryptFile, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	cf, err := newHeader(f, fs.key)
	if err != nil {
		f.Close()
		return nil, err
	}
	return cf, nil
}

// file is what Pebble needs of a file; *cryptFile and *os.File (for
// directories) have it.
type file interface {
	io.ReadWriteSeeker
	io.ReaderAt
	io.WriterAt
	io.Closer
	Stat() (os.FileInfo, error)
	Sync() error
}

// open opens an encrypted file, or a directory as it is (engines open
// directories to sync them).
func (fs files) open(name string, flag int) (file, error) {
	f, err := os.OpenFile(name, flag, 0)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return f, nil
	}
	cf, err := readHeader(f, fs.key)
	if err != nil {
		f.Close()
		return nil, err
	}
	return cf, nil
}

// reuse renames a file for reuse and gives it a fresh IV: a recycled file
// is a new file as far as the keystream goes.
func (fs files) reuse(oldname, newname string) (*cryptFile, error) {
	if err := os.Rename(oldname, newname); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(newname, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	cf, err := newHeader(f, fs.key)
	if err != nil {
		f.Close()
		return nil, err
	}
	return cf, nil
}

func (fs files) stat(name string) (os.FileInfo, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	return logicalInfo{fi}, nil
}

// Pebble is an encrypting pebble vfs.FS over the OS file system.
type Pebble struct {
	pebblevfs.FS
	files files
}

// NewPebble returns an encrypting FS for Pebble.
func NewPebble(key *Key) *Pebble { return &Pebble{FS: pebblevfs.Default, files: files{key: key}} }

// Create implements vfs.FS.
func (p *Pebble) Create(name string) (pebblevfs.File, error) {
	f, err := p.files.create(name)
	return wrapPebble(f, err)
}

// Open implements vfs.FS.
func (p *Pebble) Open(name string, opts ...pebblevfs.OpenOption) (pebblevfs.File, error) {
	f, err := p.files.open(name, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		o.Apply(f)
	}
	return f, nil
}

// ReuseForWrite implements vfs.FS.
func (p *Pebble) ReuseForWrite(oldname, newname string) (pebblevfs.File, error) {
	f, err := p.files.reuse(oldname, newname)
	return wrapPebble(f, err)
}

// Stat implements vfs.FS.
func (p *Pebble) Stat(name string) (os.FileInfo, error) { return p.files.stat(name) }

func wrapPebble(f *cryptFile, err error) (pebblevfs.File, error) {
	if err != nil {
		return nil, fmt.Errorf("encfs: %w", err)
	}
	return f, nil
}
