package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
)

var _ nightowl.IncidentStore = (*Store)(nil)

// SaveIncident creates or updates inc, with u when not nil, in one durable
// transaction: what people wrote during an outage must survive a crash.
func (s *Store) SaveIncident(ctx context.Context, inc *nightowl.Incident, u *nightowl.IncidentUpdate) error {
	rec, err := records.EncodeIncident(inc, u)
	if err != nil {
		return err
	}
	id, uid := inc.ID, int64(0)
	err = s.do(ctx, func() error {
		id, uid = inc.ID, 0
		return s.inTx(ctx, true, func(w *txWriter) error {
			if id == "" {
				// One writer: nothing can take the number between
				// reading the largest and inserting the next.
				err := w.queryRow(`INSERT INTO incidents (seq, id, state, created_at, resolved_at, data)
					SELECT n, ? || n, ?, ?, ?, ? FROM (SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM incidents)
					RETURNING id`,
					records.IncidentPrefix, string(inc.State), inc.CreatedAt.UnixNano(), nanos(inc.ResolvedAt), rec.Data).Scan(&id)
				if err != nil {
					return err
				}
			} else {
				// Written only over the version it was read at.
				n, err := w.execCount(`UPDATE incidents SET state = ?, resolved_at = ?, data = ?
					WHERE id = ? AND COALESCE(json_extract(CAST(data AS TEXT), '$.version'), 0) = ?`,
					string(inc.State), nanos(inc.ResolvedAt), rec.Data, id, rec.Was)
				if err != nil {
					return err
				}
				if n == 0 {
					var one int
					if err := w.queryRow(`SELECT 1 FROM incidents WHERE id = ?`, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
						return records.NotFound("incident", id)
					} else if err != nil {
						return err
					}
					return records.IncidentChanged(id)
				}
			}
			if u == nil {
				return nil
			}
			return w.queryRow(`INSERT INTO incident_updates (incident_id, time, by_name, public, state, impact, components, message)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
				id, u.Time.UnixNano(), u.By, u.Public, string(u.State), string(u.Impact), nullBytes(rec.Components), u.Message).Scan(&uid)
		})
	})
	if err != nil {
		return rec.Failed(err)
	}
	records.IncidentSaved(inc, rec, u, id, uid)
	return nil
}

// nullBytes is b, or NULL when b is nil.
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// Incident returns the incident with the given ID.
func (s *Store) Incident(ctx context.Context, id string) (nightowl.Incident, error) {
	row := s.rdb.QueryRowContext(ctx, `SELECT id, data FROM incidents WHERE id = ?`, id)
	inc, err := scanIncident(row)
	if errors.Is(err, sql.ErrNoRows) {
		return inc, records.NotFound("incident", id)
	}
	if err != nil {
		return inc, fmt.Errorf("read incident %s: %w", id, err)
	}
	return inc, nil
}

func scanIncident(sc interface{ Scan(...any) error }) (nightowl.Incident, error) {
	var id string
	var data []byte
	if err := sc.Scan(&id, &data); err != nil {
		return nightowl.Incident{}, err
	}
	return records.DecodeIncident(id, data)
}

// Incidents returns the incidents q selects, newest first.
func (s *Store) Incidents(ctx context.Context, q nightowl.IncidentQuery) ([]nightowl.Incident, error) {
	var where []string
	var args []any
	if q.Open {
		where = append(where, `state <> 'resolved'`)
	}
	if !q.Since.IsZero() {
		where = append(where, `(created_at >= ? OR resolved_at >= ?)`)
		args = append(args, q.Since.UnixNano(), q.Since.UnixNano())
	}
	if q.Published {
		where = append(where, `(json_extract(CAST(data AS TEXT), '$.published_at') IS NOT NULL
			OR EXISTS (SELECT 1 FROM incident_updates u WHERE u.incident_id = incidents.id AND u.public))`)
	}
	query := `SELECT id, data FROM incidents`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY created_at DESC, seq DESC LIMIT ?`
	args = append(args, sqlLimit(records.IncidentLimit(q)))
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read incidents: %w", err)
	}
	defer rows.Close()
	var out []nightowl.Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("read incidents: %w", err)
		}
		out = append(out, inc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read incidents: %w", err)
	}
	return out, nil
}

// Updates returns an incident's updates and notes, oldest first.
func (s *Store) Updates(ctx context.Context, incident string) ([]nightowl.IncidentUpdate, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, incident_id, time, by_name, public, state, impact, components, message
		FROM incident_updates WHERE incident_id = ? ORDER BY id`, incident)
	if err != nil {
		return nil, fmt.Errorf("read updates of incident %s: %w", incident, err)
	}
	defer rows.Close()
	var out []nightowl.IncidentUpdate
	for rows.Next() {
		var u nightowl.IncidentUpdate
		var at int64
		var comps []byte
		if err := rows.Scan(&u.ID, &u.IncidentID, &at, &u.By, &u.Public, &u.State, &u.Impact, &comps, &u.Message); err != nil {
			return nil, fmt.Errorf("read updates of incident %s: %w", incident, err)
		}
		u.Time = time.Unix(0, at).UTC()
		if err := records.DecodeComponents(&u, comps); err != nil {
			return nil, fmt.Errorf("read updates of incident %s: %w", incident, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read updates of incident %s: %w", incident, err)
	}
	return out, nil
}
