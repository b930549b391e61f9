package results

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/iprs/iprs/internal/agg"
	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/resultcodec"
	"github.com/iprs/iprs/internal/store"
)

// runView is a run with what reading its results needs.
type runView struct {
	run      *store.Run
	measures []pricing.Measure // the run's measures, in its order
}

func newRunView(run *store.Run) (*runView, error) {
	v := &runView{run: run}
	for _, name := range run.Measures {
		m, ok := pricing.ParseMeasure(name)
		if !ok {
			return nil, fmt.Errorf("run %s: unknown measure %q", run.ID, name)
		}
		v.measures = append(v.measures, m)
	}
	return v, nil
}

// final reports whether the run's results can no longer change.
func (v *runView) final() bool {
	return v.run.Status == store.RunCompleted || v.run.Status == store.RunPublished
}

// decode reads a row's values under every scenario of the run into vals.
func (v *runView) decode(row *store.PositionResult, vals []pricing.Values) error {
	if err := resultcodec.Decode(row.Values, vals); err != nil {
		return fmt.Errorf("run %s position %s/%s: %w", v.run.ID, row.PositionSnapshotID, row.PositionID, err)
	}
	return nil
}

// pnl reports whether the run's aggregates keep P&L vectors.
func (v *runView) pnl() bool { return agg.KeepsPnL(v.run.Scenarios, v.measures) }

// loadRun loads the run named by the path as a runView, a 404 when it does
// not exist, after checking the query parameters against allowed.
func (s *Service) loadRun(ctx context.Context, r *http.Request, allowed ...string) (*runView, error) {
	if err := checkParams(r, allowed...); err != nil {
		return nil, err
	}
	run, err := s.run(ctx, r)
	if err != nil {
		return nil, err
	}
	return newRunView(run)
}

// checkParams is a 400 naming every query parameter not in allowed.
func checkParams(r *http.Request, allowed ...string) error {
	var fields []apperr.FieldError
	for name := range r.URL.Query() {
		if !slices.Contains(allowed, name) {
			detail := "is not a parameter of this route"
			if len(allowed) > 0 {
				detail += "; its parameters are " + strings.Join(allowed, ", ")
			}
			fields = append(fields, apperr.FieldError{Parameter: name, Detail: detail})
		}
	}
	if len(fields) == 0 {
		return nil
	}
	slices.SortFunc(fields, func(a, b apperr.FieldError) int { return strings.Compare(a.Parameter, b.Parameter) })
	msg := "unknown query parameter " + quote(fields[0].Parameter)
	if len(fields) > 1 {
		msg = "unknown query parameters"
	}
	return apperr.WithFields(apperr.Invalid, msg, fields)
}

// taskTable merges the partial aggregates of the run's finished tasks for
// a grouping of agg.TaskKeys. A finished run's merge is kept in the memo,
// and concurrent requests for it share one merge.
func (s *Service) taskTable(ctx context.Context, v *runView, keyBy string) (*agg.Table, error) {
	if !v.final() {
		return s.mergeTasks(ctx, v, keyBy)
	}
	key := memoKey(v, "tasks|"+keyBy)
	if t := s.memo.get(key); t != nil {
		return t, nil
	}
	return s.shared(ctx, key, func(ctx context.Context) (*agg.Table, error) {
		table, err := s.mergeTasks(ctx, v, keyBy)
		if err != nil {
			return nil, err
		}
		s.memo.put(key, table, len(table.AppendBinary(nil)))
		return table, nil
	})
}

// attrTaskTable merges the tasks' partial aggregates by an attribute
// (keyBy "attr:NAME") when every finished task of the run wrote one that
// is not too wide: the run's tasks aggregated by the attribute (its
// execution.aggregate_attrs, or the workers' configuration). Otherwise it
// returns nil, and the caller scans. The tasks are those that wrote the
// whole-task partial (""), which every valuation task writes.
func (s *Service) attrTaskTable(ctx context.Context, v *runView, keyBy string) (*agg.Table, error) {
	if !v.final() {
		return s.mergeAttrTasks(ctx, v, keyBy)
	}
	key := memoKey(v, "tasks|"+keyBy)
	if t := s.memo.get(key); t != nil {
		return t, nil
	}
	table, err := s.shared(ctx, key, func(ctx context.Context) (*agg.Table, error) {
		table, err := s.mergeAttrTasks(ctx, v, keyBy)
		if err != nil || table == nil {
			return nil, err
		}
		s.memo.put(key, table, len(table.AppendBinary(nil)))
		return table, nil
	})
	return table, err
}

// mergeAttrTasks is attrTaskTable without the memo.
func (s *Service) mergeAttrTasks(ctx context.Context, v *runView, keyBy string) (*agg.Table, error) {
	table := agg.New(v.run.Scenarios, v.measures, v.pnl())
	var tasks []int64
	usable := true
	err := s.st.TaskAggregates(ctx, v.run.ID, keyBy, func(taskID int64, payload []byte) error {
		tasks = append(tasks, taskID)
		if len(payload) == 0 { // too wide in this task
			usable = false
		}
		if !usable {
			return nil
		}
		part, err := agg.Decode(payload)
		if err != nil {
			return fmt.Errorf("run %s task %d: %w", v.run.ID, taskID, err)
		}
		if err := table.Merge(part); err != nil {
			return fmt.Errorf("run %s task %d: %w", v.run.ID, taskID, err)
		}
		return nil
	})
	if err != nil || !usable || len(tasks) == 0 {
		return nil, err
	}
	// Both reads list task ids in order; a task that finished between
	// them makes the lists differ, and the caller scans.
	i := 0
	err = s.st.TaskAggregates(ctx, v.run.ID, "", func(taskID int64, _ []byte) error {
		if i >= len(tasks) || tasks[i] != taskID {
			usable = false
		}
		i++
		return nil
	})
	if err != nil || !usable || i != len(tasks) {
		return nil, err
	}
	return table, nil
}

// shared runs compute once for all concurrent callers with the same key.
// The computation serves every waiting request: it does not end with the
// first one's context; a caller whose context ends stops waiting.
func (s *Service) shared(ctx context.Context, key string, compute func(ctx context.Context) (*agg.Table, error)) (*agg.Table, error) {
	ch := s.flight.DoChan(key, func() (any, error) {
		return compute(context.WithoutCancel(ctx))
	})
	select {
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*agg.Table), nil
	}
}

// mergeTasks merges the partial aggregates of the run's finished tasks.
func (s *Service) mergeTasks(ctx context.Context, v *runView, keyBy string) (*agg.Table, error) {
	table := agg.New(v.run.Scenarios, v.measures, v.pnl())
	err := s.st.TaskAggregates(ctx, v.run.ID, keyBy, func(taskID int64, payload []byte) error {
		part, err := agg.Decode(payload)
		if err != nil {
			return fmt.Errorf("run %s task %d: %w", v.run.ID, taskID, err)
		}
		if err := table.Merge(part); err != nil {
			return fmt.Errorf("run %s task %d: %w", v.run.ID, taskID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return table, nil
}

// cached returns the aggregate of a finished run stored under name, or
// computes it with compute, stores it and returns it. Concurrent calls for
// the same run and name share one computation. For a run that has not
// finished it computes every time and stores nothing. A computation that
// ends with errTooWide is recorded as such (an empty payload), and later
// calls return errTooWide without computing.
func (s *Service) cached(ctx context.Context, v *runView, name string, compute func(ctx context.Context) (*agg.Table, error)) (*agg.Table, error) {
	if !v.final() {
		return compute(ctx)
	}
	key := memoKey(v, name)
	if t := s.memo.get(key); t != nil {
		return t, nil
	}
	payload, err := s.st.RunAggregateGet(ctx, v.run.ID, name)
	if err == nil {
		if len(payload) == 0 {
			return nil, errTooWide
		}
		t, err := agg.Decode(payload)
		if err != nil {
			return nil, err
		}
		s.memo.put(key, t, len(payload))
		return t, nil
	}
	if !errors.Is(err, apperr.ErrNotFound) {
		return nil, err
	}
	return s.shared(ctx, key, func(ctx context.Context) (*agg.Table, error) {
		table, err := compute(ctx)
		if errors.Is(err, errTooWide) {
			if err := s.st.RunAggregatePut(ctx, v.run.ID, name, []byte{}); err != nil {
				return nil, err
			}
		}
		if err != nil {
			return nil, err
		}
		payload := table.AppendBinary(nil)
		if err := s.st.RunAggregatePut(ctx, v.run.ID, name, payload); err != nil {
			return nil, err
		}
		s.memo.put(key, table, len(payload))
		return table, nil
	})
}
