package block

import (
	"path/filepath"
	"sync/atomic"
	"testing"
)

// Benchmarks of 256 KiB fragments (a 1 MiB chunk under EC 4+2). The
// device is a sparse file on the host filesystem, so every put pays two
// real fsyncs (data before commit, then the commit).
//
//	go test -run '^$' -bench . -benchtime 2s ./chunks/block/

const benchFragmentBytes = 256 << 10

func benchFileDevice(b *testing.B) *Device {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench")
	if err := Format(path, 2<<30, FormatOptions{UUID: testUUID}); err != nil {
		b.Fatal(err)
	}
	d, err := Open(path, "bench", testClock())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mustClose(b, d) })
	return d
}

// Keys cycle over 1024 (256 MiB), so steady state includes replacing and
// freeing extents.
func benchPut(b *testing.B, d *Device) {
	data := testData(1, benchFragmentBytes)
	b.SetBytes(benchFragmentBytes)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := d.PutFragment(testKey(i%1024), data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPutFragment256KiB(b *testing.B) { benchPut(b, benchFileDevice(b)) }

// Concurrent writers share journal blocks and fsyncs (group commit).
func BenchmarkPutFragment256KiBParallel(b *testing.B) {
	d := benchFileDevice(b)
	data := testData(1, benchFragmentBytes)
	var next atomic.Int64
	b.SetBytes(benchFragmentBytes)
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := d.PutFragment(testKey(int(next.Add(1)%1024)), data); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkGetFragment256KiB(b *testing.B) {
	d := benchFileDevice(b)
	data := testData(1, benchFragmentBytes)
	for i := range 256 {
		mustPut(b, d, testKey(i), data)
	}
	b.SetBytes(benchFragmentBytes)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := d.GetFragment(testKey(i % 256)); err != nil {
			b.Fatal(err)
		}
	}
}
