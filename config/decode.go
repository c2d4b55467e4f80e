package config

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The decoder walks the YAML node tree itself rather than letting yaml.v3
// fill structs, because only the nodes know where each value came from, and
// every problem must be reported at its line and column.
type decoder struct {
	// ctx ends the walk early when it is done (limits.go).
	ctx  context.Context
	file string
	dir  string
	src  []byte
	opts Options
	errs Errors
	// vals and keys remember the value and key node of every path decoded,
	// so that checks made after decoding (Validate, thresholds) can point at
	// what they complain about.
	vals map[string]*yaml.Node
	keys map[string]*yaml.Node
	bad  map[string]bool // paths with an error
	// badUnder holds the ancestors of every path in bad.
	badUnder map[string]bool
	// fileSums holds the SHA-256 of every file a path field names, for
	// the fingerprints.
	fileSums map[string]string
	// lines is src split into lines of runes, made on first use.
	lines [][]rune
	// fields caches fieldsOf: a config repeats the same few structs
	// thousands of times.
	fields map[reflect.Type][]field
	// steps counts calls of decode, to look at ctx now and then.
	steps int
}

func newDecoder(file string, src []byte, opts Options) *decoder {
	return &decoder{
		file: file,
		dir:  filepath.Dir(file),
		src:  src,
		opts: opts,
		vals: map[string]*yaml.Node{},
		keys: map[string]*yaml.Node{},
		bad:  map[string]bool{},

		badUnder: map[string]bool{},
		fileSums: map[string]string{},
		fields:   map[reflect.Type][]field{},
	}
}

func (d *decoder) errorAt(line, col int, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Col: col, Key: path, Message: fmt.Sprintf(format, args...)})
	d.markBad(path)
}

// markBad records that path has an error, reported there or under another
// name for it.
func (d *decoder) markBad(path string) {
	d.bad[path] = true
	for p := parentPath(path); p != "" && !d.badUnder[p]; p = parentPath(p) {
		d.badUnder[p] = true
	}
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.errorAt(n.Line, n.Column, path, format, args...)
}

// hasError reports whether path or anything under it already has an error,
// so that Validate does not add "required" to a value that failed to decode.
func (d *decoder) hasError(path string) bool {
	return d.bad[path] || d.badUnder[path]
}

// locate returns the node to blame for a problem with path: its value when
// given, else the key of the nearest enclosing mapping that is (for a missing
// required key, the `http:` above it).
func (d *decoder) locate(path string) *yaml.Node {
	if v := d.vals[path]; v != nil && !isNull(v) {
		return v
	}
	for p := path; p != ""; p = parentPath(p) {
		if k := d.keys[p]; k != nil {
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

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

type pair struct{ key, val *yaml.Node }

// pairs returns the entries of a mapping in file order, with `<<` merge keys
// expanded (explicit keys override merged ones), and reports duplicate keys:
// yaml.v3 only rejects them when it fills structs itself.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var explicit, merged []pair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, d.merge(v, path)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "keys must be strings")
			continue
		}
		if first := seen[k.Value]; first != nil {
			d.errorf(k, joinPath(path, k.Value), "duplicate key (first given on line %d)", first.Line)
			continue
		}
		seen[k.Value] = k
		explicit = append(explicit, pair{k, v})
	}
	var out []pair
	for _, p := range merged {
		if seen[p.key.Value] == nil {
			seen[p.key.Value] = p.key
			out = append(out, p)
		}
	}
	return append(out, explicit...)
}

func (d *decoder) merge(v *yaml.Node, path string) []pair {
	v = resolve(v)
	switch v.Kind {
	case yaml.MappingNode:
		return d.pairs(v, path)
	case yaml.SequenceNode:
		var out []pair
		for _, m := range v.Content {
			if m = resolve(m); m.Kind != yaml.MappingNode {
				d.errorf(m, joinPath(path, "<<"), "must be a mapping or a list of mappings")
				continue
			}
			out = append(out, d.pairs(m, path)...)
		}
		return out
	}
	d.errorf(v, joinPath(path, "<<"), "must be a mapping or a list of mappings")
	return nil
}

// field is a struct field that YAML can set.
type field struct {
	name   string // the yaml key
	index  []int
	secret bool // also accepts NAME_file
	path   bool // a file path, resolved against the config's directory
}

func (d *decoder) fieldsOf(t reflect.Type) []field {
	if fs, ok := d.fields[t]; ok {
		return fs
	}
	var out []field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		out = append(out, field{
			name:   name,
			index:  f.Index,
			secret: f.Tag.Get("secret") == "true" && f.Type.Kind() == reflect.String,
			path:   f.Tag.Get("path") == "true" && f.Type.Kind() == reflect.String,
		})
	}
	d.fields[t] = out
	return out
}

// validKeys lists the keys a struct accepts, in declaration order, for the
// message about an unknown key.
func validKeys(fs []field, extra []string) string {
	var names []string
	for _, f := range fs {
		names = append(names, f.name)
		if f.secret {
			names = append(names, f.name+"_file")
		}
	}
	return strings.Join(append(names, extra...), ", ")
}

// decodeStruct fills the struct v from the mapping n. Keys that are not
// fields are offered to other (which reports whether it took them) and are
// otherwise rejected, listing the fields and extra as the valid keys.
func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string, extra []string, other func(key string, p pair) bool) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping")
		return
	}
	fs := d.fieldsOf(v.Type())
	byName := map[string]field{}
	for _, f := range fs {
		byName[f.name] = f
		if f.secret {
			byName[f.name+"_file"] = f
		}
	}
	given := map[string]*yaml.Node{} // field name → the key that set it
	for _, p := range d.pairs(n, path) {
		key := p.key.Value
		kpath := joinPath(path, key)
		d.keys[kpath] = p.key
		f, ok := byName[key]
		if !ok {
			if other == nil || !other(key, p) {
				d.errorf(p.key, kpath, "unknown key (valid: %s)", validKeys(fs, extra))
			}
			continue
		}
		if first := given[f.name]; first != nil {
			d.errorf(p.key, kpath, "only one of %s, %s_file may be given", f.name, f.name)
			continue
		}
		given[f.name] = p.key
		fv := v.FieldByIndex(f.index)
		if key != f.name {
			d.decodeSecretFile(p, fv, kpath, joinPath(path, f.name))
			continue
		}
		d.decode(p.val, fv, kpath)
		if f.path && fv.String() != "" && !d.hasError(kpath) {
			// Read now, so that a missing file is reported where it is
			// named, and so that the fingerprint covers its content.
			name := fv.String()
			fv.SetString(d.resolvePath(name))
			if data, ok := d.readFile(resolve(p.val), kpath, name); ok {
				sum := sha256.Sum256(data)
				d.fileSums[fv.String()] = hex.EncodeToString(sum[:])
			}
		}
	}
}

// readFile reads the file that the value n at path names, reporting a
// failure there.
func (d *decoder) readFile(n *yaml.Node, path, name string) ([]byte, bool) {
	data, err := d.opts.ReadFile(d.resolvePath(name))
	if err != nil {
		// The reason only: the absolute path says less to the reader
		// than the one they wrote.
		reason := err
		var pe *fs.PathError
		if errors.As(err, &pe) {
			reason = pe.Err
		}
		d.errorf(n, path, "cannot read %s: %v", name, reason)
		return nil, false
	}
	return data, true
}

// decodeSecretFile sets a secret from the file that its NAME_file key names,
// so that secrets can live in files (Docker and Kubernetes secrets) rather
// than in the config or the environment.
func (d *decoder) decodeSecretFile(p pair, fv reflect.Value, kpath, fpath string) {
	d.keys[fpath] = p.key
	val := resolve(p.val)
	d.vals[kpath] = val
	d.vals[fpath] = val
	name, ok := d.text(val, kpath, "must be a file path")
	if ok && name == "" {
		d.errorf(val, kpath, "must be a file path")
		ok = false
	}
	var data []byte
	if ok {
		// Errors name the file, never show its content: it is a secret.
		data, ok = d.readFile(val, kpath, name)
	}
	if !ok {
		// The secret is not missing, only unread: Validate's "required"
		// would contradict the error just reported.
		d.markBad(fpath)
		return
	}
	s := string(data)
	if t, ok := strings.CutSuffix(s, "\r\n"); ok {
		s = t
	} else {
		s = strings.TrimSuffix(s, "\n")
	}
	fv.SetString(s)
}

func (d *decoder) resolvePath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(d.dir, p)
}

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	// A *yaml.Node field takes its value as it is, for a key that is
	// decoded by hand later but belongs in the list of valid keys in its
	// place.
	nodeType = reflect.TypeFor[*yaml.Node]()
)

// decode sets v from n. A null value leaves v as it is, so that whatever was
// preset (the defaults) stays.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.steps++; d.steps%1024 == 0 && d.ctx != nil && d.ctx.Err() != nil {
		return // parse reports it
	}
	n = resolve(n)
	d.vals[path] = n
	if isNull(n) {
		return
	}
	t := v.Type()
	switch {
	case t == nodeType:
		v.Set(reflect.ValueOf(n))
		return
	case t == durationType:
		s, ok := d.text(n, path, "must be a duration such as 30s")
		if !ok {
			return
		}
		dur, err := parseDuration(s)
		if err != nil {
			d.errorf(n, path, "must be a duration such as 30s")
			return
		}
		v.SetInt(int64(dur))
		return
	case t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(textUnmarshalerType):
		s, ok := d.text(n, path, "must be a string")
		if !ok {
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.errorf(n, path, "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path, nil, nil)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.errorf(n, path, "must be a mapping")
			return
		}
		if t.Key().Kind() != reflect.String {
			d.errorf(n, path, "cannot be set from YAML (map keyed by %s)", t.Key())
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		for _, p := range d.pairs(n, path) {
			kpath := joinPath(path, p.key.Value)
			d.keys[kpath] = p.key
			ev := reflect.New(t.Elem()).Elem()
			d.decode(p.val, ev, kpath)
			v.SetMapIndex(reflect.ValueOf(p.key.Value).Convert(t.Key()), ev)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, "must be a list")
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), indexPath(path, i))
		}
		v.Set(s)
	case reflect.String:
		if s, ok := d.text(n, path, "must be a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		s, ok := d.text(n, path, "must be true or false")
		if !ok {
			return
		}
		switch s {
		case "true", "True", "TRUE":
			v.SetBool(true)
		case "false", "False", "FALSE":
			v.SetBool(false)
		default:
			d.errorf(n, path, "must be true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s, ok := d.text(n, path, "must be an integer")
		if !ok {
			return
		}
		i, err := strconv.ParseInt(s, 0, t.Bits())
		if err != nil {
			d.errorf(n, path, "must be an integer")
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		s, ok := d.text(n, path, "must be a non-negative integer")
		if !ok {
			return
		}
		i, err := strconv.ParseUint(s, 0, t.Bits())
		if err != nil {
			d.errorf(n, path, "must be a non-negative integer")
			return
		}
		v.SetUint(i)
	case reflect.Float32, reflect.Float64:
		s, ok := d.text(n, path, "must be a number")
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(s, t.Bits())
		if err != nil {
			d.errorf(n, path, "must be a number")
			return
		}
		v.SetFloat(f)
	default:
		d.errorf(n, path, "cannot be set from YAML (%s)", t)
	}
}

// text returns the expanded text of a scalar, or reports want when n is a
// mapping or a list. Scalars of any YAML type are accepted as text, so that
// `tier: 1` is the label "1" and `port: "5432"` the number 5432.
func (d *decoder) text(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "%s", want)
		return "", false
	}
	s, err := expand(n.Value, d.opts.Getenv)
	if err != nil {
		d.errorf(n, path, "%v", err)
		return "", false
	}
	return s, true
}

// parseDuration accepts Go durations only: a bare number such as 30 would
// leave the reader guessing whether it means seconds or milliseconds.
func parseDuration(s string) (time.Duration, error) {
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, errors.New("no unit")
	}
	return time.ParseDuration(s)
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expand replaces ${VAR} with the variable's value; $${ stands for a literal
// ${. Every unset variable is named, so one run shows them all.
func expand(s string, getenv func(string) (string, bool)) (string, error) {
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
				if !contains(missing, name) {
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// column returns the column of the character at offset (0-based, in runes)
// within the scalar n, when n's text sits verbatim on its line; ok is false
// when quoting, escapes, folding or ${VAR} make the two differ.
func (d *decoder) column(n *yaml.Node, value string, offset int) (int, bool) {
	if d.lines == nil {
		for _, l := range strings.Split(string(d.src), "\n") {
			d.lines = append(d.lines, []rune(l))
		}
	}
	if n.Line < 1 || n.Line > len(d.lines) || strings.Contains(value, "\n") {
		return 0, false
	}
	line := d.lines[n.Line-1]
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
