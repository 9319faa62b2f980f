package s3err

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestProtocolPackagesImportNoCore enforces the boundary each doc.go
// states: the S3 protocol packages use the standard library and s3err
// only, never annal's core (commands, log, projections, chunks, keys) —
// and never the standard "log" package. Method: parse the import
// clauses of every non-test file.
func TestProtocolPackagesImportNoCore(t *testing.T) {
	const module = "github.com/annal-storage/annal/"
	allowed := map[string]bool{module + "gateways/s3/s3err": true}
	for _, dir := range []string{".", "../route", "../s3xml", "../sigv4"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v)", dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range parsed.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				first := strings.Split(path, "/")[0]
				thirdParty := strings.Contains(first, ".")
				if path == "log" || (thirdParty && !allowed[path]) {
					t.Errorf("%s imports %s", f, path)
				}
			}
		}
	}
}
