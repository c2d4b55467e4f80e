package probe

import (
	"crypto/x509/pkix"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/assert"
)

// TestDocs keeps docs/checks/TYPE.md honest: every fact of the table is
// described, the default assertion is the one the table applies, and every
// ready-made assertion parses as YAML and compiles against the type's facts.
func TestDocs(t *testing.T) {
	var c assert.Compiler
	for name, typ := range Types {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "docs", "checks", name+".md"))
			if err != nil {
				t.Fatal(err)
			}
			doc := string(b)
			for fact := range typ.Facts {
				if !strings.Contains(doc, "| `"+fact+"` |") {
					t.Errorf("fact %s is not in the facts table", fact)
				}
			}
			for _, def := range typ.Defaults {
				if want := "`" + def.Name + ": " + def.Expr + "`"; !strings.Contains(doc, want) {
					t.Errorf("default assertion %s is not documented", want)
				}
			}
			_, rest, ok := strings.Cut(doc, "## Ready-made assertions\n")
			_, block, ok2 := strings.Cut(rest, "```yaml\n")
			block, _, ok3 := strings.Cut(block, "```")
			if !ok || !ok2 || !ok3 {
				t.Fatal("no yaml block under ## Ready-made assertions")
			}
			var parsed struct {
				Assert map[string]yaml.Node `yaml:"assert"`
			}
			if err := yaml.Unmarshal([]byte(block), &parsed); err != nil {
				t.Fatal(err)
			}
			if len(parsed.Assert) < 3 {
				t.Errorf("%d ready-made assertions, want a few more", len(parsed.Assert))
			}
			for aname, node := range parsed.Assert {
				src := node.Value
				if node.Kind == yaml.MappingNode {
					var long struct{ Expr string }
					if err := node.Decode(&long); err != nil {
						t.Fatal(err)
					}
					src = long.Expr
				}
				if _, err := c.Compile(name, typ.Facts, aname, src, ""); err != nil {
					t.Errorf("%s: %s: %v", aname, src, err)
				}
			}
		})
	}
}

// TestFactsMeetAssertions evaluates assertions, the defaults first, on real
// results: the values a probe produces must have the types its table
// promises, or expressions that compiled would fail at run time.
func TestFactsMeetAssertions(t *testing.T) {
	srv := httptest.NewServer(testHandler())
	defer srv.Close()
	resolver := serveDNS(t)
	ping := serveTCP(t, listenTCP(t), pingServer)
	ca := newTestCA(t, "assert CA")
	leaf := leafOpts{subject: pkix.Name{CommonName: "leaf.test"}, ips: localhost}
	leaf.expires = 3 * 24 * time.Hour
	soon := serveTLS(t, ca.issue(t, leaf))

	tests := []struct {
		name   string
		typ    string
		spec   Spec
		expr   string // "" for the type's default
		wantOK bool
	}{
		{"http default up", "http", &HTTP{URL: srv.URL + "/ok"}, "", true},
		{"http default down on 503", "http", &HTTP{URL: srv.URL + "/unavailable"}, "", false},
		{"http writable", "http", &HTTP{URL: srv.URL + "/ok"}, `not (body contains "read-only mode")`, true},
		{"http read-only", "http", &HTTP{URL: srv.URL + "/readonly"}, `not (body contains "read-only mode")`, false},
		{"http json field", "http", &HTTP{URL: srv.URL + "/json"}, `json.status == "ok" and json.db.up and json.queue < 5`, true},
		{"http header", "http", &HTTP{URL: srv.URL + "/json"}, `headers["content-type"] startsWith "application/json"`, true},
		{"http status is an int", "http", &HTTP{URL: srv.URL + "/ok"}, `status in [200, 204]`, true},
		{"http cert on plain http is nil", "http", &HTTP{URL: srv.URL + "/ok"}, `cert_days_left > 7`, false},
		{"tcp default", "tcp", &TCP{Addr: ping}, "", true},
		{"tcp response", "tcp", &TCP{Addr: ping, Send: "PING\r\n", Expect: "+PONG"}, `response startsWith "+PONG"`, true},
		{"dns default", "dns", &DNS{Name: "a.test", Resolver: resolver}, "", true},
		{"dns default fails on NXDOMAIN", "dns", &DNS{Name: "missing.a.test", Resolver: resolver}, "", false},
		{"dns answer in list", "dns", &DNS{Name: "a.test", Resolver: resolver}, `"192.0.2.2" in answers and len(answers) == 2`, true},
		{"dns all answers", "dns", &DNS{Name: "a.test", Resolver: resolver}, `all(answers, # startsWith "192.0.2.")`, true},
		{"tls default fails 3 days before expiry", "tls", &TLS{Addr: soon, InsecureSkipVerify: true}, "", false},
		{"tls subject and days", "tls", &TLS{Addr: soon, InsecureSkipVerify: true}, `subject == "leaf.test" and cert_days_left > 2.9`, true},
	}
	var c assert.Compiler
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := Types[tt.typ]
			src := tt.expr
			if src == "" {
				src = typ.Defaults[0].Expr
			}
			a, err := c.Compile(tt.typ, typ.Facts, "a", src, nightowl.SeverityCritical)
			if err != nil {
				t.Fatalf("compile %s: %v", src, err)
			}
			r := runProbe(t, nil, tt.spec, 5*time.Second)
			if !r.OK {
				t.Fatalf("probe failed: %s", r.Error)
			}
			if got := a.Eval(r.Facts); got.OK != tt.wantOK {
				t.Errorf("%s = %v (%s), want %v; facts %v", src, got.OK, got.Message, tt.wantOK, r.Facts)
			}
		})
	}
}
