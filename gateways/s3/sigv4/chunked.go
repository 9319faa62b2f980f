package sigv4

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"strconv"
	"strings"

	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// Limits of the aws-chunked decoder. They bound memory whatever the
// client sends: chunk data is streamed, never buffered.
const (
	chunkLineBytesMax    = 4096    // one chunk header or trailer line
	chunkSizeBytesMax    = 5 << 30 // one chunk; S3's single-PUT ceiling
	trailerLinesMax      = 16      // trailer lines, blank ones included
	trailerPaddingMax    = 4       // stray CR/LF bytes after the trailers
	chunkPayloadPrefix   = "AWS4-HMAC-SHA256-PAYLOAD"
	chunkTrailerPrefix   = "AWS4-HMAC-SHA256-TRAILER"
	trailerSignatureName = "x-amz-trailer-signature"
)

// chunkSigner chains chunk signatures from the seed signature of the
// request (AWS "Signature Calculations for the Authorization Header:
// Transferring Payload in Multiple Chunks").
type chunkSigner struct {
	key     []byte
	amzDate string
	scope   string
	prev    string
}

// payloadSignature is the signature of a chunk whose data hashes to
// dataHashHex, chained from the previous signature.
func (s *chunkSigner) payloadSignature(dataHashHex string) string {
	sts := chunkPayloadPrefix + "\n" + s.amzDate + "\n" + s.scope + "\n" + s.prev + "\n" +
		emptySHA256Hex + "\n" + dataHashHex
	return signatureHex(s.key, sts)
}

// trailerSignature is the signature of the trailer chunk whose canonical
// text ("name:value\n" per trailer) is trailerText.
func (s *chunkSigner) trailerSignature(trailerText string) string {
	sum := sha256.Sum256([]byte(trailerText))
	sts := chunkTrailerPrefix + "\n" + s.amzDate + "\n" + s.scope + "\n" + s.prev + "\n" +
		hex.EncodeToString(sum[:])
	return signatureHex(s.key, sts)
}

// trailerField is one trailing header as received, name lower-cased.
type trailerField struct{ name, value string }

// chunkedReader decodes an aws-chunked body:
//
//	hex-size[;chunk-signature=sig] CRLF data CRLF … 0[;chunk-signature=sig] CRLF
//	[trailer-name:value CRLF … [x-amz-trailer-signature:sig CRLF]] CRLF
//
// With a signer, every chunk's signature is checked when its data ends
// and the trailer signature when the trailers end. Data is handed out
// before its chunk is checked; the caller must not trust any of it until
// Read returns io.EOF. Errors are *s3err.Error and sticky.
type chunkedReader struct {
	src         *bufio.Reader
	signer      *chunkSigner // nil for STREAMING-UNSIGNED-PAYLOAD-TRAILER
	withTrailer bool

	inData    bool
	left      int64 // data bytes left in the current chunk
	dataHash  hash.Hash
	chunkSig  string
	trailers  []trailerField
	decoded   int64
	err       error
	finalized bool
}

func newChunkedReader(r io.Reader, signer *chunkSigner, withTrailer bool) *chunkedReader {
	c := &chunkedReader{src: bufio.NewReaderSize(r, chunkLineBytesMax), signer: signer, withTrailer: withTrailer}
	if signer != nil {
		c.dataHash = sha256.New()
	}
	return c
}

// Trailers returns the trailing headers once Read has returned io.EOF.
func (c *chunkedReader) Trailers() []trailerField {
	if !c.finalized {
		return nil
	}
	return c.trailers
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for !c.inData || c.left == 0 {
		if c.inData {
			if err := c.endChunk(); err != nil {
				return 0, c.fail(err)
			}
			continue
		}
		if err := c.beginChunk(); err != nil {
			return 0, c.fail(err)
		}
		if c.err != nil { // the final chunk ended the stream
			return 0, c.err
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.src.Read(p)
	c.left -= int64(n)
	c.decoded += int64(n)
	if c.dataHash != nil {
		c.dataHash.Write(p[:n])
	}
	if err == io.EOF {
		err = nil
		if n == 0 {
			return 0, c.fail(truncated(io.ErrUnexpectedEOF))
		}
	}
	if err != nil {
		return n, c.fail(s3err.Wrap(s3err.IncompleteBody, err, ""))
	}
	return n, nil
}

func (c *chunkedReader) fail(err error) error {
	c.err = err
	return err
}

func truncated(err error) error {
	return s3err.Wrap(s3err.IncompleteBody, err, "The aws-chunked body ended early.")
}

func malformedChunk(msg string) error {
	return s3err.Newf(s3err.IncompleteBody, "The aws-chunked body is malformed: %s.", msg)
}

// readLine reads one line without its "\n" or "\r\n". A line longer than
// chunkLineBytesMax is malformed. At a clean end of input it returns
// io.EOF.
func (c *chunkedReader) readLine() (string, error) {
	line, err := c.src.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", malformedChunk("line too long")
	case err == io.EOF && len(line) == 0:
		return "", io.EOF
	case err == io.EOF:
		return "", truncated(io.ErrUnexpectedEOF)
	case err != nil:
		return "", s3err.Wrap(s3err.IncompleteBody, err, "")
	}
	s := strings.TrimSuffix(string(line[:len(line)-1]), "\r")
	return s, nil
}

// beginChunk reads a chunk header. A zero-size chunk finishes the stream.
func (c *chunkedReader) beginChunk() error {
	line, err := c.readLine()
	if err == io.EOF {
		return truncated(io.ErrUnexpectedEOF)
	}
	if err != nil {
		return err
	}
	size, sig, err := parseChunkHeader(line, c.signer != nil)
	if err != nil {
		return err
	}
	c.chunkSig = sig
	if size == 0 {
		if err := c.finish(); err != nil {
			return err
		}
		c.finalized = true
		c.err = io.EOF
		return nil
	}
	c.inData, c.left = true, size
	return nil
}

// parseChunkHeader parses "hex-size[;chunk-signature=sig]". Signed chunks
// must carry exactly that one extension; unsigned chunks may carry none
// or ignore any.
func parseChunkHeader(line string, signed bool) (int64, string, error) {
	sizeText, ext, hasExt := strings.Cut(line, ";")
	if sizeText == "" || len(sizeText) > 16 {
		return 0, "", malformedChunk("bad chunk size")
	}
	size, err := strconv.ParseInt(sizeText, 16, 64)
	if err != nil || size < 0 || size > chunkSizeBytesMax {
		return 0, "", malformedChunk("bad chunk size")
	}
	if !signed {
		return size, "", nil
	}
	sig, ok := strings.CutPrefix(ext, "chunk-signature=")
	if !hasExt || !ok || !isLowerHex(sig, 64) {
		return 0, "", malformedChunk("missing or malformed chunk-signature")
	}
	return size, sig, nil
}

// endChunk consumes the CRLF after chunk data and checks the chunk's
// signature.
func (c *chunkedReader) endChunk() error {
	if err := c.expectLineEnd(); err != nil {
		return err
	}
	c.inData = false
	if c.signer == nil {
		return nil
	}
	sum := hex.EncodeToString(c.dataHash.Sum(nil))
	c.dataHash.Reset()
	return c.checkChunkSignature(sum)
}

func (c *chunkedReader) checkChunkSignature(dataHashHex string) error {
	want := c.signer.payloadSignature(dataHashHex)
	if !signaturesEqual(want, c.chunkSig) {
		return s3err.New(s3err.SignatureDoesNotMatch,
			"The chunk signature we calculated does not match the signature you provided.")
	}
	c.signer.prev = want
	return nil
}

// expectLineEnd consumes "\r\n" (or a bare "\n").
func (c *chunkedReader) expectLineEnd() error {
	b, err := c.src.ReadByte()
	if err == nil && b == '\r' {
		b, err = c.src.ReadByte()
	}
	if err == io.EOF {
		return truncated(io.ErrUnexpectedEOF)
	}
	if err != nil {
		return s3err.Wrap(s3err.IncompleteBody, err, "")
	}
	if b != '\n' {
		return malformedChunk("chunk data is not followed by CRLF")
	}
	return nil
}

// finish handles what follows the zero-size chunk: its signature, the
// trailers if any, and the end of the body.
func (c *chunkedReader) finish() error {
	if c.signer != nil {
		if err := c.checkChunkSignature(emptySHA256Hex); err != nil {
			return err
		}
	}
	if c.withTrailer {
		if err := c.readTrailers(); err != nil {
			return err
		}
	} else if line, err := c.readLine(); err != nil && err != io.EOF {
		return err
	} else if err == nil && line != "" {
		return malformedChunk("data after the final chunk")
	}
	return c.expectEnd()
}

// readTrailers reads trailer lines up to the blank line that ends them.
// It tolerates the blank line minio-go puts before
// x-amz-trailer-signature, and a trailer section cut off by end of body
// when unsigned.
func (c *chunkedReader) readTrailers() error {
	signature := ""
	for i := 0; i < trailerLinesMax; i++ {
		line, err := c.readLine()
		if err == io.EOF && c.signer == nil {
			return nil
		}
		if err == io.EOF {
			return s3err.New(s3err.MalformedTrailerError, "The trailer signature is missing.")
		}
		if err != nil {
			return err
		}
		if line == "" {
			if c.signer == nil || signature != "" {
				return c.checkTrailerSignature(signature)
			}
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		switch {
		case !ok || name == "" || signature != "":
			return s3err.Newf(s3err.MalformedTrailerError, "Malformed trailer line %q.", line)
		case name == trailerSignatureName && c.signer == nil:
			return s3err.New(s3err.MalformedTrailerError, "An unsigned trailer carries a signature.")
		case name == trailerSignatureName:
			if !isLowerHex(value, 64) {
				return s3err.New(s3err.MalformedTrailerError, "The trailer signature is malformed.")
			}
			signature = value
		default:
			c.trailers = append(c.trailers, trailerField{name: name, value: value})
		}
	}
	return s3err.New(s3err.MalformedTrailerError, "Too many trailer lines.")
}

func (c *chunkedReader) checkTrailerSignature(signature string) error {
	if c.signer == nil {
		return nil
	}
	var text strings.Builder
	for _, f := range c.trailers {
		text.WriteString(f.name + ":" + f.value + "\n")
	}
	want := c.signer.trailerSignature(text.String())
	if !signaturesEqual(want, signature) {
		return s3err.New(s3err.SignatureDoesNotMatch,
			"The trailer signature we calculated does not match the signature you provided.")
	}
	c.signer.prev = want
	return nil
}

// expectEnd allows a few stray CR/LF bytes (minio-go ends unsigned
// trailers with an extra CRLF) and then requires the end of the body.
func (c *chunkedReader) expectEnd() error {
	for i := 0; ; i++ {
		b, err := c.src.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return s3err.Wrap(s3err.IncompleteBody, err, "")
		}
		if (b != '\r' && b != '\n') || i >= trailerPaddingMax {
			return malformedChunk("data after the end of the aws-chunked body")
		}
	}
}
