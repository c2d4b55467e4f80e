package yamlnode

import (
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Pair is one entry of a mapping.
type Pair struct{ Key, Val *yaml.Node }

// Pairs returns the entries of a mapping in file order, with `<<` merge keys
// expanded (explicit keys override merged ones), and reports duplicate keys:
// yaml.v3 only rejects them when it fills structs itself.
func (w *Walker) Pairs(n *yaml.Node, path string) []Pair {
	var explicit, merged []Pair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, w.merge(v, path)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			w.Errorf(k, path, "keys must be strings")
			continue
		}
		if first := seen[k.Value]; first != nil {
			w.Errorf(k, JoinPath(path, k.Value), "duplicate key (first given on line %d)", first.Line)
			continue
		}
		seen[k.Value] = k
		explicit = append(explicit, Pair{k, v})
	}
	var out []Pair
	for _, p := range merged {
		if seen[p.Key.Value] == nil {
			seen[p.Key.Value] = p.Key
			out = append(out, p)
		}
	}
	return append(out, explicit...)
}

func (w *Walker) merge(v *yaml.Node, path string) []Pair {
	v = Resolve(v)
	switch v.Kind {
	case yaml.MappingNode:
		return w.Pairs(v, path)
	case yaml.SequenceNode:
		var out []Pair
		for _, m := range v.Content {
			if m = Resolve(m); m.Kind != yaml.MappingNode {
				w.Errorf(m, JoinPath(path, "<<"), "must be a mapping or a list of mappings")
				continue
			}
			out = append(out, w.Pairs(m, path)...)
		}
		return out
	}
	w.Errorf(v, JoinPath(path, "<<"), "must be a mapping or a list of mappings")
	return nil
}

// Field is a struct field that YAML can set: one with a yaml tag.
type Field struct {
	Name   string // the yaml key
	Index  []int
	Secret bool // tagged secret:"true": also accepts NAME_file
	Path   bool // tagged path:"true": a file path, resolved against the file's directory
}

// Fields returns the fields of the struct type t that YAML can set, in
// declaration order.
func (w *Walker) Fields(t reflect.Type) []Field {
	if fs, ok := w.fields[t]; ok {
		return fs
	}
	var out []Field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		out = append(out, Field{
			Name:   name,
			Index:  f.Index,
			Secret: f.Tag.Get("secret") == "true" && f.Type.Kind() == reflect.String,
			Path:   f.Tag.Get("path") == "true" && f.Type.Kind() == reflect.String,
		})
	}
	w.fields[t] = out
	return out
}

// validKeys lists the keys a struct accepts, in declaration order, for the
// message about an unknown key.
func validKeys(fs []Field, extra []string) string {
	var names []string
	for _, f := range fs {
		names = append(names, f.Name)
		if f.Secret {
			names = append(names, f.Name+"_file")
		}
	}
	return strings.Join(append(names, extra...), ", ")
}

// DecodeStruct fills the struct v from the mapping n. Keys that are not
// fields are offered to other (which reports whether it took them) and are
// otherwise rejected, listing the fields and extra as the valid keys.
func (w *Walker) DecodeStruct(n *yaml.Node, v reflect.Value, path string, extra []string, other func(key string, p Pair) bool) {
	if n.Kind != yaml.MappingNode {
		w.Errorf(n, path, "must be a mapping")
		return
	}
	fs := w.Fields(v.Type())
	byName := map[string]Field{}
	for _, f := range fs {
		byName[f.Name] = f
		if f.Secret {
			byName[f.Name+"_file"] = f
		}
	}
	given := map[string]*yaml.Node{} // field name → the key that set it
	for _, p := range w.Pairs(n, path) {
		key := p.Key.Value
		kpath := JoinPath(path, key)
		w.Keys[kpath] = p.Key
		f, ok := byName[key]
		if !ok {
			if other == nil || !other(key, p) {
				w.Errorf(p.Key, kpath, "unknown key (valid: %s)", validKeys(fs, extra))
			}
			continue
		}
		if first := given[f.Name]; first != nil {
			w.Errorf(p.Key, kpath, "only one of %s, %s_file may be given", f.Name, f.Name)
			continue
		}
		given[f.Name] = p.Key
		fv := v.FieldByIndex(f.Index)
		if key != f.Name {
			w.decodeSecretFile(p, fv, kpath, JoinPath(path, f.Name))
			continue
		}
		w.Decode(p.Val, fv, kpath)
		if f.Path && fv.String() != "" && !w.HasError(kpath) {
			// Read now, so that a missing file is reported where it is
			// named, and so that the fingerprint covers its content.
			name := fv.String()
			fv.SetString(w.ResolvePath(name))
			if data, ok := w.ReadFile(Resolve(p.Val), kpath, name); ok {
				sum := sha256.Sum256(data)
				w.fileSums[fv.String()] = hex.EncodeToString(sum[:])
			}
		}
	}
}

// ReadFile reads the file that the value n at path names, reporting a
// failure there.
func (w *Walker) ReadFile(n *yaml.Node, path, name string) ([]byte, bool) {
	data, err := w.opts.ReadFile(w.ResolvePath(name))
	if err != nil {
		// The reason only: the absolute path says less to the reader
		// than the one they wrote.
		reason := err
		var pe *fs.PathError
		if errors.As(err, &pe) {
			reason = pe.Err
		}
		w.Errorf(n, path, "cannot read %s: %v", name, reason)
		return nil, false
	}
	return data, true
}

// decodeSecretFile sets a secret from the file that its NAME_file key names,
// so that secrets can live in files (Docker and Kubernetes secrets) rather
// than in the config or the environment.
func (w *Walker) decodeSecretFile(p Pair, fv reflect.Value, kpath, fpath string) {
	w.Keys[fpath] = p.Key
	val := Resolve(p.Val)
	w.Vals[kpath] = val
	w.Vals[fpath] = val
	name, ok := w.Text(val, kpath, "must be a file path")
	if ok && name == "" {
		w.Errorf(val, kpath, "must be a file path")
		ok = false
	}
	var data []byte
	if ok {
		// Errors name the file, never show its content: it is a secret.
		data, ok = w.ReadFile(val, kpath, name)
	}
	if !ok {
		// The secret is not missing, only unread: Validate's "required"
		// would contradict the error just reported.
		w.MarkBad(fpath)
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

// ResolvePath resolves p against the file's directory.
func (w *Walker) ResolvePath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(w.dir, p)
}

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	// A *yaml.Node field takes its value as it is, for a key that is
	// decoded by hand later but belongs in the list of valid keys in its
	// place.
	nodeType = reflect.TypeFor[*yaml.Node]()
)

// Decode sets v from n. A null value leaves v as it is, so that whatever was
// preset (the defaults) stays.
func (w *Walker) Decode(n *yaml.Node, v reflect.Value, path string) {
	if w.steps++; w.steps%1024 == 0 && w.opts.Context != nil && w.opts.Context.Err() != nil {
		return // parse reports it
	}
	n = Resolve(n)
	w.Vals[path] = n
	if IsNull(n) {
		return
	}
	t := v.Type()
	switch {
	case t == nodeType:
		v.Set(reflect.ValueOf(n))
		return
	case t == durationType:
		s, ok := w.Text(n, path, "must be a duration such as 30s")
		if !ok {
			return
		}
		dur, err := parseDuration(s)
		if err != nil {
			w.Errorf(n, path, "must be a duration such as 30s")
			return
		}
		v.SetInt(int64(dur))
		return
	case t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(textUnmarshalerType):
		s, ok := w.Text(n, path, "must be a string")
		if !ok {
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			w.Errorf(n, path, "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		w.Decode(n, v.Elem(), path)
	case reflect.Struct:
		w.DecodeStruct(n, v, path, nil, nil)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.Errorf(n, path, "must be a mapping")
			return
		}
		if t.Key().Kind() != reflect.String {
			w.Errorf(n, path, "cannot be set from YAML (map keyed by %s)", t.Key())
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		for _, p := range w.Pairs(n, path) {
			kpath := JoinPath(path, p.Key.Value)
			w.Keys[kpath] = p.Key
			ev := reflect.New(t.Elem()).Elem()
			w.Decode(p.Val, ev, kpath)
			v.SetMapIndex(reflect.ValueOf(p.Key.Value).Convert(t.Key()), ev)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.Errorf(n, path, "must be a list")
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, c := range n.Content {
			w.Decode(c, s.Index(i), IndexPath(path, i))
		}
		v.Set(s)
	case reflect.String:
		if s, ok := w.Text(n, path, "must be a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		s, ok := w.Text(n, path, "must be true or false")
		if !ok {
			return
		}
		switch s {
		case "true", "True", "TRUE":
			v.SetBool(true)
		case "false", "False", "FALSE":
			v.SetBool(false)
		default:
			w.Errorf(n, path, "must be true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s, ok := w.Text(n, path, "must be an integer")
		if !ok {
			return
		}
		i, err := strconv.ParseInt(s, 0, t.Bits())
		if err != nil {
			w.Errorf(n, path, "must be an integer")
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		s, ok := w.Text(n, path, "must be a non-negative integer")
		if !ok {
			return
		}
		i, err := strconv.ParseUint(s, 0, t.Bits())
		if err != nil {
			w.Errorf(n, path, "must be a non-negative integer")
			return
		}
		v.SetUint(i)
	case reflect.Float32, reflect.Float64:
		s, ok := w.Text(n, path, "must be a number")
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(s, t.Bits())
		if err != nil {
			w.Errorf(n, path, "must be a number")
			return
		}
		v.SetFloat(f)
	default:
		w.Errorf(n, path, "cannot be set from YAML (%s)", t)
	}
}

// Text returns the expanded text of a scalar, or reports want when n is a
// mapping or a list. Scalars of any YAML type are accepted as text, so that
// `tier: 1` is the label "1" and `port: "5432"` the number 5432.
func (w *Walker) Text(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		w.Errorf(n, path, "%s", want)
		return "", false
	}
	s, err := Expand(n.Value, w.opts.Getenv)
	if err != nil {
		w.Errorf(n, path, "%v", err)
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
