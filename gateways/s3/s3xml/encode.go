package s3xml

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Marshal renders v as a complete S3 document: XML declaration, then the
// element, without indentation (S3 sends none).
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		return nil, fmt.Errorf("s3xml: marshal %T: %w", v, err)
	}
	return buf.Bytes(), nil
}

// Encode writes Marshal(v) to w.
func Encode(w io.Writer, v any) error {
	b, err := Marshal(v)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("s3xml: write %T: %w", v, err)
	}
	return nil
}

// WriteResponse sends v as the body of a status response with the XML
// content type and an exact Content-Length. The document is rendered
// before any header is written, so a marshal failure can still become an
// error response.
func WriteResponse(w http.ResponseWriter, status int, v any) error {
	b, err := Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("s3xml: write %T: %w", v, err)
	}
	return nil
}

// URLEncodeKey renders a key, prefix, delimiter or marker for a listing
// requested with encoding-type=url: every byte outside A-Z a-z 0-9
// '-' '.' '_' '~' '/' becomes %XX. Spaces become %20 and '+' becomes %2B,
// so clients that decode with either unquote or unquote_plus get the key
// back; control characters, which XML 1.0 cannot carry, survive too.
func URLEncodeKey(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '/' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexDigits[c>>4], hexDigits[c&0x0f])
	}
	return string(b)
}
