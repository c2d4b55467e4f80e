package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
)

var _ nightowl.IncidentStore = (*Store)(nil)

// SaveIncident creates or updates inc, with u when not nil, in one
// transaction. A new incident's number comes from the counter row, bumped in
// the same transaction: nodes opening incidents at once take turns on its
// lock, and each gets the next number.
func (s *Store) SaveIncident(ctx context.Context, inc *nightowl.Incident, u *nightowl.IncidentUpdate) error {
	rec, err := records.EncodeIncident(inc, u)
	if err != nil {
		return err
	}
	var id string
	var uid int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		id, uid = inc.ID, 0
		if id == "" {
			err := tx.QueryRow(ctx, `WITH n AS (UPDATE incident_counter SET last = last + 1 WHERE id = 1 RETURNING last)
				INSERT INTO incidents (seq, id, state, created_at, resolved_at, data)
				SELECT n.last, $1::text || n.last, $2, $3, $4, $5 FROM n
				RETURNING id`,
				records.IncidentPrefix, string(inc.State), inc.CreatedAt, recTime(inc.ResolvedAt), rec.Data).Scan(&id)
			if err != nil {
				return err
			}
		} else {
			// Written only over the version it was read at: of two
			// nodes that change it at once, one waits for the other's
			// row lock, then finds the version moved on.
			tag, err := tx.Exec(ctx, `UPDATE incidents SET state = $1, resolved_at = $2, data = $3
				WHERE id = $4 AND COALESCE((data->>'version')::bigint, 0) = $5`,
				string(inc.State), recTime(inc.ResolvedAt), rec.Data, id, rec.Was)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				var one int
				if err := tx.QueryRow(ctx, `SELECT 1 FROM incidents WHERE id = $1`, id).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
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
		var c any
		if rec.Components != nil {
			c = rec.Components
		}
		return tx.QueryRow(ctx, `INSERT INTO incident_updates (incident_id, time, by_name, public, state, impact, components, message)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			id, u.Time, u.By, u.Public, string(u.State), string(u.Impact), c, u.Message).Scan(&uid)
	})
	if err != nil {
		return rec.Failed(err)
	}
	records.IncidentSaved(inc, rec, u, id, uid)
	return nil
}

func recScanIncident(r pgx.CollectableRow) (nightowl.Incident, error) {
	var id string
	var data []byte
	if err := r.Scan(&id, &data); err != nil {
		return nightowl.Incident{}, err
	}
	return records.DecodeIncident(id, data)
}

// Incident returns the incident with the given ID.
func (s *Store) Incident(ctx context.Context, id string) (nightowl.Incident, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, data FROM incidents WHERE id = $1`, id)
	if err != nil {
		return nightowl.Incident{}, fmt.Errorf("read incident %s: %w", id, err)
	}
	inc, err := pgx.CollectOneRow(rows, recScanIncident)
	if errors.Is(err, pgx.ErrNoRows) {
		return inc, records.NotFound("incident", id)
	}
	if err != nil {
		return inc, fmt.Errorf("read incident %s: %w", id, err)
	}
	return inc, nil
}

// Incidents returns the incidents q selects, newest first.
func (s *Store) Incidents(ctx context.Context, q nightowl.IncidentQuery) ([]nightowl.Incident, error) {
	var w recWhere
	if q.Open {
		w.add(`state <> 'resolved'`)
	}
	if !q.Since.IsZero() {
		since := w.arg(q.Since)
		w.add(`(created_at >= ` + since + ` OR resolved_at >= ` + since + `)`)
	}
	if q.Published {
		w.add(`(data->>'published_at' IS NOT NULL
			OR EXISTS (SELECT 1 FROM incident_updates u WHERE u.incident_id = incidents.id AND u.public))`)
	}
	rows, err := s.pool.Query(ctx, `SELECT id, data FROM incidents`+w.sql()+
		` ORDER BY created_at DESC, seq DESC LIMIT `+w.arg(recLimit(records.IncidentLimit(q))), w.args...)
	if err != nil {
		return nil, fmt.Errorf("read incidents: %w", err)
	}
	out, err := recCollect(rows, recScanIncident)
	if err != nil {
		return nil, fmt.Errorf("read incidents: %w", err)
	}
	return out, nil
}

// Updates returns an incident's updates and notes, oldest first.
func (s *Store) Updates(ctx context.Context, incident string) ([]nightowl.IncidentUpdate, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, incident_id, time, by_name, public, state, impact, components, message
		FROM incident_updates WHERE incident_id = $1 ORDER BY id`, incident)
	if err != nil {
		return nil, fmt.Errorf("read updates of incident %s: %w", incident, err)
	}
	out, err := recCollect(rows, func(r pgx.CollectableRow) (nightowl.IncidentUpdate, error) {
		var u nightowl.IncidentUpdate
		var state, impact string
		var comps []byte
		if err := r.Scan(&u.ID, &u.IncidentID, &u.Time, &u.By, &u.Public, &state, &impact, &comps, &u.Message); err != nil {
			return u, err
		}
		u.Time = u.Time.UTC()
		u.State, u.Impact = nightowl.IncidentState(state), nightowl.Impact(impact)
		return u, records.DecodeComponents(&u, comps)
	})
	if err != nil {
		return nil, fmt.Errorf("read updates of incident %s: %w", incident, err)
	}
	return out, nil
}
