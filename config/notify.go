package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/mail"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify"
	"github.com/nightowl/nightowl/notify/email"
	"github.com/nightowl/nightowl/notify/kit"
	"github.com/nightowl/nightowl/notify/receivers"
)

// Defaults of the notify section, as the sender and the alert manager
// apply them.
const (
	DefaultGiveUpAfter = notify.DefaultGiveUpAfter
	DefaultAckLinkTTL  = notify.DefaultAckLinkTTL
)

// minRepeat is the shortest escalation repeat: anything shorter is more
// likely a typo (30s for 30m) than a wish to page someone twice a minute,
// and would keep doing so all night.
const minRepeat = time.Minute

// The tls modes of notify.smtp, as notify/email reads them.
const (
	smtpSTARTTLS = "starttls"
	smtpTLS      = "tls"
	smtpNone     = "none"
)

// Notify is the notify section.
type Notify struct {
	// Receivers are the receiver groups by name, each in file order.
	Receivers map[string][]Receiver
	SMTP      *kit.SMTP // nil when the section has no smtp block
	Routes    []notify.Route
	// Escalations by name, steps sorted by After.
	Escalations map[string]*notify.Escalation
	// Contacts are the kinds of contact method people may add, by name.
	Contacts     map[string]*ContactKind
	SendResolved bool          // send_resolved, default true
	GiveUpAfter  time.Duration // give_up_after, default 24h
	AckLinkTTL   time.Duration // ack_link_ttl: how long a notification's acknowledgement link works, default 24h
}

// Receiver is one configured receiver.
type Receiver struct {
	// ID names the receiver in the outbox, logs and metrics: "GROUP[INDEX]",
	// such as "primary[1]".
	ID    string
	Group string
	Kind  string // a key of receivers.Kinds
	Spec  kit.Spec
	// Fingerprint is a hex SHA-256 of the decoded block, so a reload can tell
	// whether the receiver changed. An email receiver's also covers
	// notify.smtp, which it sends through.
	Fingerprint string
	Pos         Pos // where the list item begins in the file
}

// Receiver returns the receiver with the given ID, or nil.
func (n *Notify) Receiver(id string) *Receiver {
	group, _, ok := strings.Cut(id, "[")
	if !ok {
		return nil
	}
	list := n.Receivers[group]
	for i := range list {
		if list[i].ID == id {
			return &list[i]
		}
	}
	return nil
}

// notifyKeys is the shape of the notify section. Receivers and escalations
// are kept as nodes and decoded once the rest is known, since each checks
// names that another key defines.
type notifyKeys struct {
	Receivers    *yaml.Node     `yaml:"receivers"`
	Contacts     *yaml.Node     `yaml:"contacts"`
	SMTP         *kit.SMTP      `yaml:"smtp"`
	Routes       []notify.Route `yaml:"routes"`
	Escalations  *yaml.Node     `yaml:"escalations"`
	SendResolved bool           `yaml:"send_resolved"`
	GiveUpAfter  time.Duration  `yaml:"give_up_after"`
	AckLinkTTL   time.Duration  `yaml:"ack_link_ttl"`
}

// kindNames returns the receiver kinds, sorted, as messages list them.
func kindNames() []string {
	names := make([]string, 0, len(receivers.Kinds))
	for name := range receivers.Kinds {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// notify decodes the notify section; n is nil when the file has none, which
// is valid: alerts still open, and nobody is told.
func (d *decoder) notify(n *yaml.Node) Notify {
	k := notifyKeys{SendResolved: true, GiveUpAfter: DefaultGiveUpAfter, AckLinkTTL: DefaultAckLinkTTL}
	if n != nil {
		d.Decode(n, reflect.ValueOf(&k).Elem(), "notify")
	}
	out := Notify{SendResolved: k.SendResolved, GiveUpAfter: k.GiveUpAfter, AckLinkTTL: k.AckLinkTTL, SMTP: k.SMTP}
	if d.Bad("notify") {
		// Not a mapping.
		return out
	}
	d.positive("notify.give_up_after", out.GiveUpAfter)
	d.positive("notify.ack_link_ttl", out.AckLinkTTL)

	out.Receivers = d.receiverGroups(k.Receivers)
	d.smtp(out.SMTP, out.Receivers)
	out.Escalations = d.escalations(k.Escalations, out.Receivers)
	out.Contacts = d.contacts(k.Contacts, out.SMTP)
	out.Routes = k.Routes
	d.routes(out.Routes, out.Escalations, len(out.Receivers) > 0)

	for _, list := range out.Receivers {
		for i := range list {
			if list[i].Spec != nil {
				list[i].Fingerprint = d.receiverFingerprint(&list[i], out.SMTP)
			}
		}
	}
	return out
}

func receiverPath(group string, i int) string {
	return indexPath(joinPath("notify.receivers", group), i)
}

// receiverGroups decodes notify.receivers: group name → list of receivers.
func (d *decoder) receiverGroups(n *yaml.Node) map[string][]Receiver {
	const path = "notify.receivers"
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, path, "must be a mapping of group names to lists of receivers")
		return nil
	}
	kinds := kindNames()
	groups := map[string][]Receiver{}
	for _, p := range d.Pairs(n, path) {
		name := p.Key.Value
		gpath := joinPath(path, name)
		d.Keys[gpath] = p.Key
		if !checkNameRE.MatchString(name) {
			d.Errorf(p.Key, gpath, `group names must match [a-z0-9][a-z0-9._-]* (lower-case letters, digits, ".", "_" and "-")`)
		}
		v := resolve(p.Val)
		d.Vals[gpath] = v
		// The group counts as defined even when its list is wrong, so
		// that the steps naming it do not add errors of their own.
		groups[name] = nil
		switch {
		case isNull(v):
			d.Errorf(p.Key, gpath, "must list at least one receiver")
			continue
		case v.Kind != yaml.SequenceNode:
			d.Errorf(v, gpath, "must be a list of receivers, such as [{slack: {webhook_url: ...}}]")
			continue
		case len(v.Content) == 0:
			d.Errorf(v, gpath, "must list at least one receiver")
			continue
		}
		list := make([]Receiver, 0, len(v.Content))
		for i, item := range v.Content {
			list = append(list, d.receiver(resolve(item), name, i, kinds))
		}
		groups[name] = list
	}
	return groups
}

// receiver decodes one list item, a mapping of one kind to its block.
func (d *decoder) receiver(n *yaml.Node, group string, i int, kinds []string) Receiver {
	path := receiverPath(group, i)
	r := Receiver{ID: group + "[" + strconv.Itoa(i) + "]", Group: group, Pos: Pos{n.Line, n.Column}}
	d.Vals[path] = n
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, path, "must be a mapping of a receiver kind to its settings, such as {slack: {webhook_url: ...}}")
		return r
	}
	var blocks []pair
	for _, p := range d.Pairs(n, path) {
		kpath := joinPath(path, p.Key.Value)
		d.Keys[kpath] = p.Key
		if receivers.Kinds[p.Key.Value] == nil {
			d.Errorf(p.Key, kpath, "unknown receiver kind (valid: %s)", strings.Join(kinds, ", "))
			continue
		}
		blocks = append(blocks, p)
	}
	if len(blocks) == 0 {
		if !d.HasError(path) {
			d.Errorf(n, path, "one of %s is required", strings.Join(kinds, ", "))
		}
		return r
	}
	for _, b := range blocks[1:] {
		d.Errorf(b.Key, joinPath(path, b.Key.Value), "only one receiver per list item: make %s an item of its own", b.Key.Value)
	}
	r.Kind = blocks[0].Key.Value
	r.Spec = receivers.Kinds[r.Kind]()
	d.block(r.Spec, blocks[0].Val, joinPath(path, r.Kind))
	return r
}

// smtp applies the defaults of notify.smtp and checks it against the email
// receivers that send through it. What notify/email checks of its own block
// is left to its Validate.
func (d *decoder) smtp(s *kit.SMTP, groups map[string][]Receiver) {
	// The first email receiver that needs notify.smtp.from, for the
	// message; in file order, so that the message is stable.
	var needsFrom *Receiver
	for _, group := range sortedKeys(groups) {
		for i := range groups[group] {
			r := &groups[group][i]
			if r.Kind != "email" {
				continue
			}
			kpath := joinPath(receiverPath(group, i), r.Kind)
			if s == nil {
				d.Errorf(d.Keys[kpath], kpath, "needs notify.smtp, the mail server that email is sent through")
				continue
			}
			if c, ok := r.Spec.(*email.Config); ok && c.From == "" && (needsFrom == nil || before(r.Pos, needsFrom.Pos)) {
				needsFrom = r
			}
		}
	}
	if s == nil {
		return
	}
	const path = "notify.smtp"
	if d.Bad(path) {
		// Not a mapping.
		return
	}
	if s.Host == "" && !d.HasError(path+".host") {
		d.Errorf(d.Locate(path+".host"), path+".host", "required")
	}
	switch s.TLS {
	case "":
		s.TLS = smtpSTARTTLS
	case smtpSTARTTLS, smtpTLS, smtpNone:
	default:
		d.Errorf(d.Locate(path+".tls"), path+".tls", `must be "starttls", "tls" or "none"`)
	}
	ppath := path + ".port"
	if v := d.Vals[ppath]; v != nil && !isNull(v) {
		if !d.HasError(ppath) && (s.Port < 1 || s.Port > 65535) {
			d.Errorf(v, ppath, "must be between 1 and 65535")
		}
	} else if s.TLS == smtpTLS {
		// Implicit TLS has a port of its own; 587 would hang in the
		// handshake.
		s.Port = email.DefaultTLSPort
	} else {
		s.Port = email.DefaultPort
	}
	fpath := path + ".from"
	switch {
	case d.HasError(fpath):
	case s.From != "":
		if _, err := mail.ParseAddress(s.From); err != nil {
			d.Errorf(d.Locate(fpath), fpath, "not a valid address")
		}
	case needsFrom != nil:
		d.Errorf(d.Locate(fpath), fpath, "required unless every email receiver gives its own from (%s does not)", needsFrom.ID)
	}
}

func before(a, b Pos) bool {
	return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// defined lists names for a message about one that is not among them.
func defined(names []string, section string) string {
	if len(names) == 0 {
		return section + " defines none"
	}
	return "defined: " + strings.Join(names, ", ")
}

// escalations decodes notify.escalations and sorts each one's steps.
func (d *decoder) escalations(n *yaml.Node, groups map[string][]Receiver) map[string]*notify.Escalation {
	const path = "notify.escalations"
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, path, "must be a mapping of escalation names to steps and repeat")
		return nil
	}
	groupNames := sortedKeys(groups)
	out := map[string]*notify.Escalation{}
	for _, p := range d.Pairs(n, path) {
		epath := joinPath(path, p.Key.Value)
		d.Keys[epath] = p.Key
		e := &notify.Escalation{}
		// Defined even when wrong, so that the routes naming it do not
		// add errors of their own.
		out[p.Key.Value] = e
		d.Decode(p.Val, reflect.ValueOf(e).Elem(), epath)
		if d.Bad(epath) {
			// Not a mapping.
			continue
		}
		spath := epath + ".steps"
		if len(e.Steps) == 0 && !d.HasError(spath) {
			if v := d.Vals[spath]; v != nil && !isNull(v) {
				d.Errorf(v, spath, "must list at least one step")
			} else {
				d.Errorf(d.Locate(spath), spath, "required")
			}
		}
		for i, st := range e.Steps {
			stpath := indexPath(spath, i)
			npath, apath := stpath+".notify", stpath+".after"
			named := 0
			for _, v := range []string{st.Notify, st.Schedule, st.User} {
				if v != "" {
					named++
				}
			}
			switch {
			case d.HasError(npath) || d.HasError(stpath+".schedule") || d.HasError(stpath+".user"):
			case named == 0:
				at := d.Vals[stpath]
				if v := d.Vals[npath]; v != nil && !isNull(v) {
					at = v
				}
				d.Errorf(at, npath, "required: a receiver group, or schedule: or user: instead")
			case named > 1:
				d.Errorf(d.Vals[stpath], stpath, "names more than one of notify, schedule and user: a step notifies one")
			case st.Notify == "":
				// A schedule is checked once the schedules are read;
				// a user is one of the people the server keeps.
			case !hasKey(groups, st.Notify):
				d.Errorf(d.Locate(npath), npath, "unknown receiver group %s (%s)", st.Notify, defined(groupNames, "notify.receivers"))
			}
			if st.After < 0 && !d.HasError(apath) {
				d.Errorf(d.Locate(apath), apath, "must not be negative")
			}
		}
		rpath := epath + ".repeat"
		switch {
		case d.HasError(rpath):
		case e.Repeat < 0:
			d.Errorf(d.Locate(rpath), rpath, "must not be negative")
		case e.Repeat > 0 && e.Repeat < minRepeat:
			d.Errorf(d.Locate(rpath), rpath, "must be at least %s, or 0 to send the last step once", nightowl.FormatDuration(minRepeat))
		}
		e.Sort()
	}
	return out
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

// routes checks notify.routes against the escalations they name.
func (d *decoder) routes(routes []notify.Route, escalations map[string]*notify.Escalation, haveReceivers bool) {
	const path = "notify.routes"
	names := sortedKeys(escalations)
	for i, r := range routes {
		rpath := indexPath(path, i)
		for _, label := range sortedKeys(r.Match) {
			lpath := rpath + ".match." + label
			if !labelNameRE.MatchString(label) {
				d.Errorf(d.Keys[lpath], lpath, "label names must match [a-zA-Z_][a-zA-Z0-9_]*")
			}
		}
		for j, label := range r.GroupBy {
			gpath := indexPath(rpath+".group_by", j)
			if !labelNameRE.MatchString(label) && !d.HasError(gpath) {
				d.Errorf(d.Locate(gpath), gpath, "label names must match [a-zA-Z_][a-zA-Z0-9_]*")
			}
		}
		for _, k := range []string{"group_wait", "group_interval"} {
			kpath := rpath + "." + k
			v := r.GroupWait
			if k == "group_interval" {
				v = r.GroupInterval
			}
			if given := d.Vals[kpath]; given != nil && !isNull(given) && !d.HasError(kpath) && v < time.Second {
				d.Errorf(d.Locate(kpath), kpath, "must be at least 1s")
			}
		}
		epath := rpath + ".escalation"
		switch {
		case d.HasError(epath):
		case r.Escalation == "":
			at := d.Vals[rpath]
			if v := d.Vals[epath]; v != nil && !isNull(v) {
				at = v
			}
			d.Errorf(at, epath, "required")
		case !hasKey(escalations, r.Escalation):
			d.Errorf(d.Locate(epath), epath, "unknown escalation %s (%s)", r.Escalation, defined(names, "notify.escalations"))
		}
	}
	if haveReceivers && len(routes) == 0 && !d.HasError(path) {
		d.Errorf(d.Locate(path), path, "required when receivers are given: without a route no alert reaches a receiver")
	}
}

// receiverFingerprint hashes what the receiver's notifier is built from.
func (d *decoder) receiverFingerprint(r *Receiver, smtp *kit.SMTP) string {
	m := map[string]any{
		"kind": r.Kind,
		"spec": d.Canonical(reflect.ValueOf(r.Spec)),
	}
	if r.Kind == "email" {
		m["smtp"] = d.Canonical(reflect.ValueOf(smtp))
	}
	b, err := json.Marshal(m)
	if err != nil {
		// Unreachable, as for checks: hash the error rather than panic.
		b = []byte(fmt.Sprint(err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
