package receivers

import (
	"go.yaml.in/yaml/v3"

	"github.com/nightowl/nightowl/notify/kit"
	"github.com/nightowl/nightowl/notify/webhook"
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

// TestContactKinds: the receivers a person can be reached through fill in
// their address, and a copy leaves the contact kind's block as it was.
func TestContactKinds(t *testing.T) {
	for _, tt := range []struct {
		kind, base, address string
		bad                 string // an address refused
	}{
		{kind: "email", address: "ana@example.com", bad: "not an address"},
		{kind: "slack", address: "https://hooks.slack.com/services/T/B/x", bad: "ftp://x"},
		{kind: "discord", address: "https://discord.com/api/webhooks/1/x", bad: "nope"},
		{kind: "teams", address: "https://example.webhook.office.com/x", bad: "nope"},
		{kind: "ntfy", address: "ana-pager", bad: "a topic with spaces"},
		{kind: "telegram", base: "bot_token: \"123456:ABCdef\"", address: "123456789", bad: "ana"},
		{kind: "pushover", base: "app_token: azGDORePK8gMaC0QOYAMyEEuzJnyUi", address: "uQiRzpo4DXghDmr9QzzfQu27cmVRsG", bad: " "},
		{kind: "webhook", address: "https://relay.example/ana", bad: "nope"},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			spec := Kinds[tt.kind]()
			if tt.base != "" {
				if err := yaml.Unmarshal([]byte(tt.base), spec); err != nil {
					t.Fatal(err)
				}
			}
			c, ok := spec.(kit.Contact)
			if !ok {
				t.Fatalf("%s is not a contact kind", tt.kind)
			}
			if errs := kit.WithoutAddress(c); len(errs) != 0 {
				t.Fatalf("the block without an address: %v", errs)
			}
			got, errs := kit.WithAddress(c, tt.address)
			if len(errs) != 0 {
				t.Fatalf("WithAddress(%q): %v", tt.address, errs)
			}
			if errs := got.Validate(); len(errs) != 0 {
				t.Errorf("the filled-in block: %v", errs)
			}
			if errs := kit.WithoutAddress(c); len(errs) != 0 || len(c.Validate()) == 0 {
				t.Errorf("the contact kind's own block changed: %v", c.Validate())
			}
			if _, errs := kit.WithAddress(c, tt.bad); len(errs) == 0 || errs[0].Key != "address" {
				t.Errorf("WithAddress(%q) = %v, want an error under address", tt.bad, errs)
			}
		})
	}
	t.Run("gateway", func(t *testing.T) {
		// A webhook to a gateway carries the address in the message.
		spec := Kinds["webhook"]().(kit.Contact)
		if err := yaml.Unmarshal([]byte("url: https://sms.example/send"), spec); err != nil {
			t.Fatal(err)
		}
		if spec.AddressKey() != "" {
			t.Fatalf("AddressKey = %q, want none", spec.AddressKey())
		}
		got, errs := kit.WithAddress(spec, "+4915112345678")
		if len(errs) != 0 || got.(*webhook.Config).URL != "https://sms.example/send" {
			t.Errorf("WithAddress = %+v, %v", got, errs)
		}
	})
	for _, name := range []string{"pagerduty", "opsgenie"} {
		if _, ok := Kinds[name]().(kit.Contact); ok {
			t.Errorf("%s reaches a service, not a person: it is no contact kind", name)
		}
	}
}
