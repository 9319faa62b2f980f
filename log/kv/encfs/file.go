package encfs

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// HeaderBytes is the size of the header in front of every file.
const HeaderBytes = 32

var magic = [8]byte{'a', 'n', 'n', 'a', 'l', 'e', 'f', 's'}

const formatVersion uint16 = 1

// ErrNotEncrypted: the file lacks the header (written without encfs).
var ErrNotEncrypted = errors.New("encfs: file is not encrypted")

// Key is a data-at-rest key.
type Key struct {
	block cipher.Block
}

// NewKey returns a key from 32 bytes.
func NewKey(raw []byte) (*Key, error) {
	if len(raw) != 32 {
		return nil, fmt.Errorf("encfs: key of %d bytes, want 32", len(raw))
	}
	b, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	return &Key{block: b}, nil
}

// xor encrypts or decrypts p in place as the bytes at logical offset off
// of a file with the given IV.
func (k *Key) xor(iv [16]byte, off int64, p []byte) {
	ctr := iv
	// Add the block index to the 128-bit counter (big-endian).
	lo := binary.BigEndian.Uint64(ctr[8:])
	hi := binary.BigEndian.Uint64(ctr[:8])
	blk := uint64(off / aes.BlockSize)
	nlo := lo + blk
	if nlo < lo {
		hi++
	}
	binary.BigEndian.PutUint64(ctr[:8], hi)
	binary.BigEndian.PutUint64(ctr[8:], nlo)
	stream := cipher.NewCTR(k.block, ctr[:])
	if skip := int(off % aes.BlockSize); skip > 0 {
		var junk [aes.BlockSize]byte
		stream.XORKeyStream(junk[:skip], junk[:skip])
	}
	stream.XORKeyStream(p, p)
}

// cryptFile is an encrypted *os.File implementing Pebble's vfs.File (and
// positioned writes and seeks, which Pebble's interface leaves optional).
type cryptFile struct {
	f   *os.File
	key *Key
	iv  [16]byte

	mu  sync.Mutex // guards pos
	pos int64      // logical offset for Read, Write and Seek
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// newHeader writes a fresh header at the start of f.
func newHeader(f *os.File, key *Key) (*cryptFile, error) {
	cf := &cryptFile{f: f, key: key}
	if _, err := rand.Read(cf.iv[:]); err != nil {
		return nil, fmt.Errorf("encfs: iv: %w", err)
	}
	var hdr [HeaderBytes]byte
	copy(hdr[:8], magic[:])
	binary.BigEndian.PutUint16(hdr[8:10], formatVersion)
	copy(hdr[16:32], cf.iv[:])
	if _, err := f.WriteAt(hdr[:], 0); err != nil {
		return nil, fmt.Errorf("encfs: write header: %w", err)
	}
	return cf, nil
}

// readHeader reads the header of an existing file.
func readHeader(f *os.File, key *Key) (*cryptFile, error) {
	var hdr [HeaderBytes]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotEncrypted, f.Name(), err)
	}
	if [8]byte(hdr[:8]) != magic {
		return nil, fmt.Errorf("%w: %s", ErrNotEncrypted, f.Name())
	}
	if v := binary.BigEndian.Uint16(hdr[8:10]); v != formatVersion {
		return nil, fmt.Errorf("encfs: %s has format version %d", f.Name(), v)
	}
	cf := &cryptFile{f: f, key: key}
	copy(cf.iv[:], hdr[16:32])
	return cf, nil
}

func (c *cryptFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.f.ReadAt(p, off+HeaderBytes)
	c.key.xor(c.iv, off, p[:n])
	return n, err
}

func (c *cryptFile) WriteAt(p []byte, off int64) (int, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	written := 0
	for written < len(p) {
		n := min(len(buf), len(p)-written)
		chunk := buf[:n]
		copy(chunk, p[written:written+n])
		c.key.xor(c.iv, off+int64(written), chunk)
		m, err := c.f.WriteAt(chunk, off+int64(written)+HeaderBytes)
		written += m
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

func (c *cryptFile) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.ReadAt(p, c.pos)
	c.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (c *cryptFile) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.WriteAt(p, c.pos)
	c.pos += int64(n)
	return n, err
}

func (c *cryptFile) Seek(offset int64, whence int) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += c.pos
	case io.SeekEnd:
		st, err := c.Stat()
		if err != nil {
			return 0, err
		}
		offset += st.Size()
	default:
		return 0, fmt.Errorf("encfs: bad whence %d", whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("encfs: negative offset")
	}
	c.pos = offset
	return offset, nil
}

func (c *cryptFile) Stat() (os.FileInfo, error) {
	fi, err := c.f.Stat()
	if err != nil {
		return nil, err
	}
	return logicalInfo{fi}, nil
}

func (c *cryptFile) Sync() error  { return c.f.Sync() }
func (c *cryptFile) Close() error { return c.f.Close() }

// logicalInfo reports a file's size without the header.
type logicalInfo struct{ os.FileInfo }

func (l logicalInfo) Size() int64 {
	if l.IsDir() || l.FileInfo.Size() < HeaderBytes {
		return l.FileInfo.Size()
	}
	return l.FileInfo.Size() - HeaderBytes
}
