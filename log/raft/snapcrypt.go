package raft

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Snapshot streams carry a shard's projection state, which names tenant
// content, and dragonboat keeps the last one on disk; so they are
// encrypted. Stream format:
//
//	"annalSS1" | 16-byte salt | frames…
//	frame: u32 length (high bit: last frame) | AES-256-GCM(ciphertext+tag)
//
// The frame key is HKDF(snapshot key, salt); frame i's nonce is i, so a
// frame cannot be reordered, dropped or replayed, and a stream without its
// last frame is rejected.
var snapshotMagic = []byte("annalSS1")

const (
	snapshotFrameBytes = 64 << 10
	lastFrameFlag      = 1 << 31
)

// errSnapshotCorrupt: the stream fails authentication or framing.
var errSnapshotCorrupt = errors.New("snapshot stream corrupt or truncated")

func frameAEAD(key, salt []byte) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, key, salt, "annal-snapshot-frames-v1", 32)
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func frameNonce(i uint64) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n[4:], i)
	return n
}

// sealWriter encrypts a snapshot stream into w.
type sealWriter struct {
	w    io.Writer
	aead cipher.AEAD
	buf  []byte
	n    uint64
}

func newSealWriter(w io.Writer, key []byte) (*sealWriter, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	aead, err := frameAEAD(key, salt)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(append(append([]byte(nil), snapshotMagic...), salt...)); err != nil {
		return nil, err
	}
	return &sealWriter{w: w, aead: aead, buf: make([]byte, 0, snapshotFrameBytes)}, nil
}

func (s *sealWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		k := min(cap(s.buf)-len(s.buf), len(p))
		s.buf = append(s.buf, p[:k]...)
		p, written = p[k:], written+k
		if len(s.buf) == cap(s.buf) {
			if err := s.frame(false); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

func (s *sealWriter) frame(last bool) error {
	length := uint32(len(s.buf))
	if last {
		length |= lastFrameFlag
	}
	hdr := binary.BigEndian.AppendUint32(nil, length)
	out := s.aead.Seal(hdr, frameNonce(s.n), s.buf, hdr)
	s.n++
	s.buf = s.buf[:0]
	_, err := s.w.Write(out)
	return err
}

// Close writes the last frame.
func (s *sealWriter) Close() error { return s.frame(true) }

// openReader decrypts a snapshot stream.
type openReader struct {
	r    io.Reader
	aead cipher.AEAD
	buf  []byte
	n    uint64
	done bool
}

func newOpenReader(r io.Reader, key []byte) (*openReader, error) {
	hdr := make([]byte, len(snapshotMagic)+16)
	if _, err := io.ReadFull(r, hdr); err != nil || string(hdr[:len(snapshotMagic)]) != string(snapshotMagic) {
		return nil, fmt.Errorf("%w: bad header", errSnapshotCorrupt)
	}
	aead, err := frameAEAD(key, hdr[len(snapshotMagic):])
	if err != nil {
		return nil, err
	}
	return &openReader{r: r, aead: aead}, nil
}

func (o *openReader) Read(p []byte) (int, error) {
	for len(o.buf) == 0 {
		if o.done {
			return 0, io.EOF
		}
		if err := o.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, o.buf)
	o.buf = o.buf[n:]
	return n, nil
}

func (o *openReader) next() error {
	hdr := make([]byte, 4)
	if _, err := io.ReadFull(o.r, hdr); err != nil {
		return fmt.Errorf("%w: %v", errSnapshotCorrupt, err)
	}
	length := binary.BigEndian.Uint32(hdr)
	last := length&lastFrameFlag != 0
	length &^= lastFrameFlag
	if length > snapshotFrameBytes {
		return fmt.Errorf("%w: frame of %d bytes", errSnapshotCorrupt, length)
	}
	ct := make([]byte, int(length)+o.aead.Overhead())
	if _, err := io.ReadFull(o.r, ct); err != nil {
		return fmt.Errorf("%w: %v", errSnapshotCorrupt, err)
	}
	pt, err := o.aead.Open(ct[:0], frameNonce(o.n), ct, hdr)
	if err != nil {
		return fmt.Errorf("%w: frame %d: %v", errSnapshotCorrupt, o.n, err)
	}
	o.n++
	o.buf, o.done = pt, last
	return nil
}
