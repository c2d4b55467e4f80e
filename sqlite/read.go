package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/checkstore"
)

// Reads of states, results, rollups and events see what has been written,
// not what is still queued: up to FlushInterval behind SaveResult and
// SaveState. Pings and heartbeats are read together with what is queued: a
// job's wrapper, or a person testing one with curl, expects to see its ping
// at once.

// States returns the current state of every check, by name.
func (s *Store) States(ctx context.Context) ([]nightowl.State, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT c.name, s.status, s.since, s.pending, s.streak,
		s.last_run, s.cause, s.runs, s.failures
		FROM states s JOIN checks c ON c.id = s.check_id ORDER BY c.name`)
	if err != nil {
		return nil, fmt.Errorf("read states: %w", err)
	}
	defer rows.Close()
	var out []nightowl.State
	for rows.Next() {
		var st nightowl.State
		var since, lastRun sql.NullInt64
		if err := rows.Scan(&st.Check, &st.Status, &since, &st.Pending, &st.Streak,
			&lastRun, &st.Cause, &st.Runs, &st.Fails); err != nil {
			return nil, fmt.Errorf("read states: %w", err)
		}
		st.Since, st.LastRun = fromNanos(since), fromNanos(lastRun)
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read states: %w", err)
	}
	return out, nil
}

// Results returns up to limit of the check's recent results, newest first;
// limit <= 0 means all that are kept.
func (s *Store) Results(ctx context.Context, check string, limit int) ([]nightowl.Result, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT due, start, ok, duration_ns, status, error, facts, assertions
		FROM results WHERE check_id = (SELECT id FROM checks WHERE name = ?)
		ORDER BY seq DESC LIMIT ?`, check, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("read results of %s: %w", check, err)
	}
	defer rows.Close()
	var out []nightowl.Result
	for rows.Next() {
		r := nightowl.Result{Check: check}
		var due, start sql.NullInt64
		var dur int64
		var facts, assertions []byte
		if err := rows.Scan(&due, &start, &r.OK, &dur, &r.Status, &r.Error, &facts, &assertions); err != nil {
			return nil, fmt.Errorf("read results of %s: %w", check, err)
		}
		r.Due, r.Start = fromNanos(due), fromNanos(start)
		r.Duration = nightowl.Seconds(dur)
		if err := checkstore.DecodeResult(&r, facts, assertions); err != nil {
			return nil, fmt.Errorf("read results of %s: %w", check, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read results of %s: %w", check, err)
	}
	return out, nil
}

// Events returns up to limit events of a check, or of every check when check
// is "", newest first; limit <= 0 means all.
func (s *Store) Events(ctx context.Context, check string, limit int) ([]nightowl.Event, error) {
	query := `SELECT e.id, c.name, e.time, e.kind, e.from_status, e.to_status, e.cause
		FROM events e JOIN checks c ON c.id = e.check_id`
	args := []any{}
	if check != "" {
		query += ` WHERE e.check_id = (SELECT id FROM checks WHERE name = ?)`
		args = append(args, check)
	}
	query += ` ORDER BY e.time DESC, e.id DESC LIMIT ?`
	args = append(args, sqlLimit(limit))
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	var out []nightowl.Event
	for rows.Next() {
		var e nightowl.Event
		var at int64
		if err := rows.Scan(&e.ID, &e.Check, &at, &e.Kind, &e.From, &e.To, &e.Cause); err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		e.Time = time.Unix(0, at).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

// Rollups returns the check's rollups of period p, oldest first, from the
// one that contains since.
func (s *Store) Rollups(ctx context.Context, check string, p nightowl.Period, since time.Time) ([]nightowl.Rollup, error) {
	period, err := checkstore.PeriodSecs(p)
	if err != nil {
		return nil, err
	}
	from := since.Truncate(time.Duration(period) * time.Second).Unix()
	rows, err := s.rdb.QueryContext(ctx, `SELECT start, runs, failures, max_ns, hist FROM rollups
		WHERE check_id = (SELECT id FROM checks WHERE name = ?) AND period = ? AND start >= ?
		ORDER BY start`, check, period, from)
	if err != nil {
		return nil, fmt.Errorf("read rollups of %s: %w", check, err)
	}
	defer rows.Close()
	var out []nightowl.Rollup
	for rows.Next() {
		var start, runs, failures, top int64
		var blob []byte
		if err := rows.Scan(&start, &runs, &failures, &top, &blob); err != nil {
			return nil, fmt.Errorf("read rollups of %s: %w", check, err)
		}
		out = append(out, checkstore.Rollup(check, p, time.Unix(start, 0), runs, failures, top, blob))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read rollups of %s: %w", check, err)
	}
	return out, nil
}

// Pings returns up to limit of the check's recent pings, newest first,
// including those not written yet; limit <= 0, or above PingsPerCheck, means
// all that are kept.
func (s *Store) Pings(ctx context.Context, check string, limit int) ([]nightowl.Ping, error) {
	if limit <= 0 || limit > s.opts.PingsPerCheck {
		limit = s.opts.PingsPerCheck
	}
	// Held from the look at memory to the end of the read, so that a
	// commit cannot move pings from the one to the other in between.
	s.commitMu.RLock()
	defer s.commitMu.RUnlock()
	out := s.q.Pings(check, limit)
	if len(out) == limit {
		return out, nil
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT time, kind, exit_code, rid, duration_ns, method,
		COALESCE(body, ''), truncated, user_agent, remote
		FROM pings WHERE check_id = (SELECT id FROM checks WHERE name = ?)
		ORDER BY seq DESC LIMIT ?`, check, limit-len(out))
	if err != nil {
		return nil, fmt.Errorf("read pings of %s: %w", check, err)
	}
	defer rows.Close()
	for rows.Next() {
		p := nightowl.Ping{Check: check}
		var at int64
		var code, dur sql.NullInt64
		if err := rows.Scan(&at, &p.Kind, &code, &p.RID, &dur, &p.Method,
			&p.Body, &p.Truncated, &p.UserAgent, &p.Remote); err != nil {
			return nil, fmt.Errorf("read pings of %s: %w", check, err)
		}
		p.Time = time.Unix(0, at).UTC()
		p.ExitCode, p.Duration = intFrom(code), durationFrom(dur)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read pings of %s: %w", check, err)
	}
	return out, nil
}

// Heartbeats returns the state of every heartbeat check, by name: what is
// stored, updated with what is queued.
func (s *Store) Heartbeats(ctx context.Context) ([]nightowl.Heartbeat, error) {
	// Memory first, then disk, and memory wins (see WithQueued). No lock
	// is needed, which matters: with a million checks this read takes
	// seconds, and the writer must not wait for it.
	mem := s.q.Heartbeats()

	rows, err := s.rdb.QueryContext(ctx, `SELECT c.name, COALESCE(h.token, ''), h.last_ping, h.last_success,
		h.started, h.last_duration_ns, h.exit_code, h.failed, h.since
		FROM heartbeats h JOIN checks c ON c.id = h.check_id ORDER BY c.name`)
	if err != nil {
		return nil, fmt.Errorf("read heartbeats: %w", err)
	}
	defer rows.Close()
	var out []nightowl.Heartbeat
	for rows.Next() {
		var h nightowl.Heartbeat
		var lastPing, lastSuccess, dur, code, since sql.NullInt64
		var started sql.NullString
		if err := rows.Scan(&h.Check, &h.Token, &lastPing, &lastSuccess, &started, &dur, &code,
			&h.Failed, &since); err != nil {
			return nil, fmt.Errorf("read heartbeats: %w", err)
		}
		if q, ok := mem[h.Check]; ok {
			out = append(out, q)
			delete(mem, h.Check)
			continue
		}
		h.LastPing, h.LastSuccess, h.Since = fromNanos(lastPing), fromNanos(lastSuccess), fromNanos(since)
		h.LastDuration, h.ExitCode = durationFrom(dur), intFrom(code)
		if started.Valid {
			if h.Started, err = checkstore.DecodeStarted(started.String); err != nil {
				return nil, fmt.Errorf("read heartbeats: started runs of %s: %w", h.Check, err)
			}
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read heartbeats: %w", err)
	}
	return checkstore.WithQueued(out, mem), nil
}

func intFrom(n sql.NullInt64) *int {
	if !n.Valid {
		return nil
	}
	v := int(n.Int64)
	return &v
}

func durationFrom(n sql.NullInt64) *nightowl.Seconds {
	if !n.Valid {
		return nil
	}
	v := nightowl.Seconds(n.Int64)
	return &v
}

// sqlLimit turns "no limit" into SQLite's LIMIT -1.
func sqlLimit(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}
