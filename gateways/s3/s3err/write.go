package s3err

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
)

// Body is the XML error document. It carries no namespace: S3 error
// bodies have none, and the SDKs match the bare <Error> element.
type Body struct {
	XMLName    xml.Name     `xml:"Error"`
	Code       Code         `xml:"Code"`
	Message    string       `xml:"Message"`
	BucketName string       `xml:"BucketName,omitempty"`
	Key        string       `xml:"Key,omitempty"`
	Extra      []extraField `xml:""`
	Resource   string       `xml:"Resource,omitempty"`
	RequestID  string       `xml:"RequestId"`
	HostID     string       `xml:"HostId"`
}

// extraField renders as <Name>Value</Name>; XMLName carries the name
// because encoding/xml prefers it over the field's name.
type extraField struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

// Headers names the response headers the writer sets besides
// Content-Type and Content-Length.
const (
	HeaderRequestID = "x-amz-request-id"
	HeaderHostID    = "x-amz-id-2"
)

// Render builds the body for e. requestID and hostID identify the request
// in logs; resource is used when e names none.
func Render(e *Error, resource, requestID, hostID string) Body {
	b := Body{
		Code:       e.Code,
		Message:    e.ClientMessage(),
		BucketName: e.BucketName,
		Key:        e.Key,
		Resource:   e.Resource,
		RequestID:  requestID,
		HostID:     hostID,
	}
	if !Known(e.Code) {
		b.Code, b.Message = InternalError, DefaultMessage(InternalError)
	}
	if b.Resource == "" {
		b.Resource = resource
	}
	for _, f := range e.Extra {
		if !isElementName(f.Name) {
			continue // encoding/xml would emit it unchecked and break the body
		}
		b.Extra = append(b.Extra, extraField{XMLName: xml.Name{Local: f.Name}, Value: f.Value})
	}
	return b
}

// isElementName accepts the ASCII subset of XML names used by S3 bodies.
func isElementName(s string) bool {
	if s == "" || strings.HasPrefix(strings.ToLower(s), "xml") {
		return false
	}
	for i, c := range s {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if i == 0 && !letter {
			return false
		}
		if !letter && !(c >= '0' && c <= '9') && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// Marshal renders b with the XML declaration S3 sends.
func Marshal(b Body) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write sends err to the client: status from the table, the XML body, and
// the request id headers. A non-*Error err becomes InternalError. HEAD
// requests and 304 NotModified get no body. Write returns the status it
// sent so the caller can log it.
func Write(w http.ResponseWriter, r *http.Request, err error, requestID, hostID string) int {
	e := As(err)
	if e == nil {
		e = New(InternalError, "")
	}
	status := Status(e.Code)
	h := w.Header()
	h.Set(HeaderRequestID, requestID)
	if hostID != "" {
		h.Set(HeaderHostID, hostID)
	}
	if e.RetryAfter > 0 && status == http.StatusServiceUnavailable {
		h.Set("Retry-After", retryAfterSeconds(e.RetryAfter))
	}
	if status == http.StatusNotModified || r.Method == http.MethodHead {
		w.WriteHeader(status)
		return status
	}
	resource := ""
	if r.URL != nil {
		resource = r.URL.Path
	}
	body, merr := Marshal(Render(e, resource, requestID, hostID))
	if merr != nil {
		// Render only emits checked names and strings, so this is a bug;
		// still answer with a well-formed body.
		status = http.StatusInternalServerError
		body, _ = Marshal(Render(New(InternalError, ""), resource, requestID, hostID))
	}
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return status
}
