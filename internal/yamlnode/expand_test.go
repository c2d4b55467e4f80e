package yamlnode

import (
	"strings"
	"testing"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func TestExpand(t *testing.T) {
	vars := env(map[string]string{"HOST": "db.example.com", "PORT": "3306", "EMPTY": ""})
	tests := []struct {
		name, in, want, err string
	}{
		{"no variables", "plain $HOME text", "plain $HOME text", ""},
		{"whole value", "${HOST}", "db.example.com", ""},
		{"several", "tcp(${HOST}:${PORT})/app", "tcp(db.example.com:3306)/app", ""},
		{"set but empty", "a${EMPTY}b", "ab", ""},
		{"escaped", "$${HOST} is ${HOST}", "${HOST} is db.example.com", ""},
		{"dollar before escaped", "$$${HOST}", "$${HOST}", ""},
		{"unset", "${MATH_DB_DSN}", "", "environment variable MATH_DB_DSN is not set"},
		{"several unset", "${A}${B}${A}", "", "environment variables A, B are not set"},
		{"unterminated", "${HOST", "", "unterminated ${ (write $${ for a literal ${)"},
		{"bad name", "${HOST:-x}", "", `invalid environment variable name "HOST:-x" in ${...}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Expand(tt.in, vars)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("Expand(%q) error = %v, want %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// FuzzExpand: any string that expands writes back with $${ for every ${
// it holds and expands again to itself, so every value can be written
// literally; a string without ${ is left as it is; a variable's value is
// never expanded again.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"", "plain", "${A}", "$${A}", "$$${A}", "${A}${B}", "${", "${}", "${A", "a${A}b${A}c", "${UNSET}", "$$", "${A}}"} {
		f.Add(s)
	}
	getenv := env(map[string]string{"A": "${B}", "B": "$${x", "C": ""})
	f.Fuzz(func(t *testing.T, s string) {
		out, err := Expand(s, getenv)
		if !strings.Contains(s, "${") && (err != nil || out != s) {
			t.Fatalf("%q: %q, %v", s, out, err)
		}
		if err != nil {
			return
		}
		escaped := strings.ReplaceAll(out, "${", "$${")
		if again, err := Expand(escaped, getenv); err != nil || again != out {
			t.Fatalf("%q expands to %q, written back as %q, expands to %q, %v", s, out, escaped, again, err)
		}
	})
}
