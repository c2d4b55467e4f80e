// Package yamlnode decodes YAML into Go structs by walking yaml.v3's node
// tree itself, rather than letting yaml.v3 fill the structs, because only
// the nodes know where each value came from: every problem is reported as
// FILE:LINE:COL: KEY: MESSAGE, and all of them in one run.
//
// Beyond yaml.v3 it expands `<<` merge keys (explicit keys win), rejects
// duplicate and unknown keys (naming the valid ones), bounds how far
// aliases and merge keys may expand a file, expands ${VAR} in scalars,
// reads a secret from the file that a NAME_file key names (fields tagged
// `secret:"true"`), reads the files that fields tagged `path:"true"` name
// (so that a missing one is reported where it is named), and remembers the
// value and key node of every path, so that a check made after decoding
// can point at what it complains about.
//
// What a file means is not known here: config/ holds nightowl's schema.
package yamlnode

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Options are what a Walker reads from outside the file.
type Options struct {
	// Context ends a walk early when it is done; a walk that ended so
	// reports nothing of it: the caller does. Nil for never.
	Context context.Context
	// Getenv looks up ${VAR}; os.LookupEnv when nil.
	Getenv func(string) (string, bool)
	// ReadFile reads the files that NAME_file keys and path fields name;
	// os.ReadFile when nil.
	ReadFile func(string) ([]byte, error)
}

// A Walker decodes one file and collects its problems.
type Walker struct {
	file string
	dir  string
	src  []byte
	opts Options
	errs Errors
	// Vals and Keys hold the value and key node of every path decoded,
	// such as checks[2].http.url, so that checks made after decoding can
	// point at what they complain about. Set them for what is decoded by
	// hand.
	Vals map[string]*yaml.Node
	Keys map[string]*yaml.Node
	bad  map[string]bool // paths with an error
	// badUnder holds the ancestors of every path in bad.
	badUnder map[string]bool
	// fileSums holds the SHA-256 of every file a path field names, for
	// Canonical.
	fileSums map[string]string
	// lines is src split into lines of runes, made on first use.
	lines [][]rune
	// fields caches Fields: a file repeats the same few structs
	// thousands of times.
	fields map[reflect.Type][]Field
	// steps counts calls of Decode, to look at the context now and then.
	steps int
}

// New returns a Walker for src, the content of file. file names it in
// errors, and relative paths in it resolve against its directory.
func New(file string, src []byte, opts Options) *Walker {
	if opts.Getenv == nil {
		opts.Getenv = os.LookupEnv
	}
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	return &Walker{
		file:     file,
		dir:      filepath.Dir(file),
		src:      src,
		opts:     opts,
		Vals:     map[string]*yaml.Node{},
		Keys:     map[string]*yaml.Node{},
		bad:      map[string]bool{},
		badUnder: map[string]bool{},
		fileSums: map[string]string{},
		fields:   map[reflect.Type][]Field{},
	}
}

// File is the file's name, as given to New.
func (w *Walker) File() string { return w.file }

// Dir is the directory that relative paths in the file resolve against.
func (w *Walker) Dir() string { return w.dir }

// Errors returns the problems found so far, sorted by position; nil when
// there are none.
func (w *Walker) Errors() Errors {
	if len(w.errs) == 0 {
		return nil
	}
	w.errs.sort()
	return w.errs
}

// ErrorAt reports a problem with path at a line and column (0 when
// unknown).
func (w *Walker) ErrorAt(line, col int, path, format string, args ...any) {
	w.errs = append(w.errs, &Error{File: w.file, Line: line, Col: col, Key: path, Message: fmt.Sprintf(format, args...)})
	w.MarkBad(path)
}

// Errorf reports a problem with path at the node n.
func (w *Walker) Errorf(n *yaml.Node, path, format string, args ...any) {
	w.ErrorAt(n.Line, n.Column, path, format, args...)
}

// MarkBad records that path has an error, reported there or under another
// name for it.
func (w *Walker) MarkBad(path string) {
	w.bad[path] = true
	for p := parentPath(path); p != "" && !w.badUnder[p]; p = parentPath(p) {
		w.badUnder[p] = true
	}
}

// Bad reports whether path itself has an error: for a mapping or a list,
// that it is not one, so that what is under it was never decoded.
func (w *Walker) Bad(path string) bool { return w.bad[path] }

// HasError reports whether path or anything under it already has an
// error, so that a later check does not add "required" to a value that
// failed to decode.
func (w *Walker) HasError(path string) bool {
	return w.bad[path] || w.badUnder[path]
}

// Locate returns the node to blame for a problem with path: its value when
// given, else the key of the nearest enclosing mapping that is (for a
// missing required key, the `http:` above it).
func (w *Walker) Locate(path string) *yaml.Node {
	if v := w.Vals[path]; v != nil && !IsNull(v) {
		return v
	}
	for p := path; p != ""; p = parentPath(p) {
		if k := w.Keys[p]; k != nil {
			return k
		}
	}
	return &yaml.Node{Line: 1, Column: 1}
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// JoinPath returns the path of key in the mapping at parent.
func JoinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// IndexPath returns the path of item i of the list at parent.
func IndexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// Resolve follows aliases to the node they stand for.
func Resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// IsNull reports whether n is null: ~, null, or nothing at all.
func IsNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// Column returns the column of the character at offset (0-based, in runes)
// within the scalar n, when n's text sits verbatim on its line; ok is false
// when quoting, escapes, folding or ${VAR} make the two differ. It places
// an error that a parser of value reports within it.
func (w *Walker) Column(n *yaml.Node, value string, offset int) (int, bool) {
	if w.lines == nil {
		for _, l := range strings.Split(string(w.src), "\n") {
			w.lines = append(w.lines, []rune(l))
		}
	}
	if n.Line < 1 || n.Line > len(w.lines) || strings.Contains(value, "\n") {
		return 0, false
	}
	line := w.lines[n.Line-1]
	start := n.Column - 1
	switch n.Style {
	case 0:
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		start++
	default:
		return 0, false
	}
	if start < 0 || start > len(line) || !strings.HasPrefix(string(line[start:]), value) {
		return 0, false
	}
	return start + 1 + offset, true
}
