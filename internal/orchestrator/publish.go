package orchestrator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/auth"
	"github.com/iprs/iprs/internal/canon"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/resultcodec"
	"github.com/iprs/iprs/internal/store"
)

// PublishHashVersion is the first line of the publish hash input; it names
// the recipe (see the package documentation).
const PublishHashVersion = "iprs-publish-v2"

// publishRun publishes a COMPLETED run: it computes the publish hash and
// records it. Any other status, PUBLISHED included, is a Conflict.
func (s *Service) publishRun(ctx context.Context, id string) (*store.Run, error) {
	run, err := store.RunOfKind(ctx, s.store, id, store.KindValuation)
	if err != nil {
		return nil, err
	}
	if err := s.checkFourEyes(ctx, run); err != nil {
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

// checkFourEyes refuses, with Options.FourEyes, the publication of a run
// by the principal that submitted it, and of a run whose submitter was not
// recorded (nobody can tell it is someone else).
func (s *Service) checkFourEyes(ctx context.Context, run *store.Run) error {
	if !s.opts.FourEyes {
		return nil
	}
	who := auth.NameOf(ctx)
	switch run.SubmittedBy {
	case "":
		return apperr.Errorf(apperr.Forbidden,
			"four-eyes publishing is on and run %s has no recorded submitter, so nobody can be shown to differ from it: submit the run again under a new run_id", run.ID)
	case who:
		return apperr.Errorf(apperr.Forbidden,
			"four-eyes publishing is on: run %s was submitted by principal %q, who may not also publish it; another principal with the publish role must", run.ID, who)
	}
	return nil
}

// PublishHash computes the publish hash of a run from the store, following
// the recipe of the package documentation.
func (s *Service) PublishHash(ctx context.Context, run *store.Run) (string, error) {
	ms, err := s.store.MarketSnapshotGet(ctx, run.MarketSnapshotID)
	if err != nil {
		return "", fmt.Errorf("load market snapshot %s of run %s: %w", run.MarketSnapshotID, run.ID, err)
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
	sets, modelSet, err := s.setRefs(ctx, run)
	if err != nil {
		return "", err
	}
	versions, err := s.store.RunEngineVersions(ctx, run.ID)
	if err != nil {
		return "", fmt.Errorf("engine versions of run %s: %w", run.ID, err)
	}
	header := struct {
		EngineVersion     string    `json:"engine_version"`
		EngineVersions    []string  `json:"engine_versions"`
		MarketSnapshot    snapRef   `json:"market_snapshot"`
		ModelSet          *snapRef  `json:"model_set,omitempty"`
		PositionSnapshots []snapRef `json:"position_snapshots"`
		Request           rawJSON   `json:"request"`
		RunID             string    `json:"run_id"`
		ScenarioSets      []snapRef `json:"scenario_sets,omitempty"`
	}{run.EngineVersion, nonNil(versions), snapRef{ms.ID, ms.PayloadHash}, modelSet, snaps, rawJSON(request), run.ID, sets}
	hb, err := canon.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("canonicalize the publish header of run %s: %w", run.ID, err)
	}
	h := sha256.New()
	writeLine(h, []byte(PublishHashVersion))
	writeLine(h, hb)
	var (
		line  []byte
		vals  = make([]pricing.Values, len(run.Scenarios))
		order = sortedIndex(run.Scenarios, strings.Compare)
	)
	err = s.store.ResultScan(ctx, store.ResultScanParams{RunID: run.ID}, func(row *store.PositionResult) error {
		if err := resultcodec.Decode(row.Values, vals); err != nil {
			return fmt.Errorf("position %s/%s: %w", row.PositionSnapshotID, row.PositionID, err)
		}
		for _, si := range order {
			var err error
			line, err = appendResultLine(line[:0], row, run.Scenarios[si], &vals[si])
			if err != nil {
				return err
			}
			h.Write(line)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash the results of run %s: %w", run.ID, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// snapRef names a stored input by id and payload hash.
type snapRef struct {
	ID          string `json:"id"`
	PayloadHash string `json:"payload_hash"`
}

// setRefs names the scenario sets (sorted by id) and the model set of a
// run with their payload hashes, for the publish hash.
func (s *Service) setRefs(ctx context.Context, run *store.Run) (sets []snapRef, modelSet *snapRef, err error) {
	ids, err := run.ScenarioSetIDs()
	if err != nil {
		return nil, nil, fmt.Errorf("run %s: %w", run.ID, err)
	}
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		st, err := s.store.SetGet(ctx, store.SetKindScenario, id)
		if err != nil {
			return nil, nil, fmt.Errorf("load scenario set %s of run %s: %w", id, run.ID, err)
		}
		sets = append(sets, snapRef{ID: st.ID, PayloadHash: st.PayloadHash})
	}
	if run.ModelSetID != "" {
		st, err := s.store.SetGet(ctx, store.SetKindModel, run.ModelSetID)
		if err != nil {
			return nil, nil, fmt.Errorf("load model set %s of run %s: %w", run.ModelSetID, run.ID, err)
		}
		modelSet = &snapRef{ID: st.ID, PayloadHash: st.PayloadHash}
	}
	return sets, modelSet, nil
}

// rawJSON is JSON text that encoding/json embeds as it is.
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

func writeLine(h hash.Hash, b []byte) {
	h.Write(b)
	h.Write([]byte{'\n'})
}

// appendResultLine appends one position's results under one scenario as
// its canonical JSON line: {"measures":{…present measures…},
// "position_id":…,"position_snapshot_id":…,"scenario_id":…}\n, measure
// names sorted, each number as RFC 8785 writes a double (the shortest text
// that reads back to the same bits; -0 is written 0); KR01 is an object of
// curves, each an object of tenors, both with sorted keys.
func appendResultLine(b []byte, row *store.PositionResult, scenario string, v *pricing.Values) ([]byte, error) {
	b = append(b, `{"measures":{`...)
	first := true
	for _, m := range sortedMeasures() {
		if !v.Has(m) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = canon.AppendString(b, m.String())
		b = append(b, ':')
		var err error
		if m == pricing.KR01 {
			b, err = appendKR01(b, v.KR01())
		} else {
			x, _ := v.Get(m)
			b, err = canon.AppendFloat(b, x)
		}
		if err != nil {
			return nil, fmt.Errorf("result of position %s under %s, measure %s: %w", row.PositionID, scenario, m, err)
		}
	}
	b = append(b, `},"position_id":`...)
	b = canon.AppendString(b, row.PositionID)
	b = append(b, `,"position_snapshot_id":`...)
	b = canon.AppendString(b, row.PositionSnapshotID)
	b = append(b, `,"scenario_id":`...)
	b = canon.AppendString(b, scenario)
	return append(b, '}', '\n'), nil
}

// appendKR01 appends ladders as canonical JSON: curves (already in id
// order) and tenors in canonical key order.
func appendKR01(b []byte, ladders []pricing.KeyRateLadder) ([]byte, error) {
	tenors := pricing.KeyRateTenors()
	order := sortedIndex(tenors[:], canon.CompareUTF16)
	curves := sortedIndex(ladders, func(a, b pricing.KeyRateLadder) int { return canon.CompareUTF16(a.Curve, b.Curve) })
	b = append(b, '{')
	for i, ci := range curves {
		if i > 0 {
			b = append(b, ',')
		}
		b = canon.AppendString(b, ladders[ci].Curve)
		b = append(b, ':', '{')
		for k, j := range order {
			if k > 0 {
				b = append(b, ',')
			}
			b = canon.AppendString(b, tenors[j])
			b = append(b, ':')
			var err error
			if b, err = canon.AppendFloat(b, ladders[ci].DV01[j]); err != nil {
				return nil, fmt.Errorf("KR01 %s %s: %w", ladders[ci].Curve, tenors[j], err)
			}
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// sortedMeasures returns the measures in the canonical (RFC 8785) order of
// their names.
func sortedMeasures() []pricing.Measure {
	ms := pricing.Measures()
	slices.SortFunc(ms, func(a, b pricing.Measure) int { return canon.CompareUTF16(a.String(), b.String()) })
	return ms
}

// sortedIndex returns the indices of xs in the order cmp sorts them.
func sortedIndex[T any](xs []T, cmp func(a, b T) int) []int {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int { return cmp(xs[i], xs[j]) })
	return idx
}
