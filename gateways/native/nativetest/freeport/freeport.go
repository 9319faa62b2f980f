// Package freeport hands tests loopback addresses to bind servers on.
//
// Ports come from below the kernel's ephemeral range (32768 and up on
// Linux): a port taken from the ephemeral range with "listen on :0, close"
// can be grabbed by any outgoing connection (a Raft transport dialling a
// peer) before the server binds it, which fails the test with "address
// already in use". Each test process walks its own stretch of the range,
// starting at an offset drawn from its pid, so parallel test binaries
// rarely meet; a port that is busy anyway is skipped.
//
// It is test support: only _test.go files and test helpers import it.
package freeport

import (
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
)

const (
	low  = 20000
	high = 32000
)

var (
	mu   sync.Mutex
	next = low + (os.Getpid()*97)%(high-low)
)

// Addr returns a loopback address whose port is free now and is handed to
// no other caller in this process; it fails the test when none is left.
func Addr(t testing.TB) string {
	t.Helper()
	addr, err := Find()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// Find is Addr for callers without a testing.TB (a fixture shared by a
// package's tests).
func Find() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	for range high - low {
		port := next
		next++
		if next == high {
			next = low
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		if err := ln.Close(); err != nil {
			return "", fmt.Errorf("close probe listener %s: %w", addr, err)
		}
		return addr, nil
	}
	return "", fmt.Errorf("no free loopback port in [%d, %d)", low, high)
}
