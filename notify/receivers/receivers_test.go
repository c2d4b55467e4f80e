package receivers

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryKindIsDocumented keeps the table and docs/receivers in step,
// whatever the number of receivers: a new one is its package, its row and
// its page.
func TestEveryKindIsDocumented(t *testing.T) {
	for name, newSpec := range Kinds {
		t.Run(name, func(t *testing.T) {
			if newSpec() == nil {
				t.Fatal("constructor returned nil")
			}
			if _, err := os.Stat(filepath.Join("..", "..", "docs", "receivers", name+".md")); err != nil {
				t.Errorf("no docs page: %v", err)
			}
		})
	}
	// And the other way: a page whose receiver is not in the table
	// documents something no config can use.
	pages, err := filepath.Glob(filepath.Join("..", "..", "docs", "receivers", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) == 0 {
		t.Fatal("no pages under docs/receivers")
	}
	for _, page := range pages {
		if name := strings.TrimSuffix(filepath.Base(page), ".md"); Kinds[name] == nil {
			t.Errorf("docs/receivers/%s.md: no receiver %q in Kinds", name, name)
		}
	}
}

// TestReceiversImportTheKit keeps the receivers off the alert manager and
// the outbox: what they share is in notify/kit.
func TestReceiversImportTheKit(t *testing.T) {
	const manager = `"github.com/nightowl/nightowl/notify"`
	for name := range Kinds {
		t.Run(name, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join("..", name, "*.go"))
			if err != nil || len(files) == 0 {
				t.Fatalf("no Go files in notify/%s: %v", name, err)
			}
			for _, file := range files {
				f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
				if err != nil {
					t.Fatal(err)
				}
				for _, imp := range f.Imports {
					if imp.Path.Value == manager {
						t.Errorf("%s imports notify: receivers build on notify/kit", file)
					}
				}
			}
		})
	}
}
