package orchestrator

import (
	"encoding/json"
	"time"

	"github.com/iprs/iprs/internal/store"
)

// SnapshotView is the answer for a position snapshot.
type SnapshotView struct {
	PositionSnapshotID string   `json:"position_snapshot_id"`
	AsOfTime           string   `json:"as_of_time"`
	PortfolioNodeID    string   `json:"portfolio_node_id"`
	PayloadHash        string   `json:"payload_hash"`
	PositionCount      int64    `json:"position_count"`
	ProductTypes       []string `json:"product_types"`
	CreatedAt          string   `json:"created_at"`
}

func snapshotView(s *store.PositionSnapshot) SnapshotView {
	types := s.ProductTypes
	if types == nil {
		types = []string{}
	}
	return SnapshotView{
		PositionSnapshotID: s.ID,
		AsOfTime:           formatTime(s.AsOfTime),
		PortfolioNodeID:    s.PortfolioNodeID,
		PayloadHash:        s.PayloadHash,
		PositionCount:      s.PositionCount,
		ProductTypes:       types,
		CreatedAt:          formatTime(s.CreatedAt),
	}
}

// PositionView is one stored position, as uploaded.
type PositionView struct {
	PositionID   string          `json:"position_id"`
	InstrumentID string          `json:"instrument_id"`
	ProductType  string          `json:"product_type"`
	Quantity     *float64        `json:"quantity,omitempty"`
	Attributes   json.RawMessage `json:"attributes"`
}

func positionView(p *store.Position) PositionView {
	return PositionView{
		PositionID:   p.PositionID,
		InstrumentID: p.InstrumentID,
		ProductType:  p.ProductType,
		Quantity:     p.Quantity,
		Attributes:   json.RawMessage(p.Attributes),
	}
}

// RunView is the answer for a run (SPEC "Shapes common to all services"),
// with the orchestrator's extra members.
type RunView struct {
	RunID               string          `json:"run_id"`
	RunType             string          `json:"run_type"`
	Status              string          `json:"status"`
	AsOfTime            string          `json:"as_of_time"`
	MarketSnapshotID    string          `json:"market_snapshot_id"`
	PositionSnapshotID  *string         `json:"position_snapshot_id"`
	PositionSnapshotIDs []string        `json:"position_snapshot_ids"`
	PortfolioScope      *portfolioScope `json:"portfolio_scope"`
	ModelSetID          *string         `json:"model_set_id"`
	Measures            []string        `json:"measures"`
	Scenarios           []string        `json:"scenarios"`
	Execution           ExecutionView   `json:"execution"`
	RequestedAt         string          `json:"requested_at"`
	StartedAt           *string         `json:"started_at"`
	CompletedAt         *string         `json:"completed_at"`
	Progress            ProgressView    `json:"progress"`
	Error               *string         `json:"error"`
	PublishedAt         *string         `json:"published_at,omitempty"`
	PublishHash         *string         `json:"publish_hash,omitempty"`
	EngineVersion       string          `json:"engine_version"`
	// EngineVersions are the builds of the workers whose results the run
	// holds (SPEC §5: each result row records the engine that computed
	// it, through its task); more than one means a mixed run. Given on
	// the answer about one run, not in lists.
	EngineVersions []string `json:"engine_versions,omitempty"`
	RequestHash    string   `json:"request_hash"`
	// SubmittedBy is the principal that created the run (absent for runs
	// stored before principals were recorded).
	SubmittedBy string `json:"submitted_by,omitempty"`
	// Request is the normalized request the run was created from, the
	// "request" of the publish hash.
	Request json.RawMessage `json:"request"`
}

// ExecutionView is a run's execution settings as used.
type ExecutionView struct {
	HashMod     int `json:"hash_mod"`
	MaxAttempts int `json:"max_attempts"`
}

// ProgressView counts a run's tasks and positions.
type ProgressView struct {
	TasksTotal     int64            `json:"tasks_total"`
	TasksByStatus  map[string]int64 `json:"tasks_by_status"`
	PositionsTotal int64            `json:"positions_total"`
	PositionsDone  int64            `json:"positions_done"`
}

var taskStatuses = []string{store.TaskQueued, store.TaskRunning, store.TaskSucceeded, store.TaskDead, store.TaskCancelled}

func runView(r *store.Run, p *store.Progress) RunView {
	v := RunView{
		RunID:               r.ID,
		RunType:             r.RunType,
		Status:              r.Status,
		AsOfTime:            formatTime(r.AsOfTime),
		MarketSnapshotID:    r.MarketSnapshotID,
		PositionSnapshotIDs: nonNil(r.PositionSnapshotIDs),
		ModelSetID:          optString(r.ModelSetID),
		Measures:            nonNil(r.Measures),
		Scenarios:           nonNil(r.Scenarios),
		Execution:           ExecutionView{HashMod: r.HashMod, MaxAttempts: r.MaxAttempts},
		RequestedAt:         formatTime(r.RequestedAt),
		StartedAt:           optTime(r.StartedAt),
		CompletedAt:         optTime(r.CompletedAt),
		Error:               optString(r.Error),
		PublishedAt:         optTime(r.PublishedAt),
		PublishHash:         optString(r.PublishHash),
		EngineVersion:       r.EngineVersion,
		RequestHash:         r.RequestHash,
		SubmittedBy:         r.SubmittedBy,
		Request:             json.RawMessage(r.Request),
		Progress: ProgressView{
			TasksByStatus:  make(map[string]int64, len(taskStatuses)),
			PositionsTotal: r.PositionsTotal,
		},
	}
	if len(r.PositionSnapshotIDs) == 1 {
		id := r.PositionSnapshotIDs[0]
		v.PositionSnapshotID = &id
	}
	if len(r.PortfolioNodeIDs) > 0 {
		v.PortfolioScope = &portfolioScope{NodeIDs: r.PortfolioNodeIDs}
	}
	if len(v.Request) == 0 {
		v.Request = json.RawMessage("null")
	}
	for _, st := range taskStatuses {
		v.Progress.TasksByStatus[st] = 0
	}
	if p != nil {
		v.Progress.TasksTotal = p.TasksTotal
		for st, n := range p.TasksByStatus {
			v.Progress.TasksByStatus[st] = n
		}
		if p.PositionsTotal > 0 {
			v.Progress.PositionsTotal = p.PositionsTotal
		}
		v.Progress.PositionsDone = p.PositionsDone
	}
	return v
}

// TaskView is one task of a run.
type TaskView struct {
	TaskID         int64   `json:"task_id"`
	RunID          string  `json:"run_id"`
	ProductType    string  `json:"product_type"`
	Bucket         int     `json:"bucket"`
	HashMod        int     `json:"hash_mod"`
	Status         string  `json:"status"`
	Attempts       int     `json:"attempts"`
	MaxAttempts    int     `json:"max_attempts"`
	Failures       int     `json:"failures"`
	LeaseExpiries  int     `json:"lease_expiries"`
	PositionCount  int64   `json:"position_count"`
	LeaseOwner     *string `json:"lease_owner"`
	LeaseExpiresAt *string `json:"lease_expires_at"`
	AvailableAt    string  `json:"available_at"`
	LastError      *string `json:"last_error"`
	StartedAt      *string `json:"started_at"`
	FinishedAt     *string `json:"finished_at"`
	EngineVersion  *string `json:"engine_version"`
}

func taskView(t *store.Task) TaskView {
	return TaskView{
		TaskID:         t.ID,
		RunID:          t.RunID,
		ProductType:    t.ProductType,
		Bucket:         t.Bucket,
		HashMod:        t.HashMod,
		Status:         t.Status,
		Attempts:       t.Attempts,
		MaxAttempts:    t.MaxAttempts,
		Failures:       t.Failures,
		LeaseExpiries:  t.LeaseExpiries,
		PositionCount:  t.PositionCount,
		LeaseOwner:     optString(t.LeaseOwner),
		LeaseExpiresAt: optTime(t.LeaseExpiresAt),
		AvailableAt:    formatTime(t.AvailableAt),
		LastError:      optString(t.LastError),
		StartedAt:      optTime(t.StartedAt),
		FinishedAt:     optTime(t.FinishedAt),
		EngineVersion:  optString(t.EngineVersion),
	}
}

// formatTime writes a time as RFC 3339 in UTC, with fractional seconds
// only when there are some.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func optTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := formatTime(*t)
	return &s
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}
