package orchestrator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/canon"
	"github.com/iprs/iprs/internal/store"
)

// PublishHashVersion is the first line of the publish hash input; it names
// the recipe (see the package documentation).
const PublishHashVersion = "iprs-publish-v1"

// publishRun publishes a COMPLETED run: it computes the publish hash and
// records it. Any other status, PUBLISHED included, is a Conflict.
func (s *Service) publishRun(ctx context.Context, id string) (*store.Run, error) {
	run, err := s.store.RunGet(ctx, id)
	if err != nil {
		return nil, err
	}
	switch run.Status {
	case store.RunCompleted:
	case store.RunPublished:
		return nil, apperr.Errorf(apperr.Conflict, "run %s is already published (publish_hash %s)", run.ID, run.PublishHash)
	default:
		return nil, apperr.Errorf(apperr.Conflict, "run %s is %s; only a COMPLETED run can be published", run.ID, run.Status)
	}
	sum, err := s.PublishHash(ctx, run)
	if err != nil {
		return nil, err
	}
	published, err := s.store.RunPublish(ctx, store.RunPublishParams{RunID: run.ID, PublishHash: sum, PublishedAt: s.now()})
	if err != nil {
		if apperr.CodeOf(err) == apperr.Conflict || errors.Is(err, apperr.ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("publish run %s: %w", run.ID, err)
	}
	s.log(ctx).InfoContext(ctx, "run published", "run_id", run.ID, "publish_hash", sum)
	return published, nil
}

// PublishHash computes the publish hash of a run from the store, following
// the recipe of the package documentation.
func (s *Service) PublishHash(ctx context.Context, run *store.Run) (string, error) {
	ms, err := s.store.MarketSnapshotGet(ctx, run.MarketSnapshotID)
	if err != nil {
		return "", fmt.Errorf("load market snapshot %s of run %s: %w", run.MarketSnapshotID, run.ID, err)
	}
	type snapRef struct {
		ID          string `json:"id"`
		PayloadHash string `json:"payload_hash"`
	}
	snaps := make([]snapRef, 0, len(run.PositionSnapshotIDs))
	for _, id := range run.PositionSnapshotIDs {
		sn, err := s.store.PositionSnapshotGet(ctx, id)
		if err != nil {
			return "", fmt.Errorf("load position snapshot %s of run %s: %w", id, run.ID, err)
		}
		snaps = append(snaps, snapRef{ID: sn.ID, PayloadHash: sn.PayloadHash})
	}
	request, err := canon.Canonicalize(run.Request)
	if err != nil {
		return "", fmt.Errorf("canonicalize the stored request of run %s: %w", run.ID, err)
	}
	header := struct {
		EngineVersion     string    `json:"engine_version"`
		MarketSnapshot    snapRef   `json:"market_snapshot"`
		PositionSnapshots []snapRef `json:"position_snapshots"`
		Request           rawJSON   `json:"request"`
		RunID             string    `json:"run_id"`
	}{run.EngineVersion, snapRef{ms.ID, ms.PayloadHash}, snaps, rawJSON(request), run.ID}
	hb, err := canon.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("canonicalize the publish header of run %s: %w", run.ID, err)
	}
	h := sha256.New()
	writeLine(h, []byte(PublishHashVersion))
	writeLine(h, hb)
	var line []byte
	err = s.store.ResultScan(ctx, store.ResultScanParams{RunID: run.ID}, func(row *store.ResultRow, _ string) error {
		var err error
		line, err = appendResultLine(line[:0], row)
		if err != nil {
			return err
		}
		h.Write(line)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash the results of run %s: %w", run.ID, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// rawJSON is JSON text that encoding/json embeds as it is.
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

func writeLine(h hash.Hash, b []byte) {
	h.Write(b)
	h.Write([]byte{'\n'})
}

// appendResultLine appends one result row as its canonical JSON line:
// {"measures":{…present measures…},"position_id":…,
// "position_snapshot_id":…,"scenario_id":…}\n, measure names sorted, each
// value as RFC 8785 writes a double (the shortest text that reads back to
// the same bits; -0 is written 0).
func appendResultLine(b []byte, row *store.ResultRow) ([]byte, error) {
	cols := store.MeasureColumns()
	order := sortedMeasureColumns()
	b = append(b, `{"measures":{`...)
	first := true
	for _, i := range order {
		if !row.Has(i) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = canon.AppendString(b, cols[i])
		b = append(b, ':')
		var err error
		if b, err = canon.AppendFloat(b, row.Values[i]); err != nil {
			return nil, fmt.Errorf("result of position %s under %s, measure %s: %w", row.PositionID, row.ScenarioID, cols[i], err)
		}
	}
	b = append(b, `},"position_id":`...)
	b = canon.AppendString(b, row.PositionID)
	b = append(b, `,"position_snapshot_id":`...)
	b = canon.AppendString(b, row.PositionSnapshotID)
	b = append(b, `,"scenario_id":`...)
	b = canon.AppendString(b, row.ScenarioID)
	return append(b, '}', '\n'), nil
}

// sortedMeasureColumns returns the indices of store.MeasureColumns in the
// canonical (RFC 8785) order of their names.
func sortedMeasureColumns() []int {
	cols := store.MeasureColumns()
	idx := make([]int, len(cols))
	for i := range idx {
		idx[i] = i
	}
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && canon.CompareUTF16(cols[idx[j]], cols[idx[j-1]]) < 0; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	return idx
}
