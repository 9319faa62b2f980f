package fuse

import (
	"context"
	"errors"
	"io"
	"sync"
)

// Read streaming: a sequential reader (cp, tar, the kernel's readahead)
// is served from one long server response instead of a request per
// 128 KiB; a random reader gets small ranged reads. Requests that arrive
// slightly out of order (the kernel issues readahead concurrently) are
// served from the bytes just passed or by skipping a little ahead.
const (
	// streamWindowBytes is how much one sequential stream asks for.
	streamWindowBytes = 256 << 20
	// randomReadBytes is the least a non-sequential read fetches.
	randomReadBytes = 128 << 10
	// behindBytes is how much already-streamed data is kept for
	// requests that arrive late; skipAheadBytes how far a stream reads
	// ahead to reach an early one.
	behindBytes    = 4 << 20
	skipAheadBytes = 8 << 20
)

// streamReader is one handle's read state.
type streamReader struct {
	b   Backend
	ino uint64

	mu   sync.Mutex
	body io.ReadCloser
	// cancel ends the body's request: a stream outlives the read that
	// opened it, so it has a context of its own.
	cancel context.CancelFunc
	// pos is the file offset of the body's next byte; end where the
	// body stops; size the file size when it was opened.
	pos, end, size int64
	gen            uint64
	// behind holds the bytes just before pos.
	behind []byte
	// lastEnd is where the previous read ended (sequential detection).
	lastEnd int64
}

func (s *streamReader) init(b Backend, ino uint64) {
	s.b, s.ino = b, ino
}

func (s *streamReader) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop()
}

func (s *streamReader) drop() {
	if s.body != nil {
		s.body.Close()
		s.cancel()
		s.body = nil
	}
	s.behind = s.behind[:0]
}

// read appends to dst up to n bytes at off (fewer at the end of the
// file) and returns them with the file size as of the stream. gen is the
// inode's write generation: a stream from before this mount's last flush
// is reopened.
func (s *streamReader) read(ctx context.Context, dst []byte, off, n int64, gen uint64) ([]byte, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sequential := off == s.lastEnd
	s.lastEnd = off + n
	if s.body != nil && s.gen == gen {
		start := s.pos - int64(len(s.behind))
		if off >= start && off < s.end && off <= s.pos+skipAheadBytes {
			return s.serve(dst, off, n)
		}
	}
	s.drop()
	length := max(n, randomReadBytes)
	if sequential {
		length = max(n, streamWindowBytes)
	}
	sctx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(ctx, cancel) // an interrupt while opening aborts it
	body, size, err := s.b.Read(sctx, s.ino, off, length)
	stop()
	if err != nil {
		cancel()
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		return nil, 0, err
	}
	s.cancel = cancel
	s.body, s.pos, s.end, s.size, s.gen = body, off, min(off+length, size), size, gen
	return s.serve(dst, off, n)
}

// serve answers from the bytes just streamed and then the body, reading
// forward to off first when it lies a little ahead.
func (s *streamReader) serve(dst []byte, off, n int64) ([]byte, int64, error) {
	end := min(off+n, s.end)
	if off < s.pos {
		start := s.pos - int64(len(s.behind))
		to := min(end, s.pos)
		dst = append(dst, s.behind[off-start:to-start]...)
		off = to
	}
	if skip := off - s.pos; skip > 0 {
		if _, err := s.fill(make([]byte, skip)); err != nil {
			return nil, 0, err
		}
	}
	if want := end - off; want > 0 && s.pos == off {
		at := len(dst)
		dst = append(dst, make([]byte, want)...)
		got, err := s.fill(dst[at:])
		if err != nil {
			return nil, 0, err
		}
		dst = dst[:at+got]
	}
	return dst, s.size, nil
}

// fill reads len(buf) bytes of the body, fewer when it ends early (the
// file shrank), and remembers them.
func (s *streamReader) fill(buf []byte) (int, error) {
	got, err := io.ReadFull(s.body, buf)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		s.end, err = s.pos+int64(got), nil
	}
	if err != nil {
		s.drop()
		return 0, err
	}
	s.pos += int64(got)
	s.behind = append(s.behind, buf[:got]...)
	if len(s.behind) > 2*behindBytes { // trim rarely: amortised copying
		s.behind = append(s.behind[:0], s.behind[len(s.behind)-behindBytes:]...)
	}
	return got, nil
}
