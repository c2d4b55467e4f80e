package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
)

// Second factors and recovery codes are written at once and durably, like
// users and tokens: a removed factor or a used recovery code must stay so
// after a crash.

// SaveFactor creates a factor, or updates the name, secret and times of
// one. A factor never changes hands: saving one whose ID another user's
// factor has is a conflict.
func (db *DB) SaveFactor(ctx context.Context, f *nightowl.Factor) error {
	if f.ID == "" || f.User == "" || f.Kind == "" || len(f.Secret) == 0 {
		return nightowl.Errorf(nightowl.EInvalid, "a second factor needs an id, a user, a kind and a secret")
	}
	err := db.write(ctx, true, func(tx Conn) error {
		n, err := db.exec(ctx, tx, `INSERT INTO second_factors (id, user_name, kind, name, secret, created_at, confirmed_at, last_used, last_step)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, secret = excluded.secret,
				confirmed_at = excluded.confirmed_at, last_used = excluded.last_used, last_step = excluded.last_step
			WHERE second_factors.user_name = excluded.user_name`,
			f.ID, f.User, f.Kind, f.Name, f.Secret, db.nullTime(f.CreatedAt), db.nullTime(f.ConfirmedAt), db.nullTime(f.LastUsed), f.LastStep)
		if err == nil && n == 0 {
			return nightowl.Errorf(nightowl.EConflict, "another user has a second factor %s", f.ID)
		}
		if err != nil && db.d.Refusal(err) == records.ForeignKey {
			return records.NotFound("user", f.User)
		}
		return err
	})
	if err != nil {
		// Never the secret.
		return fmt.Errorf("save second factor %s of %s: %w", f.ID, f.User, err)
	}
	return nil
}

const factorColumns = `id, user_name, kind, name, secret, created_at, confirmed_at, last_used, last_step`

func scanFactor(sc Scanner) (nightowl.Factor, error) {
	var f nightowl.Factor
	err := sc.Scan(&f.ID, &f.User, &f.Kind, &f.Name, &f.Secret, At(&f.CreatedAt), At(&f.ConfirmedAt), At(&f.LastUsed), &f.LastStep)
	return f, err
}

// Factors lists a user's second factors, oldest first.
func (db *DB) Factors(ctx context.Context, user string) ([]nightowl.Factor, error) {
	rows, err := db.query(ctx, db.read, `SELECT `+factorColumns+` FROM second_factors WHERE user_name = ? ORDER BY created_at, id`, user)
	out, err := Collect(rows, err, scanFactor)
	if err != nil {
		return nil, fmt.Errorf("read second factors of %s: %w", user, err)
	}
	return out, nil
}

// DeleteFactor removes a user's second factor.
func (db *DB) DeleteFactor(ctx context.Context, user, id string) error {
	err := db.write(ctx, true, func(tx Conn) error {
		n, err := db.exec(ctx, tx, `DELETE FROM second_factors WHERE user_name = ? AND id = ?`, user, id)
		if err == nil && n == 0 {
			err = records.NotFound("second factor", id)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete second factor %s of %s: %w", id, user, err)
	}
	return nil
}

// UseFactorStep takes a TOTP code of time step step, compare-and-set: only
// when no code of that step or a later one was taken.
func (db *DB) UseFactorStep(ctx context.Context, id string, step int64, at time.Time) error {
	err := db.write(ctx, true, func(tx Conn) error {
		n, err := db.exec(ctx, tx, `UPDATE second_factors SET last_step = ?, last_used = ? WHERE id = ? AND last_step < ?`,
			step, db.nullTime(at), id, step)
		if err == nil && n == 0 {
			err = nightowl.Errorf(nightowl.EConflict, "that code was used already: wait for the next one")
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("use second factor %s: %w", id, err)
	}
	return nil
}

// SetRecoveryCodes replaces a user's recovery codes, in one transaction.
func (db *DB) SetRecoveryCodes(ctx context.Context, user string, hashes [][]byte, at time.Time) error {
	err := db.write(ctx, true, func(tx Conn) error {
		if _, err := db.exec(ctx, tx, `DELETE FROM recovery_codes WHERE user_name = ?`, user); err != nil {
			return err
		}
		for _, h := range hashes {
			_, err := db.exec(ctx, tx, `INSERT INTO recovery_codes (user_name, hash, created_at) VALUES (?, ?, ?)`, user, h, db.nullTime(at))
			if err != nil && db.d.Refusal(err) == records.ForeignKey {
				return records.NotFound("user", user)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set recovery codes of %s: %w", user, err)
	}
	return nil
}

// UseRecoveryCode marks a recovery code used, compare-and-set: a code is
// good once, however many nodes try it at the same moment.
func (db *DB) UseRecoveryCode(ctx context.Context, user string, hash []byte, at time.Time) error {
	err := db.write(ctx, true, func(tx Conn) error {
		n, err := db.exec(ctx, tx, `UPDATE recovery_codes SET used_at = ? WHERE user_name = ? AND hash = ? AND used_at IS NULL`,
			db.nullTime(at), user, hash)
		if err == nil && n == 0 {
			err = records.NoSuch("recovery code")
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("use a recovery code of %s: %w", user, err)
	}
	return nil
}

// RecoveryCodesLeft counts a user's unused recovery codes.
func (db *DB) RecoveryCodesLeft(ctx context.Context, user string) (int, error) {
	var n int
	if err := db.queryRow(ctx, db.read, `SELECT COUNT(*) FROM recovery_codes WHERE user_name = ? AND used_at IS NULL`, user).Scan(&n); err != nil {
		return 0, fmt.Errorf("count recovery codes of %s: %w", user, err)
	}
	return n, nil
}
