package keys

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// Goal: prove DeriveChunkDEK computes exactly HKDF-SHA256(master, salt =
// chunk id, info = "annal-chunk-dek-v1", 32) and never drifts.
// Method: (1) check the primitive crypto/hkdf and our independent RFC 5869
// implementation against RFC 5869 test case 1; (2) check DeriveChunkDEK and
// the independent implementation against a committed golden table that was
// produced by the independent implementation. A changed label, salt/key
// swap or truncation breaks (2); a broken reference breaks (1).

// rfc5869 is a hand-rolled HKDF-SHA256 (RFC 5869 §2.2 and §2.3) built on
// crypto/hmac only, so it shares no code with crypto/hkdf.
func rfc5869(ikm, salt, info []byte, length int) []byte {
	extract := hmac.New(sha256.New, salt)
	extract.Write(ikm)
	prk := extract.Sum(nil)

	var okm, previous []byte
	for counter := byte(1); len(okm) < length; counter++ {
		expand := hmac.New(sha256.New, prk)
		expand.Write(previous)
		expand.Write(info)
		expand.Write([]byte{counter})
		previous = expand.Sum(nil)
		okm = append(okm, previous...)
	}
	return okm[:length]
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestHKDFRFC5869Case1(t *testing.T) {
	ikm := bytes.Repeat([]byte{0x0b}, 22)
	salt := mustHex(t, "000102030405060708090a0b0c")
	info := mustHex(t, "f0f1f2f3f4f5f6f7f8f9")
	wantPRK := mustHex(t, "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
	wantOKM := mustHex(t, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")

	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		t.Fatalf("hkdf.Extract: %v", err)
	}
	if !bytes.Equal(prk, wantPRK) {
		t.Fatalf("crypto/hkdf PRK = %x, want %x", prk, wantPRK)
	}
	okm, err := hkdf.Key(sha256.New, ikm, salt, string(info), len(wantOKM))
	if err != nil {
		t.Fatalf("hkdf.Key: %v", err)
	}
	if !bytes.Equal(okm, wantOKM) {
		t.Fatalf("crypto/hkdf OKM = %x, want %x", okm, wantOKM)
	}
	if got := rfc5869(ikm, salt, info, len(wantOKM)); !bytes.Equal(got, wantOKM) {
		t.Fatalf("reference OKM = %x, want %x", got, wantOKM)
	}
}

// chunkDEKVectors is the golden table: master key, chunk id, DEK (hex).
// Never edit an existing row; the DEKs of stored chunks depend on them.
var chunkDEKVectors = []struct{ master, chunkID, dek string }{
	{
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"0000000000000000000000000000000000000000000000000000000000000000",
		"b44480ed0658eae566e668e91d1735a44ff9646595d83b6192da38ac84efa462",
	},
	{ // chunk id = SHA-256 of the empty string
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"58b063733c5d7f6f1702c2c8fc70fa66c3c70dbb2b8c9a3ad4eaa2e54294208d",
	},
	{
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"afff59d7f67e82c6dc3cbda13de8532e6274b915150b0d5b3042037c58f042d8",
	},
	{ // shortest accepted master key (MinMasterKeySizeBytes)
		"404142434445464748494a4b4c4d4e4f",
		"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
		"8710399519b7c0ab39f98a17ca702ce17c86ae68081137649557574f0ec574bd",
	},
	{ // master key longer than the SHA-256 block
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" +
			"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
		"a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5",
		"93271f9859dcdff94f124543e713d1db70c29f14774f14b40974836f36d9a7fa",
	},
}

func TestDeriveChunkDEKGolden(t *testing.T) {
	for _, v := range chunkDEKVectors {
		master := mustHex(t, v.master)
		var id [32]byte
		copy(id[:], mustHex(t, v.chunkID))
		want := mustHex(t, v.dek)

		if ref := rfc5869(master, id[:], []byte(ChunkDEKInfo), 32); !bytes.Equal(ref, want) {
			t.Errorf("reference(%s, %s) = %x, golden %x", v.master, v.chunkID, ref, want)
		}
		if got := DeriveChunkDEK(master, id); !bytes.Equal(got[:], want) {
			t.Errorf("DeriveChunkDEK(%s, %s) = %x, golden %x", v.master, v.chunkID, got, want)
		}
	}
}

func TestDeriveChunkDEKSeparatesInputs(t *testing.T) {
	master := bytes.Repeat([]byte{7}, MasterKeySizeBytes)
	var a, b [32]byte
	b[31] = 1
	if DeriveChunkDEK(master, a) == DeriveChunkDEK(master, b) {
		t.Fatal("different chunk ids gave the same DEK")
	}
	other := bytes.Repeat([]byte{8}, MasterKeySizeBytes)
	if DeriveChunkDEK(master, a) == DeriveChunkDEK(other, a) {
		t.Fatal("different master keys gave the same DEK")
	}
}

func TestDeriveChunkDEKRejectsShortMaster(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a 15-byte master key was accepted")
		}
	}()
	DeriveChunkDEK(make([]byte, MinMasterKeySizeBytes-1), [32]byte{})
}
