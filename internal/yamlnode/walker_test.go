package yamlnode

import (
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

type inner struct {
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
}

// sample has a field of every kind the walker fills.
type sample struct {
	Name   string            `yaml:"name"`
	Count  int               `yaml:"count"`
	Size   uint8             `yaml:"size"`
	Ratio  float64           `yaml:"ratio"`
	On     bool              `yaml:"on"`
	Every  time.Duration     `yaml:"every"`
	Tags   []string          `yaml:"tags"`
	Labels map[string]string `yaml:"labels"`
	Inner  *inner            `yaml:"inner"`
	Token  string            `yaml:"token" secret:"true"`
	CA     string            `yaml:"ca" path:"true"`
	Raw    *yaml.Node        `yaml:"raw"`
	Hidden string            `yaml:"-"`
}

const file = "/etc/app/app.yaml"

// walk parses src and decodes it into a sample preset with Count 7, with
// at most maxNodes nodes once expanded.
func walk(src string, maxNodes int) (*Walker, sample, Errors) {
	w := New(file, []byte(src), Options{
		Getenv: env(map[string]string{"WHO": "owl", "EMPTY": ""}),
		ReadFile: func(p string) ([]byte, error) {
			switch p {
			case "/etc/app/secret":
				return []byte("s3cret\n"), nil
			case "/etc/app/ca.pem":
				return []byte("CA"), nil
			}
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		},
	})
	s := sample{Count: 7}
	if root, ok := w.Parse(maxNodes); root != nil {
		w.DecodeStruct(root, reflect.ValueOf(&s).Elem(), "", nil, nil)
	} else if !ok && len(w.Errors()) == 0 {
		panic("refused without an error")
	}
	return w, s, w.Errors()
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want func(s sample) bool
	}{
		{"scalars", "name: a\ncount: 0x10\nsize: 255\nratio: 0.5\non: True\nevery: 1m30s\n",
			func(s sample) bool {
				return s.Name == "a" && s.Count == 16 && s.Size == 255 && s.Ratio == 0.5 && s.On && s.Every == 90*time.Second
			}},
		{"any scalar is text", "name: 1\ntags: [true, 2.5, ~x]\n",
			func(s sample) bool { return s.Name == "1" && reflect.DeepEqual(s.Tags, []string{"true", "2.5", "~x"}) }},
		{"empty file", "", func(s sample) bool { return s.Count == 7 }},
		{"comments only", "# nothing\n", func(s sample) bool { return s.Count == 7 }},
		{"null document", "~\n", func(s sample) bool { return s.Count == 7 }},
		{"null keeps the preset", "count: ~\n", func(s sample) bool { return s.Count == 7 }},
		{"empty value keeps the preset", "count:\nname: a\n", func(s sample) bool { return s.Count == 7 && s.Name == "a" }},
		{"explicit keys override merged ones", "inner: {<<: {host: a, port: 1}, port: 2}\n",
			func(s sample) bool { return *s.Inner == inner{"a", 2} }},
		{"earlier merged mappings win", "inner: {<<: [{host: a}, {host: b, port: 3}]}\n",
			func(s sample) bool { return *s.Inner == inner{"a", 3} }},
		{"merge of an alias", "labels: &l {a: x}\ninner: {<<: {host: h}}\nraw: {<<: *l}\n",
			func(s sample) bool {
				return s.Labels["a"] == "x" && s.Inner.Host == "h" && s.Raw.Kind == yaml.MappingNode
			}},
		{"aliases", "name: &n hello\nlabels: {greeting: *n}\ntags: &t [a, b]\n",
			func(s sample) bool { return s.Labels["greeting"] == "hello" && len(s.Tags) == 2 }},
		{"environment", "name: ${WHO}-$${WHO}${EMPTY}\n", func(s sample) bool { return s.Name == "owl-${WHO}" }},
		{"secret from a file", "token_file: secret\n", func(s sample) bool { return s.Token == "s3cret" }},
		{"path resolved against the file's directory", "ca: ca.pem\n", func(s sample) bool { return s.CA == "/etc/app/ca.pem" }},
		{"node kept as it is", "raw: [1, {a: b}]\n", func(s sample) bool { return s.Raw.Kind == yaml.SequenceNode && len(s.Raw.Content) == 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s, errs := walk(tt.src, 1000)
			if errs != nil {
				t.Fatalf("errors:\n%v", errs)
			}
			if !tt.want(s) {
				t.Errorf("got %+v", s)
			}
		})
	}
}

// TestErrors: every problem is reported at its line and column with the
// path of its key, all of them in one run, sorted by position.
func TestErrors(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		maxNodes int
		want     string
	}{
		{"unknown key", "name: a\nnmae: b\n", 0,
			"app.yaml:2:1: nmae: unknown key (valid: name, count, size, ratio, on, every, tags, labels, inner, token, token_file, ca, raw)"},
		{"unknown key below", "inner: {host: h, prot: 1}\n", 0,
			"app.yaml:1:18: inner.prot: unknown key (valid: host, port)"},
		{"duplicate key", "name: a\nname: b\n", 0,
			"app.yaml:2:1: name: duplicate key (first given on line 1)"},
		{"key not a string", "? [a]\n: b\n", 0,
			"app.yaml:1:3: keys must be strings"},
		{"merge of a scalar", "inner: {<<: 1}\n", 0,
			"app.yaml:1:13: inner.<<: must be a mapping or a list of mappings"},
		{"merge of a list with a scalar", "inner: {<<: [{host: a}, 2]}\n", 0,
			"app.yaml:1:25: inner.<<: must be a mapping or a list of mappings"},
		{"duplicate key in a merged mapping", "inner: {<<: {host: a, host: b}}\n", 0,
			"app.yaml:1:23: inner.host: duplicate key (first given on line 1)"},
		{"wrong kinds", "count: x\nsize: -1\nratio: half\non: yes\nevery: 30\ntags: a\nlabels: [a]\ninner: 1\n", 0,
			"app.yaml:1:8: count: must be an integer\n" +
				"app.yaml:2:7: size: must be a non-negative integer\n" +
				"app.yaml:3:8: ratio: must be a number\n" +
				"app.yaml:4:5: on: must be true or false\n" +
				"app.yaml:5:8: every: must be a duration such as 30s\n" +
				"app.yaml:6:7: tags: must be a list\n" +
				"app.yaml:7:9: labels: must be a mapping\n" +
				"app.yaml:8:8: inner: must be a mapping"},
		{"list item", "tags: [a, [b]]\n", 0,
			"app.yaml:1:11: tags[1]: must be a string"},
		{"sorted by position", "inner: {port: x, <<: {host: [1]}}\n", 0,
			"app.yaml:1:15: inner.port: must be an integer\n" +
				"app.yaml:1:29: inner.host: must be a string"},
		{"unset variables", "name: ${A}${B}\ntags: ['${', '${1x}']\n", 0,
			"app.yaml:1:7: name: environment variables A, B are not set\n" +
				"app.yaml:2:8: tags[0]: unterminated ${ (write $${ for a literal ${)\n" +
				"app.yaml:2:14: tags[1]: invalid environment variable name \"1x\" in ${...}"},
		{"secret and its file", "token: a\ntoken_file: secret\n", 0,
			"app.yaml:2:1: token_file: only one of token, token_file may be given"},
		{"secret file missing", "token_file: nope\n", 0,
			"app.yaml:1:13: token_file: cannot read nope: file does not exist"},
		{"secret file not named", "token_file: ''\n", 0,
			"app.yaml:1:13: token_file: must be a file path"},
		{"path missing", "ca: nope.pem\n", 0,
			"app.yaml:1:5: ca: cannot read nope.pem: file does not exist"},
		{"two documents", "name: a\n---\nname: b\n", 0,
			"app.yaml:2:1: only one YAML document is allowed"},
		{"syntax error at the misindented line", "inner:\n  host: a\n port: 1\n", 0,
			"app.yaml:3: did not find expected key"},
		{"unknown anchor at its use", "name: a\nlabels: {a: *nope}\n", 0,
			"app.yaml:2:13: unknown anchor 'nope' referenced"},
		{"expansion under the limit", "tags: &a [x, x, x]\nraw: [*a, *a, *a]\nname: [1]\n", 100,
			"app.yaml:3:7: name: must be a string"},
		{"expansion over the limit", "tags: &a [x, x, x]\nraw: [*a, *a, *a]\nname: [1]\n", 15,
			"app.yaml:2:7: raw[0]: aliases and merge keys (<<) expand this config to more than 15 YAML nodes (this alias alone to 5): repeat less, or write the values out"},
		{"merge keys count", "inner: &i {host: h}\nraw: {a: {<<: *i}, b: {<<: *i}}\nname: [1]\n", 12,
			"app.yaml:2:15: raw.a.<<: aliases and merge keys (<<) expand this config to more than 12 YAML nodes (this alias alone to 4): repeat less, or write the values out"},
		{"a cycle is over any limit", "raw: &r [*r]\n", 1000,
			"app.yaml:1:10: raw[0]: aliases and merge keys (<<) expand this config to more than 1000 YAML nodes (this alias alone to more than 1000): repeat less, or write the values out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.maxNodes == 0 {
				tt.maxNodes = 1000
			}
			_, _, errs := walk(tt.src, tt.maxNodes)
			got := strings.ReplaceAll(errs.Error(), file, "app.yaml")
			if got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestLocate: checks made after decoding find the node to blame, and know
// what already failed.
func TestLocate(t *testing.T) {
	w, _, errs := walk("name: a\ninner:\n  host: h\n  port: x\ntags: [a, [b]]\ncount: ~\n", 1000)
	if len(errs) != 2 {
		t.Fatalf("errors:\n%v", errs)
	}
	tests := []struct {
		name      string
		path      string
		line, col int
	}{
		{"a value", "inner.host", 3, 9},
		{"a missing key, at its mapping's key", "inner.user", 2, 1},
		{"a null value, at its key", "count", 6, 1},
		{"a list item", "tags[1]", 5, 11},
		{"nothing given", "labels.team", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := w.Locate(tt.path); n.Line != tt.line || n.Column != tt.col {
				t.Errorf("Locate(%s) = %d:%d, want %d:%d", tt.path, n.Line, n.Column, tt.line, tt.col)
			}
		})
	}
	for path, want := range map[string]bool{"inner.port": true, "inner": true, "tags": true, "tags[1]": true, "inner.host": false, "name": false} {
		if got := w.HasError(path); got != want {
			t.Errorf("HasError(%q) = %v, want %v", path, got, want)
		}
	}
	if w.Bad("inner") || !w.Bad("inner.port") {
		t.Errorf("Bad(inner) = %v, Bad(inner.port) = %v", w.Bad("inner"), w.Bad("inner.port"))
	}
	w.Errorf(w.Locate("inner.user"), "inner.user", "required")
	if got := w.Errors()[0].Error(); got != file+":2:1: inner.user: required" {
		t.Errorf("errors not sorted: %s", got)
	}
}

// TestCanonical: equal values give equal plain values, and a file that a
// path field names counts by its content.
func TestCanonical(t *testing.T) {
	w, s, errs := walk("name: a\nevery: 90s\nca: ca.pem\ninner: {host: h}\nlabels: {b: '2', a: '1'}\n", 1000)
	if errs != nil {
		t.Fatal(errs)
	}
	got := w.Canonical(reflect.ValueOf(&s)).(map[string]any)
	want := map[string]any{
		"name": "a", "count": int64(7), "size": uint64(0), "ratio": "0", "on": false, "every": "1m30s",
		"tags": []any{}, "labels": map[string]any{"a": "1", "b": "2"},
		"inner": map[string]any{"host": "h", "port": int64(0)},
		"token": "", "ca": "/etc/app/ca.pem", "raw": nil,
		// SHA-256 of "CA".
		"ca@sha256": "4b650e5c4785025dee7bd65e3c5c527356717d7a1c0bfef5b4ada8ca1e9cbe17",
	}
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d keys, want %d: %v", len(got), len(want), got)
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"full", &Error{File: "a.yaml", Line: 14, Col: 7, Key: "checks[2].http.url", Message: "required"},
			"a.yaml:14:7: checks[2].http.url: required"},
		{"no key", &Error{File: "a.yaml", Line: 3, Col: 1, Message: "must be a mapping"},
			"a.yaml:3:1: must be a mapping"},
		{"no column", &Error{File: "a.yaml", Line: 3, Message: "did not find expected key"},
			"a.yaml:3: did not find expected key"},
		{"no position", &Error{File: "a.yaml", Message: "unknown anchor 'x' referenced"},
			"a.yaml: unknown anchor 'x' referenced"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzWalk: no input makes the walker panic or hang, and every problem
// names the file and says what is wrong.
func FuzzWalk(f *testing.F) {
	for _, s := range []string{
		"", "name: a\n", "inner: {<<: [{host: a}, 2]}\n", "raw: &r [*r]\n", "a: &a {x: 1}\nb: {<<: [*a, *a]}\n",
		"tags: &a [x, x]\nraw: [*a, *a]\n", "name: ${WHO}\ntoken_file: secret\nca: ca.pem\n", "? [a]\n: b\n", "---\n---\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, errs := walk(string(data), 1000)
		for _, e := range errs {
			if e.File != file || e.Message == "" {
				t.Fatalf("%#v", e)
			}
		}
	})
}
