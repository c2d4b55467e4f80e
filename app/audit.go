package app

import (
	"context"
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/access"
	"github.com/nightowl/nightowl/audit"
	"github.com/nightowl/nightowl/audit/audited"
	"github.com/nightowl/nightowl/config"
)

// What people do is recorded in the audit log around the services the web
// layer and the command line call (package audited), rather than inside
// them.

// newAuditRecorder makes the recorder of the audit log over the store, and
// counts the checkpoints it refused.
func newAuditRecorder(s store, cfg *config.Config, clock nightowl.Clock, log *slog.Logger, reg prometheus.Registerer) (*audit.Recorder, error) {
	rec, err := audit.New(audit.Options{Store: s, Clock: clock, Logger: log, Signer: cfg.Audit.Signer})
	if err != nil {
		return nil, err
	}
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "nightowl_audit_checkpoint_refused_total",
		Help: "Times the head of the audit log was not signed because it does not continue the log signed before: it was cut or rewritten in the store.",
	}, func() float64 { return float64(rec.Refused()) }))
	return rec, nil
}

// Storage is the store of a config, opened for the commands that work on it
// directly, without a server: user, token and audit.
type Storage struct {
	store    store
	access   *access.Service
	recorder *audit.Recorder
	// Signer is the audit.signing_key of the config; nil without one.
	Signer *audit.Signer
}

// OpenStorage opens the store of the config at path.
func OpenStorage(ctx context.Context, path string) (_ *Storage, err error) {
	cfg, err := config.LoadContext(ctx, path, config.Options{})
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, cfg, nil, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			store.Close()
		}
	}()
	svc, err := access.New(access.Options{Store: store})
	if err != nil {
		return nil, err
	}
	rec, err := audit.New(audit.Options{Store: store, Signer: cfg.Audit.Signer})
	if err != nil {
		return nil, err
	}
	return &Storage{store: store, access: svc, recorder: rec, Signer: cfg.Audit.Signer}, nil
}

// Access returns the people and tokens service, recording every change as
// made by actor.
func (s *Storage) Access(actor string) *audited.Access {
	return &audited.Access{Service: s.access, Recorder: s.recorder, UserStore: s.store,
		Actor: func(context.Context) string { return actor }, Logger: slog.Default()}
}

// AuditLog returns the audit log, to list and verify.
func (s *Storage) AuditLog() nightowl.AuditStore { return s.store }

// Close signs a checkpoint of what the command appended to the audit log,
// if it appended anything and the config names a signing key, and closes
// the store.
func (s *Storage) Close() error {
	err := s.recorder.CheckpointOwn(context.Background())
	return errors.Join(err, s.store.Close())
}
