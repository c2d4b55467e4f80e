// Package contact keeps how people are reached: their own contact methods,
// each verified by a code that a test message to it carried, and their
// notification rules (push at once, SMS after five minutes). The alert
// manager asks it, through notify.People, whom an escalation step pages
// and how; the sender asks it for the receiver of a contact method.
package contact

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify"
	"github.com/nightowl/nightowl/notify/kit"
)

// Limits on what people give and how often a test message goes out.
const (
	// MaxMethods and MaxRules bound what one person keeps.
	MaxMethods = 20
	MaxRules   = 20
	// MaxAfter is the longest a rule may wait.
	MaxAfter = 24 * time.Hour
	// CodeTTL is how long a test message's code works, and MaxTries how
	// many wrong codes it takes before a new test message is needed.
	CodeTTL  = time.Hour
	MaxTries = 5
	// TestEvery is the least time between two test messages to one
	// method, and TestsPerHour how many one person may send in an hour:
	// a test message goes wherever its address says.
	TestEvery    = 30 * time.Second
	TestsPerHour = 10
	// SendTimeout bounds a test message, and lookupTimeout a read of the
	// store on the sender's behalf.
	SendTimeout   = 20 * time.Second
	lookupTimeout = 5 * time.Second
	maxAddress    = 512
	maxLabel      = 100
)

// Kind is a kind of contact method people may add: a receiver block with
// the address left out (notify.contacts).
type Kind struct {
	Name, Label string
	// Receiver is the receiver kind the block is, such as "webhook".
	Receiver string
	Spec     kit.Contact
	// Pattern, when set, is what an address that rides in the message
	// must match.
	Pattern *regexp.Regexp
}

// Gateway reports whether the kind sends to one gateway and the address
// rides in the message.
func (k *Kind) Gateway() bool { return k.Spec.AddressKey() == "" }

// Options configure a Service.
type Options struct {
	Store nightowl.ContactStore // required
	// Kinds returns the contact kinds the config offers now, and Deps
	// what their receivers need (the HTTP client, notify.smtp).
	Kinds  func() map[string]*Kind
	Deps   func() kit.Deps
	Clock  nightowl.Clock // nightowl.SystemClock when nil
	Logger *slog.Logger   // slog.Default() when nil
}

// Service manages contact methods and rules. It is safe for concurrent
// use.
type Service struct {
	opts Options
	mu   sync.Mutex
	// sent is, per user, when their recent test messages went out.
	sent map[string][]time.Time
}

// New returns a Service.
func New(opts Options) (*Service, error) {
	if opts.Store == nil || opts.Kinds == nil {
		return nil, nightowl.Errorf(nightowl.EInvalid, "contact methods: no store or kinds")
	}
	if opts.Deps == nil {
		opts.Deps = func() kit.Deps { return kit.Deps{} }
	}
	if opts.Clock == nil {
		opts.Clock = nightowl.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Service{opts: opts, sent: map[string][]time.Time{}}, nil
}

// Kinds lists the contact kinds people may add, by name.
func (s *Service) Kinds() []nightowl.ContactKind {
	var out []nightowl.ContactKind
	for _, k := range s.opts.Kinds() {
		addr := k.Spec.AddressKey()
		if addr == "" {
			addr = "to"
		}
		out = append(out, nightowl.ContactKind{Name: k.Name, Label: k.Label, Address: addr})
	}
	slices.SortFunc(out, func(a, b nightowl.ContactKind) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Store is the store the service keeps methods in.
func (s *Service) Store() nightowl.ContactStore { return s.opts.Store }

// Methods lists a user's contact methods.
func (s *Service) Methods(ctx context.Context, user string) ([]nightowl.ContactMethod, error) {
	return s.opts.Store.Contacts(ctx, user)
}

// method returns user's method id; another user's is not found.
func (s *Service) method(ctx context.Context, user, id string) (nightowl.ContactMethod, error) {
	c, err := s.opts.Store.Contact(ctx, id)
	if err == nil && c.User != user {
		err = nightowl.Errorf(nightowl.ENotFound, "no contact method %q", id)
	}
	return c, err
}

// checkAddress returns the receiver block of kind filled with address, or
// what is wrong with the address.
func checkAddress(k *Kind, address string) (kit.Contact, error) {
	if address == "" {
		return nil, nightowl.Errorf(nightowl.EInvalid, "address: required")
	}
	if len(address) > maxAddress || strings.IndexFunc(address, unicode.IsControl) >= 0 {
		return nil, nightowl.Errorf(nightowl.EInvalid, "address: must be at most %d characters, with no control characters", maxAddress)
	}
	if k.Gateway() {
		if strings.TrimSpace(address) != address {
			return nil, nightowl.Errorf(nightowl.EInvalid, "address: has leading or trailing spaces")
		}
		if k.Pattern != nil && !k.Pattern.MatchString(address) {
			return nil, nightowl.Errorf(nightowl.EInvalid, "address: not a valid %s address (must match %s)", k.Label, k.Pattern)
		}
	}
	spec, errs := kit.WithAddress(k.Spec, address)
	if len(errs) > 0 {
		// The receiver's own words, which never quote a secret.
		return nil, nightowl.Errorf(nightowl.EInvalid, "address: %s", errs[0].Message)
	}
	return spec, nil
}

// Add adds a contact method for user and sends it a test message with the
// code that verifies it. The method is kept even when the test message
// fails, so that it can be sent again; the error then says why it failed.
func (s *Service) Add(ctx context.Context, user, kind, address, label string) (nightowl.ContactMethod, error) {
	k := s.opts.Kinds()[kind]
	if k == nil {
		names := make([]string, 0)
		for _, ki := range s.Kinds() {
			names = append(names, ki.Name)
		}
		if len(names) == 0 {
			return nightowl.ContactMethod{}, nightowl.Errorf(nightowl.EInvalid, "kind: this server offers no contact kinds (notify.contacts)")
		}
		return nightowl.ContactMethod{}, nightowl.Errorf(nightowl.EInvalid, "kind: unknown contact kind %q (one of %s)", kind, strings.Join(names, ", "))
	}
	if _, err := checkAddress(k, address); err != nil {
		return nightowl.ContactMethod{}, err
	}
	if len(label) > maxLabel || strings.IndexFunc(label, unicode.IsControl) >= 0 {
		return nightowl.ContactMethod{}, nightowl.Errorf(nightowl.EInvalid, "label: must be at most %d characters, with no control characters", maxLabel)
	}
	have, err := s.opts.Store.Contacts(ctx, user)
	if err != nil {
		return nightowl.ContactMethod{}, err
	}
	if len(have) >= MaxMethods {
		return nightowl.ContactMethod{}, nightowl.Errorf(nightowl.EInvalid, "you have %d contact methods already, the most one person may keep", len(have))
	}
	c := nightowl.ContactMethod{ID: nightowl.NewID("c-", 8), User: user, Kind: kind, Label: label, Address: address,
		CreatedAt: s.opts.Clock.Now().UTC()}
	if err := s.opts.Store.SaveContact(ctx, &c); err != nil {
		return c, err
	}
	return s.sendTest(ctx, c)
}

// SendTest sends user's method id a new test message, whose code replaces
// any earlier one.
func (s *Service) SendTest(ctx context.Context, user, id string) (nightowl.ContactMethod, error) {
	c, err := s.method(ctx, user, id)
	if err != nil {
		return c, err
	}
	return s.sendTest(ctx, c)
}

// allowTest counts a test message to c, or says why it must wait.
func (s *Service) allowTest(c *nightowl.ContactMethod, now time.Time) error {
	if !c.CodeExpires.IsZero() && now.Before(c.CodeExpires.Add(-CodeTTL+TestEvery)) {
		return nightowl.Errorf(nightowl.ERateLimited, "a test message went to this contact method less than %s ago", nightowl.FormatDuration(TestEvery))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	recent := slices.DeleteFunc(s.sent[c.User], func(t time.Time) bool { return now.Sub(t) >= time.Hour })
	if len(recent) >= TestsPerHour {
		s.sent[c.User] = recent
		return nightowl.Errorf(nightowl.ERateLimited, "you sent %d test messages in the last hour, the most allowed", len(recent))
	}
	s.sent[c.User] = append(recent, now)
	return nil
}

func (s *Service) sendTest(ctx context.Context, c nightowl.ContactMethod) (nightowl.ContactMethod, error) {
	now := s.opts.Clock.Now().UTC()
	if err := s.allowTest(&c, now); err != nil {
		return c, err
	}
	code, err := newCode()
	if err != nil {
		return c, err
	}
	c.CodeHash, c.CodeExpires, c.CodeTries = codeHash(c.ID, code), now.Add(CodeTTL), 0
	if err := s.opts.Store.SaveContact(ctx, &c); err != nil {
		return c, err
	}
	n, err := s.notifier(&c, false)
	if err != nil {
		return c, err
	}
	msg := nightowl.Message{Kind: nightowl.MessageTest, IdempotencyKey: "test-" + c.ID + "-" + code,
		Alert: nightowl.Alert{ID: "test", Check: "contact method test", State: nightowl.AlertFiring, StartsAt: now,
			Cause: fmt.Sprintf("Your nightowl verification code is %s. Enter it where you added this contact method (%s) within %s, and nightowl will page you here. If you did not ask for this, ignore this message.",
				code, describe(&c), nightowl.FormatDuration(CodeTTL))}}
	sctx, cancel := context.WithTimeout(ctx, SendTimeout)
	defer cancel()
	if _, err := n.Notify(sctx, &msg); err != nil {
		s.opts.Logger.Warn("contact method test message failed", "user", c.User, "contact", c.ID, "kind", c.Kind, "err", err)
		// Receivers' errors never quote a secret (kit.Redact), and
		// say what the person must fix: a 404 from their webhook.
		return c, nightowl.Errorf(nightowl.EInvalid, "address: the test message failed: %s", err)
	}
	s.opts.Logger.Info("contact method test message sent", "user", c.User, "contact", c.ID, "kind", c.Kind)
	return c, nil
}

// describe names a method in its test message without its address, which
// may be a secret.
func describe(c *nightowl.ContactMethod) string {
	if c.Label != "" {
		return c.Kind + ", " + c.Label
	}
	return c.Kind
}

// Verify verifies user's method id with the code its test message
// carried.
func (s *Service) Verify(ctx context.Context, user, id, code string) (nightowl.ContactMethod, error) {
	c, err := s.method(ctx, user, id)
	if err != nil {
		return c, err
	}
	now := s.opts.Clock.Now().UTC()
	switch {
	case c.Verified():
		return c, nil
	case len(c.CodeHash) == 0 || c.CodeTries >= MaxTries:
		return c, nightowl.Errorf(nightowl.EInvalid, "code: no code is waiting for this contact method: send a new test message")
	case !now.Before(c.CodeExpires):
		return c, nightowl.Errorf(nightowl.EInvalid, "code: the code has expired: send a new test message")
	}
	if subtle.ConstantTimeCompare(codeHash(c.ID, strings.TrimSpace(code)), c.CodeHash) != 1 {
		c.CodeTries++
		if err := s.opts.Store.SaveContact(ctx, &c); err != nil {
			return c, err
		}
		return c, nightowl.Errorf(nightowl.EInvalid, "code: not the code of the last test message (%d tries left)", MaxTries-c.CodeTries)
	}
	c.VerifiedAt, c.CodeHash, c.CodeExpires, c.CodeTries = now, nil, time.Time{}, 0
	if err := s.opts.Store.SaveContact(ctx, &c); err != nil {
		return c, err
	}
	return c, nil
}

// Delete removes user's method id, and the rules that name it.
func (s *Service) Delete(ctx context.Context, user, id string) error {
	if _, err := s.method(ctx, user, id); err != nil {
		return err
	}
	return s.opts.Store.DeleteContact(ctx, id)
}

// Rules are user's notification rules.
func (s *Service) Rules(ctx context.Context, user string) ([]nightowl.NotificationRule, error) {
	rules, err := s.opts.Store.NotificationRules(ctx, user)
	if rules == nil {
		rules = []nightowl.NotificationRule{}
	}
	return rules, err
}

// SetRules replaces user's notification rules.
func (s *Service) SetRules(ctx context.Context, user string, rules []nightowl.NotificationRule) error {
	if len(rules) > MaxRules {
		return nightowl.Errorf(nightowl.EInvalid, "rules: at most %d", MaxRules)
	}
	for i, r := range rules {
		if r.Contact == "" {
			return nightowl.Errorf(nightowl.EInvalid, "rules[%d].contact: required", i)
		}
		if r.After < 0 || r.After > MaxAfter {
			return nightowl.Errorf(nightowl.EInvalid, "rules[%d].after: must be from 0 to %s", i, nightowl.FormatDuration(MaxAfter))
		}
	}
	err := s.opts.Store.SetNotificationRules(ctx, user, rules)
	if nightowl.ErrorCode(err) == nightowl.ENotFound {
		return nightowl.Errorf(nightowl.EInvalid, "rules: %s", nightowl.ErrorMessage(err))
	}
	return err
}

// Reach says how a page reaches user: by their rules, through those of
// their methods that are verified; with no rules, through every verified
// method at once.
func (s *Service) Reach(ctx context.Context, user string) ([]notify.Reach, error) {
	methods, err := s.opts.Store.Contacts(ctx, user)
	if err != nil {
		return nil, err
	}
	// The config's kinds are built afresh at each call: once is enough.
	kinds := s.opts.Kinds()
	verified := map[string]bool{}
	for _, c := range methods {
		if c.Verified() && kinds[c.Kind] != nil {
			verified[c.ID] = true
		}
	}
	rules, err := s.opts.Store.NotificationRules(ctx, user)
	if err != nil {
		return nil, err
	}
	if len(rules) == 0 {
		for _, c := range methods {
			rules = append(rules, nightowl.NotificationRule{Contact: c.ID})
		}
	}
	var out []notify.Reach
	for _, r := range rules {
		if verified[r.Contact] {
			out = append(out, notify.Reach{Receiver: notify.ContactPrefix + r.Contact, After: r.After})
		}
	}
	return out, nil
}

// Target returns the receiver of a contact method, by its ID in the
// outbox (notify.ContactPrefix and the method's ID), and its kind for
// metrics. ok is false for a method that is gone or not verified, or
// whose kind the config no longer offers.
func (s *Service) Target(receiver string) (kind string, n nightowl.Notifier, ok bool) {
	id, found := strings.CutPrefix(receiver, notify.ContactPrefix)
	if !found {
		return "", nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	c, err := s.opts.Store.Contact(ctx, id)
	if err != nil {
		if nightowl.ErrorCode(err) != nightowl.ENotFound {
			s.opts.Logger.Error("read contact method", "contact", id, "err", err)
		}
		return "", nil, false
	}
	n, err = s.notifier(&c, true)
	if err != nil {
		s.opts.Logger.Warn("contact method cannot be paged", "contact", id, "user", c.User, "err", err)
		return "", nil, false
	}
	return "contact/" + c.Kind, n, true
}

// notifier builds the receiver of c; verified asks that c be verified.
func (s *Service) notifier(c *nightowl.ContactMethod, verified bool) (nightowl.Notifier, error) {
	if verified && !c.Verified() {
		return nil, fmt.Errorf("contact method %s is not verified", c.ID)
	}
	k := s.opts.Kinds()[c.Kind]
	if k == nil {
		return nil, nightowl.Errorf(nightowl.EInvalid, "kind: this server no longer offers contact kind %q", c.Kind)
	}
	spec, err := checkAddress(k, c.Address)
	if err != nil {
		return nil, err
	}
	n, err := spec.Notifier(s.opts.Deps())
	if err != nil {
		return nil, err
	}
	if k.Gateway() {
		return to{n, c.Address}, nil
	}
	return n, nil
}

// to sends through a gateway with the person's address in the message.
type to struct {
	nightowl.Notifier
	address string
}

func (t to) Notify(ctx context.Context, m *nightowl.Message) (bool, error) {
	cp := *m
	cp.To = t.address
	return t.Notifier.Notify(ctx, &cp)
}

// newCode returns six random digits.
func newCode() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make a code: %w", err)
	}
	var n uint64
	for _, x := range b {
		n = n<<8 | uint64(x)
	}
	return fmt.Sprintf("%06d", n%1000000), nil
}

func codeHash(id, code string) []byte {
	h := sha256.Sum256([]byte(id + "\x00" + code))
	return h[:]
}
