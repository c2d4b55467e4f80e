package app

import (
	"context"

	"github.com/nightowl/nightowl/access"
	"github.com/nightowl/nightowl/config"
)

// OpenAccess opens the store of the config at path for the commands that
// manage people and tokens. They work on the storage directly, so that the
// first admin needs no server (and no way into it) to be made; a server
// running on the same file sees the change at once.
func OpenAccess(ctx context.Context, path string) (*access.Service, func() error, error) {
	cfg, err := config.LoadContext(ctx, path, config.Options{})
	if err != nil {
		return nil, nil, err
	}
	store, err := openStore(ctx, cfg, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	svc, err := access.New(access.Options{Store: store})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return svc, store.Close, nil
}
