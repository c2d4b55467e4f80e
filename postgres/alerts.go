package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
	"github.com/nightowl/nightowl/internal/sqlstore"
)

// Alerts and notifications are written at once, each change in its own
// transaction: what a change promises (someone will be told) must be on
// disk before the caller goes on. Every node's sender claims from the one
// outbox; row locks taken with SKIP LOCKED hand each notification to one.

var _ nightowl.AlertStore = (*Store)(nil)

// SaveAlert writes a and queues out in one transaction, as a
// compare-and-set on a's version (see nightowl.AlertStore). Of nodes
// updating one alert at once, the first takes the row's lock; the others
// wait for it to commit, then find the version moved and change nothing.
func (s *Store) SaveAlert(ctx context.Context, a *nightowl.Alert, out []nightowl.Notification) error {
	err := records.SaveAlert(a, out, func(rec records.Alert, from int64) (changed int64, ids []int64, err error) {
		err = s.write(ctx, true, func(tx sqlstore.Conn) error {
			changed, ids, err = sqlstore.WriteAlert(ctx, s.DB, tx, a, from, rec, out)
			return err
		})
		return changed, ids, err
	})
	if err != nil && nightowl.ErrorCode(err) == nightowl.EInternal {
		return fmt.Errorf("save alert %s: %w", a.ID, err)
	}
	return err
}

// ClaimNotifications leases up to limit due notifications to owner. The
// rows are chosen and locked with SKIP LOCKED and leased in the same
// statement: a node claiming at the same moment passes over the rows this
// one is taking rather than waiting for them, and a row this one leased and
// committed no longer matches when another node's scan reaches it, since
// PostgreSQL checks a locked row's condition again on its newest version.
// So each notification is claimed by one node.
func (s *Store) ClaimNotifications(ctx context.Context, owner string, now time.Time, limit int, lease time.Duration) ([]nightowl.Notification, error) {
	if limit == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `WITH due AS (
			SELECT id FROM outbox
			WHERE state = 'pending' AND next_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)
			ORDER BY next_at, id LIMIT $2
			FOR UPDATE SKIP LOCKED)
		UPDATE outbox SET claimed_by = $3, claimed_until = $4, attempts = attempts + 1
		FROM due WHERE outbox.id = due.id
		RETURNING `+recQualify("outbox", sqlstore.NotificationColumns),
		now, recLimit(limit), owner, now.Add(lease))
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	out, err := sqlstore.Collect(sqlstore.Rows(rows), nil, sqlstore.ScanNotification)
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	// RETURNING keeps no order: the oldest due first, as promised.
	slices.SortFunc(out, func(a, b nightowl.Notification) int {
		if c := a.NextAt.Compare(b.NextAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// recQualify prefixes each of a list of columns with a table's name.
func recQualify(table, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = table + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}
