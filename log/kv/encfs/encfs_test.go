package encfs

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/annal-storage/annal/log/kv"
	"pgregory.net/rapid"
)

func testKey(t testing.TB) *Key {
	k, err := NewKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestRandomAccessMatchesPlainFile: positioned writes, appends and reads
// at arbitrary offsets through an encrypted file behave exactly like a
// plain byte slice, and the bytes on disk never equal what was written.
// (Writes never leave gaps: a hole in an encrypted file reads as
// keystream, not zeros, and neither engine reads bytes it did not write.)
func TestRandomAccessMatchesPlainFile(t *testing.T) {
	dir := t.TempDir()
	key := testKey(t)
	fs := NewPebble(key)
	rapid.Check(t, func(rt *rapid.T) {
		name := filepath.Join(dir, "f")
		pf, err := fs.Create(name)
		if err != nil {
			rt.Fatal(err)
		}
		f := pf.(*cryptFile)
		var model []byte
		for n := rapid.IntRange(1, 30).Draw(rt, "ops"); n > 0; n-- {
			data := rapid.SliceOfN(rapid.ByteRange(1, 255), 1, 300).Draw(rt, "data")
			if rapid.Bool().Draw(rt, "append") {
				if _, err := f.Write(data); err != nil {
					rt.Fatal(err)
				}
				pos, _ := f.Seek(0, io.SeekCurrent)
				model = grow(model, int(pos))
				copy(model[int(pos)-len(data):], data)
			} else {
				off := rapid.IntRange(0, len(model)).Draw(rt, "off")
				if _, err := f.WriteAt(data, int64(off)); err != nil {
					rt.Fatal(err)
				}
				model = grow(model, off+len(data))
				copy(model[off:], data)
			}
		}
		f.Close()
		g, err := fs.Open(name)
		if err != nil {
			rt.Fatal(err)
		}
		defer g.Close()
		got, err := io.ReadAll(g)
		if err != nil || !bytes.Equal(got, model) {
			rt.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(model))
		}
		if st, _ := g.Stat(); st.Size() != int64(len(model)) {
			rt.Fatalf("logical size %d, want %d", st.Size(), len(model))
		}
		off := rapid.IntRange(0, len(model)).Draw(rt, "readAt")
		buf := make([]byte, len(model)-off)
		if _, err := g.ReadAt(buf, int64(off)); err != nil && err != io.EOF {
			rt.Fatal(err)
		}
		if !bytes.Equal(buf, model[off:]) {
			rt.Fatalf("ReadAt(%d) mismatch", off)
		}
		raw, _ := os.ReadFile(name)
		if len(model) >= 16 && bytes.Contains(raw, model[len(model)-16:]) {
			rt.Fatalf("plaintext found on disk")
		}
	})
}

func grow(b []byte, n int) []byte {
	for len(b) < n {
		b = append(b, 0)
	}
	return b
}

// TestPebbleOnEncfs: a Pebble store on the encrypting FS reopens with its
// data, and a marker written as keys and values appears in no file.
func TestPebbleOnEncfs(t *testing.T) {
	dir := t.TempDir()
	fs := NewPebble(testKey(t))
	marker := "zq-secret-marker-8f3a"
	p, err := kv.OpenPebble(dir, kv.PebbleOptions{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		b := p.NewBatch()
		_ = b.Set([]byte(strings.Repeat("k", i%7)+marker), []byte(marker+strings.Repeat("v", i)))
		if err := b.Commit(true); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	p.Close()
	p, err = kv.OpenPebble(dir, kv.PebbleOptions{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	v, ok, err := p.Get([]byte("kk" + marker))
	p.Close()
	if err != nil || !ok || !strings.HasPrefix(string(v), marker) {
		t.Fatalf("reopened store lost data: %q %v %v", v, ok, err)
	}
	_ = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		if bytes.Contains(b, []byte(marker)) {
			t.Errorf("marker in plaintext in %s", path)
		}
		return nil
	})
	if _, err := kv.OpenPebble(dir, kv.PebbleOptions{}); err == nil {
		t.Errorf("opened an encrypted store without the key")
	}
}

func TestWrongFileRejected(t *testing.T) {
	name := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(name, []byte("not encrypted at all, longer than a header"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewPebble(testKey(t)).Open(name); err == nil {
		t.Fatal("opened a file without the header")
	}
}
