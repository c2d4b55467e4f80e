package config

import (
	"reflect"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/nightowl/nightowl/notify/kit"
	"github.com/nightowl/nightowl/notify/receivers"
)

// ContactKind is a kind of contact method people may add for themselves
// (notify.contacts): a receiver block with the address left out, which
// each person's method fills with theirs.
type ContactKind struct {
	Name string
	// Label is how people see the kind ("Phone (SMS)"); the name when
	// not given.
	Label string
	// Receiver is the receiver kind, a key of receivers.Kinds, and Spec
	// its block.
	Receiver string
	Spec     kit.Contact
	// Pattern, when set, is what an address must match, anchored at both
	// ends: for addresses the receiver cannot check itself, such as the
	// phone numbers a gateway takes.
	Pattern *regexp.Regexp
	Pos     Pos
}

// contactKinds lists the receiver kinds a contact kind may be built on.
func contactKinds() []string {
	var out []string
	for _, name := range kindNames() {
		if _, ok := receivers.Kinds[name]().(kit.Contact); ok {
			out = append(out, name)
		}
	}
	return out
}

// contacts decodes notify.contacts: a mapping of kind names to blocks of
// label, pattern and exactly one receiver kind.
func (d *decoder) contacts(n *yaml.Node, smtp *kit.SMTP) map[string]*ContactKind {
	const path = "notify.contacts"
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, path, "must be a mapping of contact kinds to a receiver, such as {phone: {label: Phone, webhook: {url: ...}}}")
		return nil
	}
	kinds := contactKinds()
	out := map[string]*ContactKind{}
	for _, p := range d.Pairs(n, path) {
		name := p.Key.Value
		kpath := joinPath(path, name)
		d.Keys[kpath] = p.Key
		d.Vals[kpath] = p.Val
		if !checkNameRE.MatchString(name) {
			d.Errorf(p.Key, kpath, "a contact kind's name is lower-case letters, digits, '.', '-' and '_'")
			continue
		}
		ck := &ContactKind{Name: name, Label: name, Pos: Pos{p.Key.Line, p.Key.Column}}
		if p.Val.Kind != yaml.MappingNode {
			d.Errorf(p.Val, kpath, "must be a mapping of label, pattern and one receiver kind, such as {email: {}}")
			continue
		}
		var block *pair
		for _, f := range d.Pairs(p.Val, kpath) {
			fpath := joinPath(kpath, f.Key.Value)
			d.Keys[fpath] = f.Key
			d.Vals[fpath] = f.Val
			switch k := f.Key.Value; {
			case k == "label":
				if f.Val.Kind != yaml.ScalarNode || strings.TrimSpace(f.Val.Value) == "" {
					d.Errorf(f.Val, fpath, "must be a non-empty string")
					continue
				}
				ck.Label = f.Val.Value
			case k == "pattern":
				re, err := regexp.Compile(`^(?:` + f.Val.Value + `)$`)
				if f.Val.Kind != yaml.ScalarNode || err != nil {
					d.Errorf(f.Val, fpath, "must be a regular expression")
					continue
				}
				ck.Pattern = re
			case slices.Contains(kinds, k):
				if block != nil {
					d.Errorf(f.Key, fpath, "only one receiver per contact kind")
					continue
				}
				block = &pair{Key: f.Key, Val: f.Val}
			case receivers.Kinds[k] != nil:
				d.Errorf(f.Key, fpath, "%s reaches a service, not a person: a contact kind is one of %s", k, strings.Join(kinds, ", "))
			default:
				d.Errorf(f.Key, fpath, "unknown key (valid: label, pattern, and one of %s)", strings.Join(kinds, ", "))
			}
		}
		if block == nil {
			if !d.HasError(kpath) {
				d.Errorf(p.Val, kpath, "needs a receiver: one of %s", strings.Join(kinds, ", "))
			}
			continue
		}
		ck.Receiver = block.Key.Value
		ck.Spec = receivers.Kinds[ck.Receiver]().(kit.Contact)
		bpath := joinPath(kpath, ck.Receiver)
		d.Decode(block.Val, reflect.ValueOf(ck.Spec), bpath)
		if d.Bad(bpath) {
			continue
		}
		d.fieldErrors(bpath, kit.WithoutAddress(ck.Spec))
		if ck.Receiver == "email" && smtp == nil {
			d.Errorf(block.Key, bpath, "needs notify.smtp, the mail server that email is sent through")
		}
		if ck.Pattern != nil && ck.Spec.AddressKey() != "" {
			d.Errorf(d.Keys[joinPath(kpath, "pattern")], joinPath(kpath, "pattern"),
				"only for a receiver that sends to a gateway (a webhook with a url, a command): %s checks its own addresses", ck.Receiver)
		}
		out[name] = ck
	}
	return out
}
