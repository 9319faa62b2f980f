package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
)

// Key wrapping: AES-256-GCM with a caller-supplied 12-byte nonce (drawn
// from the command's random source, so it is recorded in the event and
// replays identically), output nonce ‖ ciphertext ‖ tag. aad binds the
// wrapped key to its purpose and owner.

// WrapNonceBytes is the nonce size of Wrap.
const WrapNonceBytes = 12

// ErrUnwrap: wrapped key material fails authentication.
var ErrUnwrap = errors.New("wrapped key failed authentication")

func gcm(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("wrapping key of %d bytes, want 32", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Wrap seals plaintext key material under key.
func Wrap(key []byte, nonce [WrapNonceBytes]byte, plaintext, aad []byte) ([]byte, error) {
	g, err := gcm(key)
	if err != nil {
		return nil, err
	}
	return g.Seal(append([]byte(nil), nonce[:]...), nonce[:], plaintext, aad), nil
}

// Unwrap opens what Wrap sealed.
func Unwrap(key, wrapped, aad []byte) ([]byte, error) {
	g, err := gcm(key)
	if err != nil {
		return nil, err
	}
	if len(wrapped) < WrapNonceBytes+g.Overhead() {
		return nil, ErrUnwrap
	}
	out, err := g.Open(nil, wrapped[:WrapNonceBytes], wrapped[WrapNonceBytes:], aad)
	if err != nil {
		return nil, ErrUnwrap
	}
	return out, nil
}
