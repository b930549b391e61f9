package main

import (
	"context"
	"log/slog"

	"github.com/iprs/iprs/internal/store"
)

// watchedStore is an opened store whose failures are classified by its
// driver (store.Watch): an unreachable database answers 503 with
// Retry-After on every route, and each outage is logged once.
type watchedStore struct {
	*store.Watched
	schema interface {
		SchemaVersion(ctx context.Context) (int, error)
	}
}

func watch(st openedStore, classify store.Classifier, logger *slog.Logger) openedStore {
	return watchedStore{Watched: store.Watch(st, classify, logger), schema: st}
}

// SchemaVersion is the driver's.
func (w watchedStore) SchemaVersion(ctx context.Context) (int, error) {
	return w.schema.SchemaVersion(ctx)
}
