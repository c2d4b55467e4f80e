package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/records"
)

// SaveIncident creates or updates inc, with u when not nil, in one durable
// transaction: what people wrote during an outage must survive a crash. A
// new incident's number comes from the dialect's NewIncident; an update
// is written only over the version it was read at (of two writers at
// once, one waits for the other's lock, then finds the version moved on).
func (db *DB) SaveIncident(ctx context.Context, inc *nightowl.Incident, u *nightowl.IncidentUpdate) error {
	rec, err := records.EncodeIncident(inc, u)
	if err != nil {
		return err
	}
	var id string
	var uid int64
	err = db.write(ctx, true, func(tx Conn) error {
		id, uid = inc.ID, 0
		if id == "" {
			err := db.queryRow(ctx, tx, db.d.NewIncident,
				records.IncidentPrefix, string(inc.State), db.time(inc.CreatedAt), db.nullTime(inc.ResolvedAt), rec.Data).Scan(&id)
			if err != nil {
				return err
			}
		} else {
			n, err := db.exec(ctx, tx, `UPDATE incidents SET state = ?, resolved_at = ?, data = ?
				WHERE id = ? AND COALESCE(CAST(`+db.d.JSONField("data", "version")+` AS BIGINT), 0) = ?`,
				string(inc.State), db.nullTime(inc.ResolvedAt), rec.Data, id, rec.Was)
			if err != nil {
				return err
			}
			if n == 0 {
				var one int
				if err := db.queryRow(ctx, tx, `SELECT 1 FROM incidents WHERE id = ?`, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
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
		var comps any // NULL when the update leaves the components
		if rec.Components != nil {
			comps = string(rec.Components)
		}
		return db.queryRow(ctx, tx, `INSERT INTO incident_updates (incident_id, time, by_name, public, state, impact, components, message)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			id, db.time(u.Time), u.By, u.Public, string(u.State), string(u.Impact), comps, u.Message).Scan(&uid)
	})
	if err != nil {
		return rec.Failed(err)
	}
	records.IncidentSaved(inc, rec, u, id, uid)
	return nil
}

// Incident returns the incident with the given ID.
func (db *DB) Incident(ctx context.Context, id string) (nightowl.Incident, error) {
	inc, err := ScanIncident(db.queryRow(ctx, db.read, `SELECT id, data FROM incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return inc, records.NotFound("incident", id)
	}
	if err != nil {
		return inc, fmt.Errorf("read incident %s: %w", id, err)
	}
	return inc, nil
}

// ScanIncident reads an incident's id and data.
func ScanIncident(sc Scanner) (nightowl.Incident, error) {
	var id string
	var data []byte
	if err := sc.Scan(&id, &data); err != nil {
		return nightowl.Incident{}, err
	}
	return records.DecodeIncident(id, data)
}

// Incidents returns the incidents q selects, newest first.
func (db *DB) Incidents(ctx context.Context, q nightowl.IncidentQuery) ([]nightowl.Incident, error) {
	var w Where
	if q.Open {
		w.Add(`state <> 'resolved'`)
	}
	if !q.Since.IsZero() {
		w.Add(`(created_at >= ? OR resolved_at >= ?)`, db.time(q.Since), db.time(q.Since))
	}
	if q.Published {
		w.Add(`(` + db.d.JSONField("data", "published_at") + ` IS NOT NULL
			OR EXISTS (SELECT 1 FROM incident_updates u WHERE u.incident_id = incidents.id AND u.public))`)
	}
	rows, err := db.query(ctx, db.read, `SELECT id, data FROM incidents`+w.SQL()+` ORDER BY created_at DESC, seq DESC LIMIT ?`,
		append(w.Args, db.limit(records.IncidentLimit(q)))...)
	out, err := Collect(rows, err, ScanIncident)
	if err != nil {
		return nil, fmt.Errorf("read incidents: %w", err)
	}
	return out, nil
}

// Updates returns an incident's updates and notes, oldest first.
func (db *DB) Updates(ctx context.Context, incident string) ([]nightowl.IncidentUpdate, error) {
	rows, err := db.query(ctx, db.read, `SELECT id, incident_id, time, by_name, public, state, impact, components, message
		FROM incident_updates WHERE incident_id = ? ORDER BY id`, incident)
	out, err := Collect(rows, err, func(sc Scanner) (nightowl.IncidentUpdate, error) {
		var u nightowl.IncidentUpdate
		var comps []byte
		if err := sc.Scan(&u.ID, &u.IncidentID, At(&u.Time), &u.By, &u.Public, &u.State, &u.Impact, &comps, &u.Message); err != nil {
			return u, err
		}
		return u, records.DecodeComponents(&u, comps)
	})
	if err != nil {
		return nil, fmt.Errorf("read updates of incident %s: %w", incident, err)
	}
	return out, nil
}
