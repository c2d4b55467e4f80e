package ingest_test

import (
	"os"
	"strings"
	"testing"

	"github.com/nightowl/nightowl/ingest"
)

// TestDocsExamples parses every JSON example of docs/integrations.md with
// the format of the section it is in: the examples work as written.
func TestDocsExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/integrations.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, section := range strings.Split(string(doc), "\n### `")[1:] {
		format, body, _ := strings.Cut(section, "`")
		parse := ingest.Formats[format]
		if parse == nil {
			t.Fatalf("section %q names no format", format)
		}
		for _, block := range strings.Split(body, "```json\n")[1:] {
			example, _, _ := strings.Cut(block, "```")
			alerts, err := parse([]byte(example))
			if err != nil || len(alerts) == 0 {
				t.Errorf("%s example: %d alerts, %v\n%s", format, len(alerts), err, example)
			}
			n++
		}
	}
	if n < 3 {
		t.Errorf("only %d examples found", n)
	}
}
