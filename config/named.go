package config

import (
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Checks, maintenance windows, components and actions are each a list of
// named things: a YAML list of mappings, each with a name unique in the
// list, by which other sections refer to it. decodeNamed walks every such
// list, so that they all report a missing, malformed or repeated name alike.

// namedList describes one list of named things.
type namedList struct {
	path string // the section's key, such as "maintenance"
	kind string // what one item is, for messages, such as "window"
	// notList is the message for a section that is not a list.
	notList string
	// foldCase compares names without case.
	foldCase bool
}

// roster is what a list of named things tells the sections that name its
// items.
type roster struct {
	// names are the valid names, in file order, each once.
	names []string
	// written are the names as written, valid or not, so that naming an
	// item whose own name is wrong adds no error of its own.
	written map[string]bool
	// none is true when the section is not even a list.
	none bool
}

// decodeNamed decodes the list n (nil when the file has no such section)
// with item, and reports the names that name finds more than once. item
// decodes the list item at path, and leaves the value node of its name in
// d.Vals; name returns the item's name, "" when it has no valid one.
func decodeNamed[T any](d *decoder, n *yaml.Node, l namedList, item func(n *yaml.Node, path string) T, name func(T) string) ([]T, *roster) {
	r := &roster{written: map[string]bool{}}
	if n == nil {
		return nil, r
	}
	n = resolve(n)
	d.Vals[l.path] = n
	if isNull(n) {
		return nil, r
	}
	if n.Kind != yaml.SequenceNode {
		d.Errorf(n, l.path, "%s", l.notList)
		r.none = true
		return nil, r
	}
	out := make([]T, 0, len(n.Content))
	first := map[string]*yaml.Node{}
	for i, c := range n.Content {
		path := indexPath(l.path, i)
		v := item(resolve(c), path)
		npath := path + ".name"
		at := d.Vals[npath]
		if at != nil && at.Kind == yaml.ScalarNode {
			r.written[at.Value] = true
		}
		if s := name(v); s != "" {
			key := s
			if l.foldCase {
				key = strings.ToLower(s)
			}
			if f := first[key]; f != nil {
				d.Errorf(at, npath, "duplicate %s name (first used on line %d)", l.kind, f.Line)
			} else {
				first[key] = at
				r.names = append(r.names, s)
			}
		}
		out = append(out, v)
	}
	return out, r
}

// namedItem decodes the list item n at path into keys, a pointer to the
// struct of its keys; false when n is not a mapping.
func (d *decoder) namedItem(n *yaml.Node, path string, keys any) bool {
	d.Vals[path] = n
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, path, "must be a mapping")
		return false
	}
	d.DecodeStruct(n, reflect.ValueOf(keys).Elem(), path, nil, nil)
	return true
}

// itemName checks name, the name the list item n at path gives, and
// returns it; "" when it is missing, failed to decode, or bad says what is
// wrong with it.
func (d *decoder) itemName(n *yaml.Node, path, name string, bad func(string) string) string {
	npath := path + ".name"
	switch {
	case d.HasError(npath):
	case name == "":
		at := n
		if v := d.Vals[npath]; v != nil && !isNull(v) {
			at = v
		}
		d.Errorf(at, npath, "required")
	default:
		if msg := bad(name); msg != "" {
			d.Errorf(d.Locate(npath), npath, "%s", msg)
			return ""
		}
		return name
	}
	return ""
}

// badName says what is wrong with the name of a check, window or action,
// or "".
func badName(name string) string {
	if !checkNameRE.MatchString(name) {
		return `must match [a-z0-9][a-z0-9._-]* (lower-case letters, digits, ".", "_" and "-")`
	}
	return ""
}
