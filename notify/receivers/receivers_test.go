package receivers

import (
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
