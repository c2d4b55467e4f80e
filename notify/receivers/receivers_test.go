package receivers

import (
	"os"
	"path/filepath"
	"testing"
)

// TestEveryKindIsDocumented keeps the table and docs/receivers in step.
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
	if len(Kinds) != 11 {
		t.Errorf("%d receivers, want the SPEC's 11", len(Kinds))
	}
}
