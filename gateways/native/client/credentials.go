package client

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Credentials are a tenant access key.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
}

// LoadCredentials reads one profile of an AWS shared-credentials file
// (the format the server writes to bootstrap-credentials):
//
//	[default]
//	aws_access_key_id = AK...
//	aws_secret_access_key = ...
func LoadCredentials(path, profile string) (Credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("credentials: %w", err)
	}
	c, err := ParseCredentials(b, profile)
	if err != nil {
		return c, fmt.Errorf("credentials %s: %w", path, err)
	}
	return c, nil
}

// ParseCredentials parses shared-credentials text.
func ParseCredentials(text []byte, profile string) (Credentials, error) {
	if profile == "" {
		profile = "default"
	}
	var c Credentials
	section, found := "", false
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[' && strings.HasSuffix(line, "]"):
			section = strings.TrimSpace(strings.TrimPrefix(line[1:len(line)-1], "profile "))
			found = found || section == profile
			continue
		}
		if section != profile {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "aws_access_key_id":
			c.AccessKeyID = strings.TrimSpace(v)
		case "aws_secret_access_key":
			c.SecretAccessKey = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return c, err
	}
	if !found {
		return c, fmt.Errorf("no profile [%s]", profile)
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return c, fmt.Errorf("profile [%s] lacks aws_access_key_id or aws_secret_access_key", profile)
	}
	return c, nil
}
