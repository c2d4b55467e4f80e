package nightowl

import (
	"context"
	"time"
)

// ContactMethod is one way to reach a person: an address of theirs (a
// mailbox, a phone number, a chat webhook, a chat id, a topic) on one of
// the contact kinds the config offers (notify.contacts). People add their
// own; a method is paged only once it is verified, by the code a test
// message to it carried.
type ContactMethod struct {
	ID   string `json:"id"`
	User string `json:"user"`
	// Kind is the name of a contact kind in notify.contacts.
	Kind  string `json:"kind"`
	Label string `json:"label,omitempty"`
	// Address is where messages go. It may be a secret (a Slack webhook
	// URL): only its owner sees it.
	Address    string    `json:"address"`
	CreatedAt  time.Time `json:"created_at"`
	VerifiedAt time.Time `json:"verified_at,omitzero"`
	// CodeHash is the SHA-256 of the code the last test message carried;
	// CodeExpires when it stops working, CodeTries the wrong codes given
	// since it was sent. Never shown.
	CodeHash    []byte    `json:"-"`
	CodeExpires time.Time `json:"-"`
	CodeTries   int       `json:"-"`
}

// Verified reports whether the method has been verified.
func (c *ContactMethod) Verified() bool { return !c.VerifiedAt.IsZero() }

// NotificationRule says how a person is told when an escalation step
// reaches them: by this contact method, After the step (0 for at once),
// unless the alert is acknowledged before.
type NotificationRule struct {
	Contact string        `json:"contact"`
	After   time.Duration `json:"after"`
}

// ContactKind is a kind of contact method as people choose it.
type ContactKind struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	// Address says what address the kind takes: the receiver's key
	// ("to", "webhook_url", "chat_id"), or "to" for a gateway that takes
	// a phone number.
	Address string `json:"address"`
}

// ContactStore keeps people's contact methods and notification rules. A
// user's go with them.
type ContactStore interface {
	// SaveContact creates or updates a contact method.
	SaveContact(ctx context.Context, c *ContactMethod) error
	Contact(ctx context.Context, id string) (ContactMethod, error)
	// Contacts lists a user's contact methods, oldest first.
	Contacts(ctx context.Context, user string) ([]ContactMethod, error)
	// DeleteContact removes a method, and the rules that name it.
	DeleteContact(ctx context.Context, id string) error
	// NotificationRules are a user's rules, in the order they gave them.
	NotificationRules(ctx context.Context, user string) ([]NotificationRule, error)
	// SetNotificationRules replaces a user's rules.
	SetNotificationRules(ctx context.Context, user string, rules []NotificationRule) error
}
