package yamlnode

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Expand replaces ${VAR} with the variable's value, as getenv gives it;
// $${ stands for a literal ${. Every unset variable is named, so one run
// shows them all. A variable's value is not expanded again.
func Expand(s string, getenv func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	var missing []string
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", errors.New(`unterminated ${ (write $${ for a literal ${)`)
			}
			name := s[i+2 : i+2+end]
			if !envName.MatchString(name) {
				return "", fmt.Errorf("invalid environment variable name %q in ${...}", name)
			}
			val, ok := getenv(name)
			if !ok {
				if !slices.Contains(missing, name) {
					missing = append(missing, name)
				}
			}
			b.WriteString(val)
			i += 3 + end
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	switch len(missing) {
	case 0:
		return b.String(), nil
	case 1:
		return "", fmt.Errorf("environment variable %s is not set", missing[0])
	}
	return "", fmt.Errorf("environment variables %s are not set", strings.Join(missing, ", "))
}
