package client

import (
	"net/url"
	"testing"
)

func TestParseCredentials(t *testing.T) {
	text := []byte("# comment\n[default]\naws_access_key_id = AK1\naws_secret_access_key = s/1+=\n\n[profile other]\naws_access_key_id=AK2\naws_secret_access_key=s2\n")
	for _, tc := range []struct {
		profile, id, secret string
		ok                  bool
	}{
		{"", "AK1", "s/1+=", true},
		{"default", "AK1", "s/1+=", true},
		{"other", "AK2", "s2", true},
		{"missing", "", "", false},
	} {
		c, err := ParseCredentials(text, tc.profile)
		if (err == nil) != tc.ok || c.AccessKeyID != tc.id || (tc.ok && c.SecretAccessKey != tc.secret) {
			t.Errorf("profile %q: %+v %v", tc.profile, c, err)
		}
	}
	if _, err := ParseCredentials([]byte("[default]\naws_access_key_id = AK1\n"), ""); err == nil {
		t.Error("a profile without a secret must be refused")
	}
}

// TestEncodeQueryIsCanonical: the query the client sends is already in
// SigV4 canonical form (sorted, every reserved byte escaped), so the
// server's canonicalisation of it is the identity.
func TestEncodeQueryIsCanonical(t *testing.T) {
	q := url.Values{"name": {"a b+c/d%e&f=g?ü"}, "after": {"x"}, "limit": {"10"}}
	got := encodeQuery(q)
	want := "after=x&limit=10&name=a%20b%2Bc%2Fd%25e%26f%3Dg%3F%C3%BC"
	if got != want {
		t.Fatalf("encodeQuery = %s, want %s", got, want)
	}
	if canonicalQuery(got) != got {
		t.Fatalf("canonicalQuery changes %s", got)
	}
}
