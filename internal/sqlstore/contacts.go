package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
)

// Contact methods and notification rules are written at once and durably,
// like users: they change when a person edits their own, and a method
// removed must not page them after a crash.

// SaveContact creates a contact method, or updates one of the same user.
func (db *DB) SaveContact(ctx context.Context, c *nightowl.ContactMethod) error {
	if c.ID == "" || c.User == "" || c.Kind == "" || c.Address == "" {
		return nightowl.Errorf(nightowl.EInvalid, "contact method %q needs an id, a user, a kind and an address", c.ID)
	}
	err := db.write(ctx, true, func(tx Conn) error {
		n, err := db.exec(ctx, tx, `INSERT INTO contact_methods (id, user_name, kind, label, address, created_at, verified_at, code_hash, code_expires, code_tries)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, label = excluded.label, address = excluded.address,
				verified_at = excluded.verified_at, code_hash = excluded.code_hash, code_expires = excluded.code_expires,
				code_tries = excluded.code_tries
			WHERE contact_methods.user_name = excluded.user_name`,
			c.ID, c.User, c.Kind, c.Label, c.Address, db.nullTime(c.CreatedAt), db.nullTime(c.VerifiedAt),
			c.CodeHash, db.nullTime(c.CodeExpires), c.CodeTries)
		switch {
		case db.d.Refusal(err) == records.ForeignKey:
			return records.NotFound("user", c.User)
		case err == nil && n == 0:
			return nightowl.Errorf(nightowl.EConflict, "another user has a contact method with the id %q", c.ID)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("save contact method %s: %w", c.ID, err)
	}
	return nil
}

const contactColumns = `id, user_name, kind, label, address, created_at, verified_at, code_hash, code_expires, code_tries`

func scanContact(sc Scanner) (nightowl.ContactMethod, error) {
	var c nightowl.ContactMethod
	err := sc.Scan(&c.ID, &c.User, &c.Kind, &c.Label, &c.Address, At(&c.CreatedAt), At(&c.VerifiedAt),
		&c.CodeHash, At(&c.CodeExpires), &c.CodeTries)
	return c, err
}

// Contact returns the contact method with the given id.
func (db *DB) Contact(ctx context.Context, id string) (nightowl.ContactMethod, error) {
	c, err := scanContact(db.queryRow(ctx, db.read, `SELECT `+contactColumns+` FROM contact_methods WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, records.NotFound("contact method", id)
	}
	if err != nil {
		return c, fmt.Errorf("read contact method %s: %w", id, err)
	}
	return c, nil
}

// Contacts lists a user's contact methods, oldest first.
func (db *DB) Contacts(ctx context.Context, user string) ([]nightowl.ContactMethod, error) {
	rows, err := db.query(ctx, db.read, `SELECT `+contactColumns+` FROM contact_methods WHERE user_name = ? ORDER BY created_at, id`, user)
	out, err := Collect(rows, err, scanContact)
	if err != nil {
		return nil, fmt.Errorf("read contact methods of %s: %w", user, err)
	}
	return out, nil
}

// DeleteContact removes a contact method; the foreign key takes the rules
// that name it, in the same transaction.
func (db *DB) DeleteContact(ctx context.Context, id string) error {
	err := db.write(ctx, true, func(tx Conn) error {
		n, err := db.exec(ctx, tx, `DELETE FROM contact_methods WHERE id = ?`, id)
		if err == nil && n == 0 {
			err = records.NotFound("contact method", id)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete contact method %s: %w", id, err)
	}
	return nil
}

// NotificationRules returns a user's rules in their order.
func (db *DB) NotificationRules(ctx context.Context, user string) ([]nightowl.NotificationRule, error) {
	rows, err := db.query(ctx, db.read, `SELECT contact_id, after_ms FROM notification_rules WHERE user_name = ? ORDER BY position`, user)
	out, err := Collect(rows, err, func(sc Scanner) (nightowl.NotificationRule, error) {
		var r nightowl.NotificationRule
		var ms int64
		err := sc.Scan(&r.Contact, &ms)
		r.After = time.Duration(ms) * time.Millisecond
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("read notification rules of %s: %w", user, err)
	}
	return out, nil
}

// SetNotificationRules replaces a user's rules in one transaction. Every
// rule must name a contact method of the user.
func (db *DB) SetNotificationRules(ctx context.Context, user string, rules []nightowl.NotificationRule) error {
	err := db.write(ctx, true, func(tx Conn) error {
		if _, err := db.exec(ctx, tx, `DELETE FROM notification_rules WHERE user_name = ?`, user); err != nil {
			return err
		}
		for i, r := range rules {
			var owner string
			err := db.queryRow(ctx, tx, `SELECT user_name FROM contact_methods WHERE id = ?`, r.Contact).Scan(&owner)
			if errors.Is(err, sql.ErrNoRows) || err == nil && owner != user {
				return records.NotFound("contact method", r.Contact)
			}
			if err != nil {
				return err
			}
			if _, err := db.exec(ctx, tx, `INSERT INTO notification_rules (user_name, position, contact_id, after_ms) VALUES (?, ?, ?, ?)`,
				user, i, r.Contact, r.After.Milliseconds()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save notification rules of %s: %w", user, err)
	}
	return nil
}
