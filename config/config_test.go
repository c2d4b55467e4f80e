package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/yamlnode"
	"github.com/nightowl/nightowl/probe"
)

var update = flag.Bool("update", false, "rewrite testdata/invalid-*.err from the errors Load returns")

// env returns a Getenv over a fixed map, so tests never depend on the
// environment they run in.
func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

// files returns a ReadFile over a fixed map.
func files(m map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		s, ok := m[p]
		if !ok {
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		}
		return []byte(s), nil
	}
}

// fieldsOf returns the keys of a block's struct, as the decoder sees them.
func fieldsOf(t reflect.Type) []yamlnode.Field {
	return yamlnode.New("", nil, yamlnode.Options{}).Fields(t)
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }

func mustParse(t *testing.T, src string, opts Options) *Config {
	t.Helper()
	cfg, err := Parse("/etc/nightowl/nightowl.yaml", []byte(src), opts)
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return cfg
}

type assertionWant struct {
	name, severity, src string
}

func TestLoadValid(t *testing.T) {
	cfg, err := Load("testdata/valid.yaml", Options{Getenv: env(map[string]string{"DNS_RESOLVER": "10.0.0.53:53"})})
	if err != nil {
		t.Fatalf("Load:\n%v", err)
	}

	t.Run("sections", func(t *testing.T) {
		if cfg.File != "testdata/valid.yaml" || cfg.Dir != "testdata" {
			t.Errorf("File, Dir = %q, %q", cfg.File, cfg.Dir)
		}
		wantServer := Server{Listen: "0.0.0.0:9090", PublicURL: "https://status.example.com", Title: "Example Status", ForwardedHeader: DefaultForwardedHeader, Log: Log{Format: "text", Level: "info"}}
		if !reflect.DeepEqual(cfg.Server, wantServer) {
			t.Errorf("Server = %+v, want %+v", cfg.Server, wantServer)
		}
		wantStorage := Storage{SQLite: filepath.Join("testdata", "data", "nightowl.db")}
		if cfg.Storage != wantStorage {
			t.Errorf("Storage = %+v, want %+v", cfg.Storage, wantStorage)
		}
		wantDefaults := Defaults{Interval: time.Minute, Timeout: 15 * time.Second, FailAfter: 3, RecoverAfter: 2,
			Flap: Flap{Changes: DefaultFlapChanges, Window: DefaultFlapWindow}}
		if cfg.Defaults != wantDefaults {
			t.Errorf("Defaults = %+v, want %+v", cfg.Defaults, wantDefaults)
		}
	})

	tests := []struct {
		name                    string
		typ                     string
		labels                  map[string]string
		interval, timeout       time.Duration
		failAfter, recoverAfter int
		paused                  bool
		spec                    probe.Spec
		assertions              []assertionWant
		pos                     Pos
	}{
		{
			name: "math-site", typ: "http", labels: map[string]string{"site": "math", "tier": "web"},
			interval: time.Minute, timeout: 15 * time.Second, failAfter: 3, recoverAfter: 2,
			spec: &probe.HTTP{
				URL: "https://math.example.com/", Method: "GET", Headers: map[string]string{"Accept": "text/html"},
				FollowRedirects: new(false), CAFile: filepath.Join("testdata", "certs", "ca.pem"),
				BasicAuth: &probe.BasicAuth{Username: "monitor", Password: "s3cret"},
			},
			assertions: []assertionWant{
				{"ok_status", "critical", "status == 200"},
				{"writable", "critical", `not (body contains "read-only mode")`},
				{"fast", "warning", "duration < 2"},
			},
			pos: Pos{11, 5},
		},
		{
			// The inherited 15s timeout shrinks to the 10s interval.
			name: "sessions-redis.tcp", typ: "tcp", labels: map[string]string{"site": "math", "tier": "cache"},
			interval: 10 * time.Second, timeout: 10 * time.Second, failAfter: 3, recoverAfter: 2,
			spec:       &probe.TCP{Addr: "127.0.0.1:6379", Send: "PING\r\n", Expect: "+PONG"},
			assertions: []assertionWant{{"connected", "critical", "connected"}},
			pos:        Pos{25, 5},
		},
		{
			name: "api-dns", typ: "dns",
			interval: 5 * time.Second, timeout: 5 * time.Second, failAfter: 3, recoverAfter: 2, paused: true,
			spec:       &probe.DNS{Name: "api.example.com", Type: "AAAA", Resolver: "10.0.0.53:53", Protocol: "udp"},
			assertions: []assertionWant{{"has_answers", "critical", "len(answers) > 0"}},
			pos:        Pos{30, 5},
		},
		{
			name: "api-cert", typ: "tls",
			interval: time.Minute, timeout: 5 * time.Second, failAfter: 1, recoverAfter: 3,
			spec: &probe.TLS{Addr: "api.example.com:443", ServerName: "api.example.com"},
			assertions: []assertionWant{
				{"cert_fresh", "warning", "cert_days_left > 14"},
				{"cert_valid", "critical", "cert_days_left > 3"},
			},
			pos: Pos{37, 5},
		},
	}
	if len(cfg.Checks) != len(tests) {
		t.Fatalf("%d checks, want %d", len(cfg.Checks), len(tests))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg.Checks[i]
			if c.Name != tt.name || c.Type != tt.typ {
				t.Errorf("Name, Type = %q, %q", c.Name, c.Type)
			}
			if len(c.Labels) != 0 || len(tt.labels) != 0 {
				if !reflect.DeepEqual(c.Labels, tt.labels) {
					t.Errorf("Labels = %v, want %v", c.Labels, tt.labels)
				}
			}
			if c.Interval != tt.interval || c.Timeout != tt.timeout {
				t.Errorf("Interval, Timeout = %v, %v; want %v, %v", c.Interval, c.Timeout, tt.interval, tt.timeout)
			}
			if c.FailAfter != tt.failAfter || c.RecoverAfter != tt.recoverAfter || c.Paused != tt.paused {
				t.Errorf("FailAfter, RecoverAfter, Paused = %d, %d, %v", c.FailAfter, c.RecoverAfter, c.Paused)
			}
			if !reflect.DeepEqual(c.Spec, tt.spec) {
				t.Errorf("Spec = %+v\nwant   %+v", c.Spec, tt.spec)
			}
			var got []assertionWant
			for _, a := range c.Assertions {
				got = append(got, assertionWant{a.Name(), string(a.Severity()), a.Source()})
			}
			if !reflect.DeepEqual(got, tt.assertions) {
				t.Errorf("Assertions = %v, want %v", got, tt.assertions)
			}
			if c.Pos != tt.pos {
				t.Errorf("Pos = %v, want %v", c.Pos, tt.pos)
			}
			if len(c.Fingerprint) != 64 {
				t.Errorf("Fingerprint = %q", c.Fingerprint)
			}
			if cfg.Check(tt.name) != &cfg.Checks[i] {
				t.Errorf("Check(%q) did not find it", tt.name)
			}
		})
	}

	t.Run("domain checks", func(t *testing.T) {
		dc := cfg.DomainChecks()
		if len(dc) != len(cfg.Checks) {
			t.Fatalf("%d domain checks", len(dc))
		}
		for i, d := range dc {
			c := cfg.Checks[i]
			if d.Name != c.Name || d.Type != c.Type || d.Interval != c.Interval || d.Timeout != c.Timeout ||
				d.FailAfter != c.FailAfter || d.RecoverAfter != c.RecoverAfter || d.Paused != c.Paused ||
				d.Fingerprint != c.Fingerprint || !reflect.DeepEqual(d.Labels, c.Labels) || d.Prober != nil {
				t.Errorf("DomainChecks()[%d] = %+v, from %+v", i, d, c)
			}
			if len(d.Assertions) != len(c.Assertions) {
				t.Fatalf("%d assertions, want %d", len(d.Assertions), len(c.Assertions))
			}
			for j, a := range d.Assertions {
				if a != nightowl.Assertion(c.Assertions[j]) {
					t.Errorf("assertion %d differs", j)
				}
			}
		}
	})
}

// TestForwardedHeader: server.forwarded_header names one of the two
// headers, in any case, and is kept in its usual spelling.
func TestForwardedHeader(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"", "X-Forwarded-For"},
		{"server:\n  forwarded_header: x-forwarded-for\n", "X-Forwarded-For"},
		{"server:\n  forwarded_header: Forwarded\n", "Forwarded"},
		{"server:\n  forwarded_header: FORWARDED\n", "Forwarded"},
	} {
		if got := mustParse(t, tc.src, Options{}).Server.ForwardedHeader; got != tc.want {
			t.Errorf("%q: ForwardedHeader = %q, want %q", tc.src, got, tc.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		checks int
	}{
		{"empty file", "", 0},
		{"comments only", "# nothing yet\n", 0},
		{"null sections", "server:\nstorage:\ndefaults:\nchecks:\n", 0},
		{"one check", "checks:\n  - name: web\n    http: {url: 'https://example.com/'}\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, tt.src, Options{})
			want := Server{Listen: DefaultListen, Title: DefaultTitle, ForwardedHeader: DefaultForwardedHeader, Log: Log{Format: "text", Level: "info"}}
			if !reflect.DeepEqual(cfg.Server, want) {
				t.Errorf("Server = %+v, want %+v", cfg.Server, want)
			}
			if cfg.Storage != (Storage{SQLite: "/etc/nightowl/nightowl.db"}) {
				t.Errorf("Storage = %+v", cfg.Storage)
			}
			wantDefaults := Defaults{Interval: 30 * time.Second, Timeout: 10 * time.Second, FailAfter: 2, RecoverAfter: 1,
				Flap: Flap{Changes: DefaultFlapChanges, Window: DefaultFlapWindow}}
			if cfg.Defaults != wantDefaults {
				t.Errorf("Defaults = %+v, want %+v", cfg.Defaults, wantDefaults)
			}
			if len(cfg.Checks) != tt.checks {
				t.Fatalf("%d checks, want %d", len(cfg.Checks), tt.checks)
			}
			for _, c := range cfg.Checks {
				if c.Interval != wantDefaults.Interval || c.Timeout != wantDefaults.Timeout ||
					c.FailAfter != wantDefaults.FailAfter || c.RecoverAfter != wantDefaults.RecoverAfter || c.Paused {
					t.Errorf("check %s did not inherit the defaults: %+v", c.Name, c)
				}
				if len(c.Assertions) != 1 || c.Assertions[0].Name() != "http_ok" ||
					c.Assertions[0].Source() != probe.Types["http"].Defaults[0].Expr {
					t.Errorf("check %s has not the default assertion", c.Name)
				}
				if m := c.Spec.(*probe.HTTP).Method; m != "GET" {
					t.Errorf("method = %q, want GET", m)
				}
			}
		})
	}
}

func TestStorage(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want Storage
	}{
		{"sqlite relative", "storage: {sqlite: data/no.db}", Storage{SQLite: "/etc/nightowl/data/no.db"}},
		{"sqlite absolute", "storage: {sqlite: /var/lib/nightowl/no.db}", Storage{SQLite: "/var/lib/nightowl/no.db"}},
		{"sqlite memory", "storage: {sqlite: ':memory:'}", Storage{SQLite: ":memory:"}},
		{"postgres", "storage: {postgres: 'postgres://nightowl@db/nightowl'}", Storage{Postgres: "postgres://nightowl@db/nightowl"}},
		{"postgres from env", "storage: {postgres: '${PG}'}", Storage{Postgres: "postgres://env@db/nightowl"}},
		{"postgres file", "storage: {postgres_file: pg.dsn}", Storage{Postgres: "postgres://file@db/nightowl"}},
	}
	opts := Options{
		Getenv:   env(map[string]string{"PG": "postgres://env@db/nightowl"}),
		ReadFile: files(map[string]string{"/etc/nightowl/pg.dsn": "postgres://file@db/nightowl\n"}),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustParse(t, tt.src, opts).Storage; got != tt.want {
				t.Errorf("Storage = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestEnvAndSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("secrets/token", "tok-123\n")
	write("secrets/crlf", "pw\r\n")
	write("secrets/two-newlines", "pw\n\n")
	write("secrets/prod/password", "from-env-path")
	write("secrets/cr-only", "pw\r")
	write("certs/ca.pem", "-----BEGIN CERTIFICATE-----\n")

	tests := []struct {
		name  string
		block string
		want  probe.HTTP
	}{
		{"env in url and header", `{url: "https://${HOST}/health", headers: {X-Env: "${STAGE}"}}`,
			probe.HTTP{URL: "https://status.example.com/health", Headers: map[string]string{"X-Env": "prod"}}},
		{"literal", `{url: "https://example.com/", body: "$${NOT_A_VAR}"}`,
			probe.HTTP{URL: "https://example.com/", Body: "${NOT_A_VAR}"}},
		{"secret file trimmed", `{url: "https://example.com/", bearer_token_file: secrets/token}`,
			probe.HTTP{URL: "https://example.com/", BearerToken: "tok-123"}},
		{"crlf trimmed", `{url: "https://example.com/", bearer_token_file: secrets/crlf}`,
			probe.HTTP{URL: "https://example.com/", BearerToken: "pw"}},
		{"lone carriage return kept", `{url: "https://example.com/", bearer_token_file: secrets/cr-only}`,
			probe.HTTP{URL: "https://example.com/", BearerToken: "pw\r"}},
		{"one newline only", `{url: "https://example.com/", bearer_token_file: secrets/two-newlines}`,
			probe.HTTP{URL: "https://example.com/", BearerToken: "pw\n"}},
		{"absolute secret file", `{url: "https://example.com/", bearer_token_file: "` + filepath.Join(dir, "secrets/token") + `"}`,
			probe.HTTP{URL: "https://example.com/", BearerToken: "tok-123"}},
		{"env in secret file path", `{url: "https://example.com/", basic_auth: {username: u, password_file: "secrets/${STAGE}/password"}}`,
			probe.HTTP{URL: "https://example.com/", BasicAuth: &probe.BasicAuth{Username: "u", Password: "from-env-path"}}},
		{"secret inline from env", `{url: "https://example.com/", bearer_token: "${TOKEN}"}`,
			probe.HTTP{URL: "https://example.com/", BearerToken: "env-token"}},
		{"path field", `{url: "https://example.com/", ca_file: certs/ca.pem}`,
			probe.HTTP{URL: "https://example.com/", CAFile: filepath.Join(dir, "certs/ca.pem")}},
	}
	opts := Options{Getenv: env(map[string]string{"HOST": "status.example.com", "STAGE": "prod", "TOKEN": "env-token"})}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "nightowl.yaml")
			write("nightowl.yaml", "checks:\n  - name: web\n    http: "+tt.block+"\n")
			cfg, err := Load(path, opts)
			if err != nil {
				t.Fatalf("Load:\n%v", err)
			}
			tt.want.Method = "GET"
			if got := cfg.Checks[0].Spec.(*probe.HTTP); !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("http = %+v\nwant   %+v", *got, tt.want)
			}
		})
	}

	t.Run("unreadable file does not leak content", func(t *testing.T) {
		write("nightowl.yaml", "checks:\n  - name: web\n    http: {url: 'https://example.com/', bearer_token_file: secrets}\n")
		_, err := Load(filepath.Join(dir, "nightowl.yaml"), opts)
		var es Errors
		if !errors.As(err, &es) || len(es) != 1 {
			t.Fatalf("err = %v", err)
		}
		if es[0].Key != "checks[0].http.bearer_token_file" || !strings.HasPrefix(es[0].Message, "cannot read secrets: ") {
			t.Errorf("err = %v", es[0])
		}
	})

	t.Run("missing config file", func(t *testing.T) {
		_, err := Load(filepath.Join(dir, "absent.yaml"), opts)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v, want fs.ErrNotExist", err)
		}
	})
}

func TestAnchorsAndMerges(t *testing.T) {
	src := `
checks:
  - name: web-a
    labels: &web {tier: web, site: a}
    http: &base {url: "https://a.example.com/", headers: {Accept: text/html}}
    assert: &checks
      ok: status == 200
  - name: web-b
    labels: *web
    http:
      <<: *base
      url: "https://b.example.com/"
    assert: *checks
`
	cfg := mustParse(t, src, Options{})
	b := cfg.Checks[1]
	if b.Labels["tier"] != "web" || b.Labels["site"] != "a" {
		t.Errorf("labels = %v", b.Labels)
	}
	h := b.Spec.(*probe.HTTP)
	if h.URL != "https://b.example.com/" || h.Headers["Accept"] != "text/html" {
		t.Errorf("http = %+v", h)
	}
	if len(b.Assertions) != 1 || b.Assertions[0].Name() != "ok" {
		t.Errorf("assertions = %v", b.Assertions)
	}
}

func TestSharedCompiler(t *testing.T) {
	// One Compiler across reloads is what lets unchanged expressions keep
	// their program; it must also accept configs that differ.
	opts := Options{}
	for _, src := range []string{
		"checks: [{name: a, http: {url: 'https://a.example.com/'}, assert: {ok: status == 200}}]",
		"checks: [{name: a, http: {url: 'https://a.example.com/'}, assert: {ok: status == 201}}]",
	} {
		mustParse(t, src, opts)
	}
}

func TestFingerprint(t *testing.T) {
	const base = `
defaults: {interval: 30s}
checks:
  - name: web
    labels: {tier: web, site: math}
    interval: 1m
    timeout: 5s
    fail_after: 2
    recover_after: 1
    http:
      url: "https://${HOST}/"
      method: GET
      headers: {Accept: text/html, X-A: "1"}
      ca_file: ca.pem
      bearer_token_file: token
    assert:
      ok_status: status == 200
      fast: {expr: duration < 2, severity: warning}
`
	opts := func(host, token, ca string) Options {
		return Options{
			Getenv:   env(map[string]string{"HOST": host}),
			ReadFile: files(map[string]string{"/etc/nightowl/token": token, "/etc/nightowl/ca.pem": ca}),
		}
	}
	baseOpts := opts("example.com", "tok", "CA1")
	fp := func(t *testing.T, src string, o Options) string {
		t.Helper()
		return mustParse(t, src, o).Checks[0].Fingerprint
	}
	want := fp(t, base, baseOpts)

	same := []struct{ name, src string }{
		{"same text", base},
		{"reordered keys and flow style", `
checks:
  - http: {bearer_token_file: token, ca_file: ca.pem, headers: {X-A: "1", Accept: text/html}, method: get, url: "https://${HOST}/"}
    assert: {ok_status: 'status == 200', fast: {severity: warning, expr: duration < 2}}
    recover_after: 1
    timeout: 5s
    name: web
    labels: {site: math, tier: web}
    interval: 60s
`},
		{"explicit defaults", strings.Replace(base, "    fail_after: 2\n", "", 1)},
		{"renamed check", strings.Replace(base, "name: web", "name: website", 1)},
		{"comment", base + "# the end\n"},
	}
	for _, tt := range same {
		t.Run("same/"+tt.name, func(t *testing.T) {
			if got := fp(t, tt.src, baseOpts); got != want {
				t.Errorf("fingerprint changed")
			}
		})
	}

	changed := []struct {
		name string
		src  string
		opts Options
	}{
		{"url via env", base, opts("example.org", "tok", "CA1")},
		{"secret file content", base, opts("example.com", "tok2", "CA1")},
		{"ca file content", base, opts("example.com", "tok", "CA2")},
		{"method", strings.Replace(base, "method: GET", "method: HEAD", 1), baseOpts},
		{"header", strings.Replace(base, `X-A: "1"`, `X-A: "2"`, 1), baseOpts},
		{"label", strings.Replace(base, "site: math", "site: physics", 1), baseOpts},
		{"interval", strings.Replace(base, "interval: 1m", "interval: 2m", 1), baseOpts},
		{"inherited interval", strings.Replace(strings.Replace(base, "    interval: 1m\n", "", 1), "interval: 30s", "interval: 45s", 1), baseOpts},
		{"timeout", strings.Replace(base, "timeout: 5s", "timeout: 6s", 1), baseOpts},
		{"fail_after", strings.Replace(base, "fail_after: 2", "fail_after: 3", 1), baseOpts},
		{"recover_after", strings.Replace(base, "recover_after: 1", "recover_after: 2", 1), baseOpts},
		{"paused", strings.Replace(base, "    interval: 1m\n", "    interval: 1m\n    paused: true\n", 1), baseOpts},
		{"assertion expr", strings.Replace(base, "status == 200", "status == 201", 1), baseOpts},
		{"assertion name", strings.Replace(base, "ok_status:", "status_ok:", 1), baseOpts},
		{"assertion severity", strings.Replace(base, "severity: warning", "severity: critical", 1), baseOpts},
		{"assertion order", strings.Replace(base, "      ok_status: status == 200\n      fast: {expr: duration < 2, severity: warning}\n",
			"      fast: {expr: duration < 2, severity: warning}\n      ok_status: status == 200\n", 1), baseOpts},
	}
	seen := map[string]string{want: "base"}
	for _, tt := range changed {
		t.Run("changed/"+tt.name, func(t *testing.T) {
			got := fp(t, tt.src, tt.opts)
			if prev, ok := seen[got]; ok {
				t.Errorf("fingerprint equals that of %s", prev)
			}
			seen[got] = tt.name
		})
	}
}

// TestInvalid loads every testdata/invalid-*.yaml and compares the errors
// with the sibling .err file exactly. Run with -update to rewrite them.
func TestInvalid(t *testing.T) {
	paths, err := filepath.Glob("testdata/invalid-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 20 {
		t.Fatalf("only %d invalid configs", len(paths))
	}
	for _, path := range paths {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "invalid-"), ".yaml")
		t.Run(name, func(t *testing.T) {
			cfg, err := Load(path, Options{Getenv: env(nil)})
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if cfg != nil {
				t.Error("Load returned a config with its errors")
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error is %T, not Errors: %v", err, err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(path, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"full", &Error{File: "nightowl.yaml", Line: 14, Col: 7, Key: "checks[2].http.url", Message: "required"},
			"nightowl.yaml:14:7: checks[2].http.url: required"},
		{"no key", &Error{File: "nightowl.yaml", Line: 3, Col: 1, Message: "must be a mapping"},
			"nightowl.yaml:3:1: must be a mapping"},
		{"no column", &Error{File: "nightowl.yaml", Line: 3, Message: "did not find expected key"},
			"nightowl.yaml:3: did not find expected key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTimeoutFollowsInterval(t *testing.T) {
	tests := []struct {
		name            string
		src             string
		defaults, check time.Duration
	}{
		{"defaults interval below default timeout", "defaults: {interval: 5s}\nchecks: [{name: a, tcp: {addr: 'a:1'}}]", 5 * time.Second, 5 * time.Second},
		{"check interval below inherited timeout", "checks: [{name: a, interval: 2s, tcp: {addr: 'a:1'}}]", 10 * time.Second, 2 * time.Second},
		{"check interval above", "checks: [{name: a, interval: 2m, tcp: {addr: 'a:1'}}]", 10 * time.Second, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, tt.src, Options{})
			if cfg.Defaults.Timeout != tt.defaults || cfg.Checks[0].Timeout != tt.check {
				t.Errorf("timeouts = %v, %v; want %v, %v", cfg.Defaults.Timeout, cfg.Checks[0].Timeout, tt.defaults, tt.check)
			}
		})
	}
}

// TestDocsCoverProbeTable keeps docs/config.md in step with probe.Types:
// every check type has a section that names each of its keys and facts.
func TestDocsCoverProbeTable(t *testing.T) {
	doc, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := strings.Split(string(doc), "\n### ")
	for _, name := range typeNames() {
		t.Run(name, func(t *testing.T) {
			var section string
			for _, s := range sections {
				if strings.HasPrefix(s, "`"+name+"`\n") {
					section = s
				}
			}
			if section == "" {
				t.Fatalf("no section ### `%s`", name)
			}
			typ := probe.Types[name]
			var want []string
			for _, f := range fieldsOf(reflect.TypeOf(typ.New()).Elem()) {
				want = append(want, f.Name)
			}
			for fact := range typ.Facts {
				want = append(want, fact)
			}
			for _, def := range typ.Defaults {
				want = append(want, def.Name, def.Expr)
			}
			for _, w := range want {
				if !strings.Contains(section, "`"+w+"`") {
					t.Errorf("section %s does not mention `%s`", name, w)
				}
			}
		})
	}
}

// TestServerLog: server.log picks the format and the least level of the
// server's log, and serve --debug lowers the level whatever it says.
func TestServerLog(t *testing.T) {
	cfg, err := Parse("nightowl.yaml", []byte("server:\n  log: {format: json, level: warn}\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Log != (Log{Format: "json", Level: "warn"}) {
		t.Fatalf("server.log = %+v", cfg.Server.Log)
	}
	var buf bytes.Buffer
	log := slog.New(cfg.Server.Log.Handler(&buf, false))
	log.Info("not written")
	log.Warn("written", "check", "db")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line["msg"] != "written" || line["check"] != "db" {
		t.Fatalf("json log: %q (%v)", buf.String(), err)
	}
	buf.Reset()
	slog.New(cfg.Server.Log.Handler(&buf, true)).Debug("debug too")
	if !strings.Contains(buf.String(), `"msg":"debug too"`) {
		t.Errorf("--debug: %q", buf.String())
	}
	buf.Reset()
	slog.New(Log{Format: "text", Level: "info"}.Handler(&buf, false)).Info("plain", "k", "v")
	if !strings.HasPrefix(buf.String(), "time=") || !strings.Contains(buf.String(), "msg=plain k=v") {
		t.Errorf("text log: %q", buf.String())
	}
}
