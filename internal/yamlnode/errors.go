package yamlnode

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem with a file, at the position of the offending value
// (or key).
type Error struct {
	File      string
	Line, Col int // Col is 0 when unknown, as for most YAML syntax errors
	// Key is the path of the key concerned, such as checks[2].http.url; empty
	// for problems that belong to no key.
	Key     string
	Message string
}

// Error formats the problem as FILE:LINE:COL: KEY: MESSAGE, the shape that
// editors and CI annotators turn into a link.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Errors is every problem found in a file, sorted by position, so that one
// run shows them all.
type Errors []*Error

// Error lists the problems, one a line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As reach the individual problems.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Col < es[j].Col
	})
}
