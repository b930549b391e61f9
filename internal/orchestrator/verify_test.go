package orchestrator_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/auth"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/resultcodec"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/storetest"
	"github.com/iprs/iprs/internal/store/teststore"
	"github.com/iprs/iprs/internal/verify"
	"github.com/iprs/iprs/internal/worker"
)

// startWorker runs a worker that values valuations and replays until the
// returned stop is called (or the test ends).
func (e *env) startWorker() (stop func()) {
	e.t.Helper()
	w := worker.New(e.store, slog.New(slog.DiscardHandler), worker.Options{Owner: "verify-test", Concurrency: 2,
		PollInterval: 5 * time.Millisecond, Backoff: func(int) time.Duration { return time.Millisecond },
		Kinds: map[string]worker.ValuerBuilder{store.KindVerify: func(ctx context.Context, st store.Store, run *store.Run) (worker.TaskValuer, error) {
			v, err := verify.Build(ctx, st, run)
			if err != nil {
				return nil, err
			}
			return v, nil
		}}})
	ctx, cancel := context.WithCancel(e.ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := w.Run(ctx); err != nil {
			e.t.Errorf("worker: %v", err)
		}
	})
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	e.t.Cleanup(stop)
	return stop
}

// waitStatus polls path until its status is not QUEUED or RUNNING.
func (e *env) waitStatus(path string) map[string]any {
	e.t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; {
		r := e.do(http.MethodGet, path, nil)
		e.mustStatus(r, http.StatusOK)
		m := r.json(e.t)
		if s := str(m["status"]); s != store.RunQueued && s != store.RunRunning {
			return m
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s still %s after 60 s", path, m["status"])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitStatusOf polls the store until run id has ended.
func (e *env) waitStatusOf(id string) *store.Run {
	e.t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; {
		r := storetest.MustRunGet(e.t, e.ctx, e.store, id)
		if r.Status != store.RunQueued && r.Status != store.RunRunning {
			return r
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("run %s still %s after 60 s", id, r.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// verifyAnswer is the decoded answer of GET /orch/runs/{id}/verify.
type verifyAnswer struct {
	RunID              string            `json:"run_id"`
	VerifyID           string            `json:"verify_id"`
	Status             string            `json:"status"`
	Verified           *bool             `json:"verified"`
	PositionsChecked   int64             `json:"positions_checked"`
	MismatchCount      int64             `json:"mismatch_count"`
	Mismatches         []verify.Mismatch `json:"mismatches"`
	PublishHashMatches *bool             `json:"publish_hash_matches"`
	Error              *string           `json:"error"`
	Progress           struct {
		PositionsTotal int64 `json:"positions_total"`
		PositionsDone  int64 `json:"positions_done"`
	} `json:"progress"`
}

// runVerify asks for a replay of run id and waits for its verdict.
func (e *env) runVerify(id string) verifyAnswer {
	e.t.Helper()
	r := e.do(http.MethodPost, "/orch/runs/"+id+"/verify", nil)
	e.mustStatus(r, http.StatusAccepted)
	if loc := r.header.Get("Location"); loc != "/orch/runs/"+id+"/verify" {
		e.t.Fatalf("Location %q, want /orch/runs/%s/verify", loc, id)
	}
	e.waitStatus("/orch/runs/" + id + "/verify")
	r = e.do(http.MethodGet, "/orch/runs/"+id+"/verify", nil)
	e.mustStatus(r, http.StatusOK)
	var v verifyAnswer
	if err := json.Unmarshal(r.body, &v); err != nil {
		e.t.Fatalf("decode %s: %v", r.body, err)
	}
	if v.Status != store.RunCompleted || v.Verified == nil {
		e.t.Fatalf("replay of %s ended %s (error %v): %s", id, v.Status, v.Error, r.body)
	}
	return v
}

// storedValues decodes the stored row of a position of a run.
func (e *env) storedValues(runID, snapshotID, positionID string, scenarios int) ([]byte, []pricing.Values) {
	e.t.Helper()
	var rows []*store.PositionResult
	err := e.store.ResultValues(e.ctx, runID, []store.PositionKey{{SnapshotID: snapshotID, PositionID: positionID}}, func(r *store.PositionResult) error {
		c := *r
		c.Values = slices.Clone(r.Values)
		rows = append(rows, &c)
		return nil
	})
	if err != nil || len(rows) != 1 {
		e.t.Fatalf("stored row of %s/%s: %d rows, %v", snapshotID, positionID, len(rows), err)
	}
	vals := make([]pricing.Values, scenarios)
	if err := resultcodec.Decode(rows[0].Values, vals); err != nil {
		e.t.Fatal(err)
	}
	return rows[0].Values, vals
}

func TestVerifyReplaysARunBitForBit(t *testing.T) {
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		const id = "RUN-V"
		scenarios := []string{"BASE", "RATES_PARALLEL_1BP"}
		e.addFullMarket("MKT-V")
		e.upload(snapshotBody("PS-V", "BOOK-V", "2026-01-23T00:00:00Z", []map[string]any{
			loanByTerms("L1", 1000), loanByTerms("L2", 2500), loanByTerms("L3", 7000), bond("B1"), fxForward("F1"),
		}), http.StatusCreated)
		body := runBody(id, "MKT-V", "PS-V")
		body["measures"] = []any{"PV", "DV01", "KR01"}
		body["scenarios"] = []any{scenarios[0], scenarios[1]}
		body["execution"] = map[string]any{"hash_mod": 2}
		e.mustStatus(e.postRun(body), http.StatusCreated)

		// Nothing to verify yet: a QUEUED run is a 409; no replay is a
		// 404, as is an unknown run.
		if r := e.do(http.MethodPost, "/orch/runs/"+id+"/verify", nil); r.status != http.StatusConflict ||
			!strings.Contains(string(r.body), "QUEUED") {
			t.Errorf("verify a QUEUED run: %d %s, want 409 naming the status", r.status, r.body)
		}
		if r := e.do(http.MethodGet, "/orch/runs/"+id+"/verify", nil); r.status != http.StatusNotFound ||
			!strings.Contains(string(r.body), "has not been verified") {
			t.Errorf("GET verify of a run never verified: %d %s, want 404", r.status, r.body)
		}
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			if r := e.do(m, "/orch/runs/NO-SUCH-RUN/verify", nil); r.status != http.StatusNotFound {
				t.Errorf("%s verify of an unknown run: %d %s, want 404", m, r.status, r.body)
			}
		}

		stop := e.startWorker()
		if run := e.waitStatus("/orch/runs/" + id); run["status"] != store.RunCompleted {
			t.Fatalf("run %s: %v", run["status"], run["error"])
		}
		// While no worker runs, a replay stays QUEUED: the answer says so
		// (no verdict yet, Retry-After), and a second POST answers the
		// open replay instead of making another.
		stop()
		first := e.do(http.MethodPost, "/orch/runs/"+id+"/verify", nil)
		e.mustStatus(first, http.StatusAccepted)
		again := e.do(http.MethodPost, "/orch/runs/"+id+"/verify", nil)
		e.mustStatus(again, http.StatusAccepted)
		open := e.do(http.MethodGet, "/orch/runs/"+id+"/verify", nil)
		e.mustStatus(open, http.StatusOK)
		for _, r := range []response{first, again, open} {
			m := r.json(t)
			if m["verify_id"] != id+"~VERIFY-1" || m["status"] != store.RunQueued || m["verified"] != nil ||
				num(m["progress"].(map[string]any)["positions_total"]) != 5 {
				t.Errorf("open replay: %s, want VERIFY-1 QUEUED with no verdict and 5 positions to do", r.body)
			}
		}
		if open.header.Get("Retry-After") == "" {
			t.Error("an open replay's answer has no Retry-After")
		}
		e.startWorker()

		// A clean run verifies.
		e.waitStatus("/orch/runs/" + id + "/verify")
		v := e.runVerify(id)
		if !*v.Verified || v.VerifyID != id+"~VERIFY-2" || v.PositionsChecked != 5 || v.MismatchCount != 0 ||
			len(v.Mismatches) != 0 || v.PublishHashMatches != nil {
			t.Errorf("clean unpublished run: %+v, want verified, 5 positions checked, no mismatch, publish_hash_matches null", v)
		}

		// Published, it still verifies, with its publish hash.
		e.mustStatus(e.do(http.MethodPost, "/orch/runs/"+id+"/publish", nil), http.StatusOK)
		v = e.runVerify(id)
		if !*v.Verified || v.PublishHashMatches == nil || !*v.PublishHashMatches || v.MismatchCount != 0 {
			t.Errorf("clean published run: %+v, want verified with a matching publish hash", v)
		}

		// Alter one number by one unit in the last place, and remove a
		// row, in the database behind the platform's back.
		oldL2, l2 := e.storedValues(id, "PS-V", "L2", len(scenarios))
		pv, ok := l2[1].Get(pricing.PV)
		if !ok {
			t.Fatal("L2 has no PV under the shock")
		}
		altered := slices.Clone(l2)
		altered[1].Set(pricing.PV, math.Nextafter(pv, math.Inf(1)))
		if n := teststore.Tamper(t, e.store, `UPDATE position_result SET vals = $1 WHERE run_id = $2 AND position_id = $3`,
			resultcodec.Append(nil, altered), id, "L2"); n != 1 {
			t.Fatalf("altered %d rows, want 1", n)
		}
		_, b1 := e.storedValues(id, "PS-V", "B1", len(scenarios))
		if n := teststore.Tamper(t, e.store, `DELETE FROM position_result WHERE run_id = $1 AND position_id = $2`, id, "B1"); n != 1 {
			t.Fatalf("deleted %d rows, want 1", n)
		}

		v = e.runVerify(id)
		if *v.Verified || v.PublishHashMatches == nil || *v.PublishHashMatches || v.PositionsChecked != 5 {
			t.Errorf("tampered published run: verified %v, publish_hash_matches %v, %d checked; want not verified, hash not matching, 5 checked",
				*v.Verified, v.PublishHashMatches, v.PositionsChecked)
		}
		// B1: every measure under every scenario, with no stored value.
		var want []string
		for si, s := range scenarios {
			for _, m := range b1[si].Present() {
				want = append(want, "B1 "+s+" "+m.String())
			}
		}
		want = append(want, "L2 RATES_PARALLEL_1BP PV")
		var got []string
		for _, m := range v.Mismatches {
			got = append(got, m.PositionID+" "+m.ScenarioID+" "+m.Measure)
			switch m.PositionID {
			case "B1":
				if m.Stored != nil || m.Recomputed == nil || m.Detail != "no stored result" {
					t.Errorf("mismatch of the missing row: %+v, want stored null, a recomputed value, detail \"no stored result\"", m)
				}
			case "L2":
				if m.Stored != math.Nextafter(pv, math.Inf(1)) || m.Recomputed != pv || m.Detail != "" || m.PositionSnapshotID != "PS-V" {
					t.Errorf("mismatch of the altered row: %+v, want stored %v (as altered), recomputed %v (as first stored)",
						m, math.Nextafter(pv, math.Inf(1)), pv)
				}
			}
		}
		if !slices.Equal(got, want) || v.MismatchCount != int64(len(want)) || len(b1[0].Present()) < 2 {
			t.Errorf("mismatches %v (count %d), want %v", got, v.MismatchCount, want)
		}

		// Put back, the run verifies again: the replay found exactly what
		// was changed.
		teststore.Tamper(t, e.store, `UPDATE position_result SET vals = $1 WHERE run_id = $2 AND position_id = $3`, oldL2, id, "L2")
		if v = e.runVerify(id); *v.Verified || v.MismatchCount != int64(len(want)-1) {
			t.Errorf("with L2 restored: verified %v, %d mismatches; want the %d of B1 only", *v.Verified, v.MismatchCount, len(want)-1)
		}

		// Every accepted replay is audited under the run's id.
		r := e.do(http.MethodGet, "/orch/audit?object_id="+id, nil)
		e.mustStatus(r, http.StatusOK)
		if n := strings.Count(string(r.body), `"run.verify"`); n != 5 {
			t.Errorf("%d run.verify audit entries, want 5 (one per replay made, none for the POST answered with the open one): %s", n, r.body)
		}
	})
}

func TestVerifyRefusesUnfinishedRunsAndOtherRoles(t *testing.T) {
	principals := []auth.Principal{auth.New("reader", "tok-r", auth.Read), auth.New("writer", "tok-w", auth.Read, auth.Write)}
	eachStore(t, envOpts{principals: principals}, func(t *testing.T, e *env) {
		e.addFullMarket("MKT-R")
		failed, _ := storetest.MustRun(t, e.ctx, e.store, storetest.RunOpts{Run: &store.Run{ID: "RUN-FAILED", MarketSnapshotID: "MKT-R", MaxAttempts: 1},
			Tasks: []*store.Task{{ProductType: "FX_FWD", Bucket: 0, HashMod: 1, PositionCount: 1, MaxAttempts: 1, AvailableAt: storetest.T0}}})
		task := storetest.MustClaim(t, e.ctx, e.store, "RUN", "w", time.Minute)
		if err := e.store.TaskFail(e.ctx, store.TaskFailParams{ClaimRef: task.Ref(), Error: "boom", Permanent: true}); err != nil {
			t.Fatal(err)
		}
		storetest.MustRun(t, e.ctx, e.store, storetest.RunOpts{Run: &store.Run{ID: "RUN-QUEUED", MarketSnapshotID: "MKT-R"},
			Tasks: []*store.Task{{ProductType: "FX_FWD", Bucket: 0, HashMod: 1, PositionCount: 1, MaxAttempts: 1, AvailableAt: storetest.T0}}})
		explain, _ := storetest.MustRun(t, e.ctx, e.store, storetest.RunOpts{Run: &store.Run{ID: "EXPLAIN-R", Kind: store.KindExplain, MarketSnapshotID: "MKT-R"}})
		if got := storetest.MustRunGet(t, e.ctx, e.store, failed.ID); got.Status != store.RunFailed {
			t.Fatalf("fixture run is %s, want FAILED", got.Status)
		}
		writer, reader := e.as("tok-w"), e.as("tok-r")
		for _, c := range []struct {
			who    *env
			method string
			run    string
			status int
		}{
			{writer, http.MethodPost, failed.ID, http.StatusConflict},
			{writer, http.MethodPost, "RUN-QUEUED", http.StatusConflict},
			{writer, http.MethodPost, explain.ID, http.StatusNotFound},
			{writer, http.MethodPost, "RUN-NONE", http.StatusNotFound},
			{reader, http.MethodPost, failed.ID, http.StatusForbidden},
			{reader, http.MethodPost, "RUN-NONE", http.StatusForbidden},
			{reader, http.MethodGet, failed.ID, http.StatusNotFound},
			{e, http.MethodGet, failed.ID, http.StatusUnauthorized},
		} {
			if r := c.who.do(c.method, "/orch/runs/"+c.run+"/verify", nil); r.status != c.status {
				t.Errorf("%s verify of %s as %q: %d %s, want %d", c.method, c.run, c.who.token, r.status, r.body, c.status)
			}
		}
		// Nothing was made.
		if _, err := e.store.RunGet(e.ctx, verify.ID(failed.ID, 1)); err == nil {
			t.Error("a refused verify made a replay")
		}
		// A body is refused like any unknown member.
		if r := writer.do(http.MethodPost, "/orch/runs/"+failed.ID+"/verify", []byte(`{"x":1}`)); r.status != http.StatusBadRequest {
			t.Errorf("verify with a member: %d %s, want 400", r.status, r.body)
		}
	})
}

// Deleting a run deletes its finished replays; a run submitted again under
// its id has not been verified.
func TestVerifyOfADeletedRun(t *testing.T) {
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		const id = "RUN-D"
		e.addFullMarket("MKT-D")
		e.upload(snapshotBody("PS-D", "BOOK-D", "2026-01-23T00:00:00Z", []map[string]any{loanByTerms("L1", 1000), bond("B1")}), http.StatusCreated)
		e.mustStatus(e.postRun(runBody(id, "MKT-D", "PS-D")), http.StatusCreated)
		e.startWorker()
		e.waitStatus("/orch/runs/" + id)
		e.runVerify(id)
		if v := e.runVerify(id); !*v.Verified || v.VerifyID != id+"~VERIFY-2" || v.PositionsChecked != 2 {
			t.Fatalf("replays of the run: %+v", v)
		}
		e.mustStatus(e.do(http.MethodDelete, "/orch/runs/"+id, nil), http.StatusNoContent)
		for n := 1; n <= 2; n++ {
			if _, err := e.store.RunGet(e.ctx, verify.ID(id, n)); err == nil {
				t.Errorf("replay %d of the deleted run is still stored", n)
			}
			if rows, err := e.store.ResultList(e.ctx, store.ResultListParams{RunID: verify.ID(id, n), Limit: 10}); err != nil || len(rows) != 0 {
				t.Errorf("replay %d left %d rows (%v)", n, len(rows), err)
			}
		}
		e.mustStatus(e.postRun(runBody(id, "MKT-D", "PS-D")), http.StatusCreated)
		e.waitStatus("/orch/runs/" + id)
		if r := e.do(http.MethodGet, "/orch/runs/"+id+"/verify", nil); r.status != http.StatusNotFound {
			t.Errorf("GET verify of the run made again: %d %s, want 404", r.status, r.body)
		}
		if v := e.runVerify(id); !*v.Verified || v.VerifyID != id+"~VERIFY-1" {
			t.Errorf("first replay of the run made again: %+v", v)
		}

		// A replay left behind by an earlier run under the id (requested
		// before this run was) is not this run's: not answered, not
		// valued, and the next replay takes the next number.
		const again = "RUN-S"
		e.mustStatus(e.postRun(runBody(again, "MKT-D", "PS-D")), http.StatusCreated)
		e.waitStatus("/orch/runs/" + again)
		storetest.MustRun(t, e.ctx, e.store, storetest.RunOpts{Run: &store.Run{ID: verify.ID(again, 1), Kind: store.KindVerify,
			MarketSnapshotID: "MKT-D", HashMod: 1, RequestedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
			Tasks: []*store.Task{{ProductType: "FX_FWD", HashMod: 1, PositionCount: 1, MaxAttempts: 1, AvailableAt: storetest.T0}}})
		if r := e.do(http.MethodGet, "/orch/runs/"+again+"/verify", nil); r.status != http.StatusNotFound {
			t.Errorf("GET verify with only a stale replay: %d %s, want 404", r.status, r.body)
		}
		if v := e.runVerify(again); !*v.Verified || v.VerifyID != again+"~VERIFY-2" {
			t.Errorf("replay after a stale one: %+v, want VERIFY-2 verified", v)
		}
		stale := e.waitStatusOf(verify.ID(again, 1))
		if stale.Status != store.RunFailed || !strings.Contains(stale.Error, "not the run it was made to verify") {
			t.Errorf("the stale replay: %s (%q), want FAILED: not the run it was made to verify", stale.Status, stale.Error)
		}
	})
}

// An open replay can be cancelled; one that ended cannot, and a run never
// verified has none to cancel.
func TestVerifyCancel(t *testing.T) {
	principals := []auth.Principal{auth.New("reader", "tok-r", auth.Read), auth.New("writer", "tok-w", auth.Read, auth.Write)}
	eachStore(t, envOpts{principals: principals}, func(t *testing.T, e *env) {
		const id = "RUN-C"
		writer, reader := e.as("tok-w"), e.as("tok-r")
		e.addFullMarket("MKT-C")
		writer.upload(snapshotBody("PS-C", "BOOK-C", "2026-01-23T00:00:00Z", []map[string]any{loanByTerms("L1", 1000), bond("B1")}), http.StatusCreated)
		writer.mustStatus(writer.postRun(runBody(id, "MKT-C", "PS-C")), http.StatusCreated)
		stop := e.startWorker()
		writer.waitStatus("/orch/runs/" + id)
		stop()

		cancel := "/orch/runs/" + id + "/verify/cancel"
		if r := writer.do(http.MethodPost, cancel, nil); r.status != http.StatusNotFound || !strings.Contains(string(r.body), "has not been verified") {
			t.Errorf("cancel with no replay: %d %s, want 404", r.status, r.body)
		}
		if r := writer.do(http.MethodPost, "/orch/runs/NO-SUCH-RUN/verify/cancel", nil); r.status != http.StatusNotFound {
			t.Errorf("cancel for an unknown run: %d %s, want 404", r.status, r.body)
		}

		// With no worker, the replay is QUEUED: cancelling it ends it at
		// once, not verified; cancelling again answers the same.
		writer.mustStatus(writer.do(http.MethodPost, "/orch/runs/"+id+"/verify", nil), http.StatusAccepted)
		if r := reader.do(http.MethodPost, cancel, nil); r.status != http.StatusForbidden {
			t.Errorf("cancel as a reader: %d %s, want 403", r.status, r.body)
		}
		if r := writer.do(http.MethodPost, cancel, []byte(`{"x":1}`)); r.status != http.StatusBadRequest {
			t.Errorf("cancel with a member: %d %s, want 400", r.status, r.body)
		}
		for i := range 2 {
			r := writer.do(http.MethodPost, cancel, nil)
			writer.mustStatus(r, http.StatusAccepted)
			m := r.json(t)
			if m["verify_id"] != id+"~VERIFY-1" || m["status"] != store.RunCancelled || m["verified"] != false {
				t.Errorf("cancel %d: %s, want VERIFY-1 CANCELLED, verified false", i+1, r.body)
			}
		}
		if got := storetest.MustRunGet(t, e.ctx, e.store, verify.ID(id, 1)); got.Status != store.RunCancelled {
			t.Errorf("stored replay is %s, want CANCELLED", got.Status)
		}
		if got := storetest.MustRunGet(t, e.ctx, e.store, id); got.Status != store.RunCompleted {
			t.Errorf("the verified run is %s after its replay was cancelled, want COMPLETED", got.Status)
		}
		r := writer.do(http.MethodGet, "/orch/audit?object_id="+verify.ID(id, 1), nil)
		writer.mustStatus(r, http.StatusOK)
		if n := strings.Count(string(r.body), `"run.cancel"`); n != 1 {
			t.Errorf("%d run.cancel audit entries under the replay's id, want 1 (the second cancel changed nothing): %s", n, r.body)
		}

		// The next replay is made afresh and, once it completed, is no
		// longer cancellable.
		e.startWorker()
		if v := writer.runVerify(id); !*v.Verified || v.VerifyID != id+"~VERIFY-2" {
			t.Errorf("replay after a cancelled one: %+v, want VERIFY-2 verified", v)
		}
		if r := writer.do(http.MethodPost, cancel, nil); r.status != http.StatusConflict || !strings.Contains(string(r.body), "COMPLETED") {
			t.Errorf("cancel a completed replay: %d %s, want 409 naming the status", r.status, r.body)
		}
	})
}
