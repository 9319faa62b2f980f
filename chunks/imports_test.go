package chunks

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// Goal: enforce the boundaries the doc.go files of chunks and keys state:
// both are leaves (chunks imports only keys from annal, keys nothing), and
// neither reads the wall clock, global randomness, HTTP or the standard
// log package. Method: parse the packages' non-test files.
func TestImportBoundary(t *testing.T) {
	for dir, allowedAnnal := range map[string]string{".": "github.com/annal-storage/annal/keys", "../keys": ""} {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pkg.Imports {
			annal := strings.HasPrefix(imp, "github.com/annal-storage/annal/")
			if (annal && imp != allowedAnnal) || imp == "math/rand" || imp == "math/rand/v2" || imp == "net/http" || imp == "log" {
				t.Errorf("%s imports %s", pkg.ImportPath, imp)
			}
		}
		for _, name := range pkg.GoFiles {
			checkNoWallClock(t, filepath.Join(dir, name))
		}
	}
}

// checkNoWallClock reports calls of time.Now, Since, Until, After, Sleep
// and Tick: clocks are injected.
func checkNoWallClock(t *testing.T, path string) {
	file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(file, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); ok && x.Name == "time" {
			switch sel.Sel.Name {
			case "Now", "Since", "Until", "After", "Sleep", "Tick":
				t.Errorf("%s calls time.%s; inject a clock", path, sel.Sel.Name)
			}
		}
		return true
	})
}
