package orchestrator_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/canon"
	"github.com/iprs/iprs/internal/orchestrator"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/teststore"
)

func TestPositionHashKnownValues(t *testing.T) {
	t.Parallel()
	// Values computed outside Go: int.from_bytes(sha256(id)[:8], "big") & (2**63-1).
	for id, want := range map[string]int64{
		"POS-1":           2339624560477128566,
		"POS-SFC_5685642": 5703315120083921765,
		"":                7183457195969485844,
	} {
		if got := orchestrator.PositionHash(id); got != want {
			t.Errorf("PositionHash(%q) = %d, want %d", id, got, want)
		}
	}
}

// expectedPayloadHash follows the documented recipe on the decoded
// positions of a request body.
func expectedPayloadHash(t *testing.T, body []byte) string {
	t.Helper()
	var doc struct {
		AsOfTime        string            `json:"as_of_time"`
		PortfolioNodeID string            `json:"portfolio_node_id"`
		Positions       []json.RawMessage `json:"positions"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	parts := make([]string, len(doc.Positions))
	for i, raw := range doc.Positions {
		var p map[string]json.RawMessage
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		keep := map[string]json.RawMessage{
			"attributes":    p["attributes"],
			"position_id":   p["position_id"],
			"product_type":  p["product_type"],
			"instrument_id": json.RawMessage(`""`),
		}
		if v, ok := p["instrument_id"]; ok {
			keep["instrument_id"] = v
		}
		if v, ok := p["quantity"]; ok && string(v) != "null" {
			keep["quantity"] = v
		}
		b, err := json.Marshal(keep)
		if err != nil {
			t.Fatal(err)
		}
		c, err := canon.Canonicalize(b)
		if err != nil {
			t.Fatal(err)
		}
		parts[i] = string(c)
	}
	arr := sha256.Sum256([]byte("[" + strings.Join(parts, ",") + "]"))
	asOf, err := time.Parse(time.RFC3339Nano, doc.AsOfTime)
	if err != nil {
		t.Fatal(err)
	}
	header := fmt.Sprintf(`{"as_of_time":%q,"portfolio_node_id":%q,"position_count":%d,"positions_sha256":%q}`,
		asOf.UTC().Format(time.RFC3339Nano), doc.PortfolioNodeID, len(doc.Positions), hex.EncodeToString(arr[:]))
	sum := sha256.Sum256([]byte(header))
	return hex.EncodeToString(sum[:])
}

func TestUploadCompatFixture(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		body := readFixture(t, "positions_snapshot_demo.json")
		got := e.upload(body, http.StatusCreated)
		id := str(got["position_snapshot_id"])
		if !strings.HasPrefix(id, "PS-") {
			t.Fatalf("server id %q", id)
		}
		if num(got["position_count"]) != 3 {
			t.Fatalf("position_count %v", got["position_count"])
		}
		if !reflect.DeepEqual(got["product_types"], []any{"AMORT_LOAN"}) {
			t.Fatalf("product_types %v", got["product_types"])
		}
		if want := expectedPayloadHash(t, body); got["payload_hash"] != want {
			t.Fatalf("payload_hash %v, want %s", got["payload_hash"], want)
		}

		// The same content again, without an id: the stored snapshot, 200.
		again := e.upload(body, http.StatusOK)
		if again["position_snapshot_id"] != id || again["payload_hash"] != got["payload_hash"] {
			t.Fatalf("replay answered %v, want snapshot %s", again, id)
		}
		for series, want := range map[string]float64{
			"iprs_orchestrator_positions_uploaded_total":                     3,
			`iprs_orchestrator_position_snapshots_total{outcome="created"}`:  1,
			`iprs_orchestrator_position_snapshots_total{outcome="existing"}`: 1,
			`iprs_orchestrator_position_snapshots_total{outcome="refused"}`:  0,
		} {
			if got := metricValue(t, e, series); got != want {
				t.Fatalf("%s = %v, want %v", series, got, want)
			}
		}

		// Metadata.
		r := e.do(http.MethodGet, "/orch/position-snapshots/"+id, nil)
		e.mustStatus(r, http.StatusOK)
		meta := r.json(t)
		if meta["as_of_time"] != "2026-01-23T00:00:00Z" || meta["portfolio_node_id"] != "BOOK-PRIME-LOANS" ||
			meta["created_at"] == nil || num(meta["position_count"]) != 3 {
			t.Fatalf("metadata %v", meta)
		}

		// Positions, two pages, in upload order, attributes as sent.
		var sent struct {
			Positions []struct {
				PositionID string          `json:"position_id"`
				Quantity   *float64        `json:"quantity"`
				Attributes json.RawMessage `json:"attributes"`
			} `json:"positions"`
		}
		if err := json.Unmarshal(body, &sent); err != nil {
			t.Fatal(err)
		}
		r = e.do(http.MethodGet, "/orch/position-snapshots/"+id+"/positions?limit=2", nil)
		e.mustStatus(r, http.StatusOK)
		var page struct {
			Items []struct {
				PositionID   string          `json:"position_id"`
				InstrumentID string          `json:"instrument_id"`
				ProductType  string          `json:"product_type"`
				Quantity     *float64        `json:"quantity"`
				Attributes   json.RawMessage `json:"attributes"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 2 || page.NextCursor == nil {
			t.Fatalf("first page %s", r.body)
		}
		first := page.Items
		r = e.do(http.MethodGet, "/orch/position-snapshots/"+id+"/positions?limit=2&cursor="+*page.NextCursor, nil)
		e.mustStatus(r, http.StatusOK)
		page.Items, page.NextCursor = nil, nil
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 || page.NextCursor != nil {
			t.Fatalf("second page %s", r.body)
		}
		all := append(first, page.Items...)
		for i, p := range all {
			if p.PositionID != sent.Positions[i].PositionID || p.ProductType != "AMORT_LOAN" || p.Quantity == nil || *p.Quantity != 1 {
				t.Fatalf("position %d: %+v", i, p)
			}
			var a, b any
			_ = json.Unmarshal(p.Attributes, &a)
			_ = json.Unmarshal(sent.Positions[i].Attributes, &b)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("position %d attributes differ:\n%s\n%s", i, p.Attributes, sent.Positions[i].Attributes)
			}
		}

		// Bad cursor and limit.
		r = e.do(http.MethodGet, "/orch/position-snapshots/"+id+"/positions?limit=0", nil)
		e.mustStatus(r, http.StatusBadRequest)
		r = e.do(http.MethodGet, "/orch/position-snapshots/"+id+"/positions?cursor=%21%21", nil)
		e.mustStatus(r, http.StatusBadRequest)
	})
}

func TestUploadClientIDIdempotentAndImmutable(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		positions := []map[string]any{loanByTerms("L1", 10000), bond("B1"), fxForward("F1")}
		body := snapshotBody("PS-BOOK-A-1", "BOOK-A", "2026-01-23T00:00:00Z", positions)
		got := e.upload(body, http.StatusCreated)
		if got["position_snapshot_id"] != "PS-BOOK-A-1" {
			t.Fatalf("id %v", got["position_snapshot_id"])
		}
		if !reflect.DeepEqual(got["product_types"], []any{"AMORT_LOAN", "FIXED_BOND", "FX_FWD"}) {
			t.Fatalf("product types %v", got["product_types"])
		}
		again := e.upload(body, http.StatusOK)
		if again["payload_hash"] != got["payload_hash"] {
			t.Fatalf("replay hash %v vs %v", again["payload_hash"], got["payload_hash"])
		}
		// The same positions in another member order and spelling: same content.
		reordered := []byte(`{"positions":` + string(mustJSON(t, positions)) + `,"portfolio_node_id":"BOOK-A","as_of_time":"2026-01-22T19:00:00-05:00","position_snapshot_id":"PS-BOOK-A-1"}`)
		e.upload(reordered, http.StatusOK)

		// Other content under the same id: 409, nothing changes.
		positions[0] = loanByTerms("L1", 10001)
		r := e.do(http.MethodPost, "/orch/position-snapshots", mustJSON(t, snapshotBody("PS-BOOK-A-1", "BOOK-A", "2026-01-23T00:00:00Z", positions)))
		e.mustStatus(r, http.StatusConflict)
		snap, err := e.store.PositionSnapshotGet(e.ctx, "PS-BOOK-A-1")
		if err != nil || snap.PayloadHash != got["payload_hash"] {
			t.Fatalf("stored snapshot changed: %+v %v", snap, err)
		}
		rows, err := e.store.PositionList(e.ctx, "PS-BOOK-A-1", -1, 10)
		if err != nil || len(rows) != 3 {
			t.Fatalf("rows %d %v", len(rows), err)
		}
		if rows[0].Hash != orchestrator.PositionHash("L1") || rows[0].Seq != 0 || rows[2].Seq != 2 {
			t.Fatalf("row 0 %+v", rows[0])
		}
		if rows[1].Quantity == nil || *rows[1].Quantity != 2 || rows[0].Quantity != nil {
			t.Fatalf("quantities %v %v", rows[0].Quantity, rows[1].Quantity)
		}

		// Location of a created snapshot.
		r = e.do(http.MethodPost, "/orch/position-snapshots", mustJSON(t, snapshotBody("PS-BOOK-A-2", "BOOK-A", "2026-01-23T00:00:00Z", positions)))
		e.mustStatus(r, http.StatusCreated)
		if loc := r.header.Get("Location"); loc != "/orch/position-snapshots/PS-BOOK-A-2" {
			t.Fatalf("Location %q", loc)
		}

		// 404s.
		e.mustStatus(e.do(http.MethodGet, "/orch/position-snapshots/NOPE", nil), http.StatusNotFound)
		e.mustStatus(e.do(http.MethodGet, "/orch/position-snapshots/NOPE/positions", nil), http.StatusNotFound)
	})
}

func TestUploadIDAfterPositions(t *testing.T) {
	t.Parallel()
	eachWriteMode(t, envOpts{batchSize: 2}, func(t *testing.T, e *env) {
		positions := []map[string]any{loanByTerms("L1", 100), loanByTerms("L2", 200), loanByTerms("L3", 300), bond("B1"), bond("B2")}
		late := []byte(`{"as_of_time":"2026-01-23T00:00:00Z","positions":` + string(mustJSON(t, positions)) +
			` , "portfolio_node_id":"BOOK-LATE", "position_snapshot_id" : "PS-LATE"}`)
		got := e.upload(late, http.StatusCreated)
		if got["position_snapshot_id"] != "PS-LATE" || num(got["position_count"]) != 5 {
			t.Fatalf("answer %v", got)
		}
		if want := expectedPayloadHash(t, late); got["payload_hash"] != want {
			t.Fatalf("payload_hash %v, want %s", got["payload_hash"], want)
		}
		rows, err := e.store.PositionList(e.ctx, "PS-LATE", -1, 100)
		if err != nil || len(rows) != 5 || rows[4].PositionID != "B2" || rows[4].SnapshotID != "PS-LATE" {
			t.Fatalf("rows %d %v", len(rows), err)
		}
		// Nothing else was stored (no provisional snapshot).
		latest, err := e.store.PositionSnapshotLatest(e.ctx, "BOOK-LATE", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil || latest.ID != "PS-LATE" {
			t.Fatalf("latest %+v %v", latest, err)
		}
		// Again, late id and same content: 200.
		e.upload(late, http.StatusOK)
		// Early id, same content: 200.
		e.upload(snapshotBody("PS-LATE", "BOOK-LATE", "2026-01-23T00:00:00Z", positions), http.StatusOK)
	})
}

func TestUploadRefused(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		good := func() []map[string]any {
			return []map[string]any{loanByTerms("L1", 1000), bond("B1"), fxForward("F1")}
		}
		cases := []struct {
			name    string
			body    func() []byte
			pointer string
			detail  string
		}{
			{"unknown top-level field", func() []byte {
				b := snapshotBody("PS-X", "BOOK-X", "2026-01-23T00:00:00Z", good())
				b["colour"] = map[string]any{"nested": []any{1, 2, 3}}
				return mustJSON(t, b)
			}, "/colour", "unknown"},
			{"as_of_time of the wrong type", func() []byte {
				b := snapshotBody("PS-X", "BOOK-X", "2026-01-23T00:00:00Z", good())
				b["as_of_time"] = 20260123
				return mustJSON(t, b)
			}, "/as_of_time", "string"},
			{"as_of_time not RFC 3339", func() []byte {
				return mustJSON(t, snapshotBody("PS-X", "BOOK-X", "2026-01-23", good()))
			}, "/as_of_time", "RFC 3339"},
			{"missing portfolio node", func() []byte {
				b := snapshotBody("PS-X", "BOOK-X", "2026-01-23T00:00:00Z", good())
				delete(b, "portfolio_node_id")
				return mustJSON(t, b)
			}, "/portfolio_node_id", "required"},
			{"bad snapshot id", func() []byte {
				return mustJSON(t, snapshotBody("PS/X", "BOOK-X", "2026-01-23T00:00:00Z", good()))
			}, "/position_snapshot_id", "letters"},
			{"quantity of the wrong type", func() []byte {
				p := good()
				p[1]["quantity"] = "two"
				return mustJSON(t, snapshotBody("PS-X", "BOOK-X", "2026-01-23T00:00:00Z", p))
			}, "/positions/1/quantity", "number"},
			{"unknown position member", func() []byte {
				p := good()
				p[1]["quantiy"] = 3
				return mustJSON(t, snapshotBody("PS-X", "BOOK-X", "2026-01-23T00:00:00Z", p))
			}, "/positions/1/quantiy", "unknown member"},
			{"repeated position member", func() []byte {
				return []byte(`{"as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"BOOK-X","positions":[` +
					`{"position_id":"B1","product_type":"FIXED_BOND","quantity":1,"quantity":2,"attributes":{"cashflows":[{"pay_date":"2026-07-23","amount":25}]}}]}`)
			}, "/positions/0/quantity", "more than once"},
			{"missing position_id", func() []byte {
				p := good()
				delete(p[2], "position_id")
				return mustJSON(t, snapshotBody("PS-X", "BOOK-X", "2026-01-23T00:00:00Z", p))
			}, "/positions/2/position_id", "missing"},
			{"repeated position_id", func() []byte {
				p := append(good(), loanByTerms("L1", 5))
				return mustJSON(t, snapshotBody("PS-X", "BOOK-X", "2026-01-23T00:00:00Z", p))
			}, "/positions/3/position_id", "index 0"},
			// PostgreSQL text cannot hold U+0000: refused on every store.
			{"NUL in portfolio_node_id", func() []byte {
				return mustJSON(t, snapshotBody("PS-X", "BOOK\x00X", "2026-01-23T00:00:00Z", good()))
			}, "/portfolio_node_id", "NUL"},
			{"NUL in position_id", func() []byte {
				p := good()
				p[1]["position_id"] = "B\x001"
				return mustJSON(t, snapshotBody("PS-X", "BOOK-X", "2026-01-23T00:00:00Z", p))
			}, "/positions/1/position_id", "NUL"},
			{"NUL in instrument_id", func() []byte {
				p := good()
				p[2]["instrument_id"] = "\x00"
				return mustJSON(t, snapshotBody("PS-X", "BOOK-X", "2026-01-23T00:00:00Z", p))
			}, "/positions/2/instrument_id", "NUL"},
			{"NUL in an attribute", func() []byte {
				p := good()
				p[1]["attributes"].(map[string]any)["desk"] = "R\x00"
				return mustJSON(t, snapshotBody("PS-X", "BOOK-X", "2026-01-23T00:00:00Z", p))
			}, "/positions/1/attributes/desk", "NUL"},
			{"attribute problems after another position's", func() []byte {
				return []byte(`{"as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"BOOK-X","positions":[` +
					`{"position_id":"B0","product_type":"SWAP","attributes":{}},` +
					`{"position_id":"B1","product_type":"FIXED_BOND","attributes":{"desk":"\ud800","cashflows":[{"pay_date":"2026-07-23","amount":25}]}}]}`)
			}, "/positions/1/attributes/desk", "surrogate"},
			// Names are PostgreSQL index keys: bounded on every store.
			{"portfolio_node_id too long", func() []byte {
				return mustJSON(t, snapshotBody("PS-X", strings.Repeat("N", 1025), "2026-01-23T00:00:00Z", good()))
			}, "/portfolio_node_id", "at most 1024"},
			{"position_id too long", func() []byte {
				p := good()
				p[0]["position_id"] = strings.Repeat("P", 9000)
				return mustJSON(t, snapshotBody("PS-X", "BOOK-X", "2026-01-23T00:00:00Z", p))
			}, "/positions/0/position_id", "at most 1024"},
			{"unknown product_type", func() []byte {
				p := good()
				p[0]["product_type"] = "SWAPTION"
				return mustJSON(t, snapshotBody("PS-X", "BOOK-X", "2026-01-23T00:00:00Z", p))
			}, "/positions/0/product_type", "SWAPTION"},
			{"bad date", func() []byte {
				p := good()
				p[0]["attributes"].(map[string]any)["last_payment_date"] = "2025-13-40"
				return mustJSON(t, snapshotBody("PS-X", "BOOK-X", "2026-01-23T00:00:00Z", p))
			}, "/positions/0/attributes/last_payment_date", "date"},
			{"empty cashflows", func() []byte {
				p := good()
				p[1]["attributes"].(map[string]any)["cashflows"] = []any{}
				return mustJSON(t, snapshotBody("PS-X", "BOOK-X", "2026-01-23T00:00:00Z", p))
			}, "/positions/1/attributes/cashflows", "empty"},
			{"missing required attribute", func() []byte {
				p := good()
				delete(p[2]["attributes"].(map[string]any), "forward_rate")
				return mustJSON(t, snapshotBody("PS-X", "BOOK-X", "2026-01-23T00:00:00Z", p))
			}, "/positions/2/attributes/forward_rate", "missing"},
			{"position not an object", func() []byte {
				b := snapshotBody("PS-X", "BOOK-X", "2026-01-23T00:00:00Z", nil)
				b["positions"] = []any{loanByTerms("L1", 1), 42}
				return mustJSON(t, b)
			}, "/positions/1", "object"},
			{"positions not a list", func() []byte {
				b := snapshotBody("PS-X", "BOOK-X", "2026-01-23T00:00:00Z", nil)
				b["positions"] = map[string]any{"L1": loanByTerms("L1", 1)}
				return mustJSON(t, b)
			}, "/positions", "list"},
			{"member twice", func() []byte {
				return []byte(`{"as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"BOOK-X","portfolio_node_id":"BOOK-Y","positions":[]}`)
			}, "/portfolio_node_id", "more than once"},
			{"malformed JSON", func() []byte {
				return []byte(`{"as_of_time":"2026-01-23T00:00:00Z","positions":[{"position_id":"L1",}]}`)
			}, "", "malformed"},
			{"truncated JSON", func() []byte {
				return []byte(`{"as_of_time":"2026-01-23T00:00:00Z","positions":[{"position_id":"L1"`)
			}, "", "ends"},
			{"not an object", func() []byte { return []byte(`[1,2]`) }, "", "JSON object"},
			{"trailing data", func() []byte {
				return append(mustJSON(t, snapshotBody("PS-X", "BOOK-X", "2026-01-23T00:00:00Z", good())), []byte(` {}`)...)
			}, "", "after"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.do(http.MethodPost, "/orch/position-snapshots", c.body())
				if r.status != http.StatusBadRequest {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				requirePointer(t, r.problems(t), c.pointer, c.detail)
			})
		}
		// Nothing was stored by any of them.
		if _, err := e.store.PositionSnapshotGet(e.ctx, "PS-X"); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("PS-X stored: %v", err)
		}
		for _, node := range []string{"BOOK-X", "BOOK-Y"} {
			if _, err := e.store.PositionSnapshotLatest(e.ctx, node, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, apperr.ErrNotFound) {
				t.Fatalf("a snapshot of %s was stored: %v", node, err)
			}
		}
		// The empty body.
		e.mustStatus(e.do(http.MethodPost, "/orch/position-snapshots", nil), http.StatusBadRequest)
	})
}

func TestUploadListsEveryProblemUpToTheCap(t *testing.T) {
	t.Parallel()
	eachWriteMode(t, envOpts{maxProblems: 50, batchSize: 7}, func(t *testing.T, e *env) {
		var positions []map[string]any
		for i := 0; i < 80; i++ {
			p := loanByTerms("L"+strconv.Itoa(i), 1000)
			if i%2 == 1 {
				p["product_type"] = "NOPE" // 40 problems
			}
			positions = append(positions, p)
		}
		positions = append(positions, loanByTerms("L0", 1)) // a repeat: 41
		for i := 0; i < 20; i++ {                           // 20 bad dates: 61
			p := loanByTerms("D"+strconv.Itoa(i), 1000)
			p["attributes"].(map[string]any)["next_payment_date"] = "15/02/2026"
			positions = append(positions, p)
		}
		r := e.do(http.MethodPost, "/orch/position-snapshots", mustJSON(t, snapshotBody("PS-MANY", "BOOK-M", "2026-01-23T00:00:00Z", positions)))
		e.mustStatus(r, http.StatusBadRequest)
		probs := r.problems(t)
		if len(probs) != 51 {
			t.Fatalf("%d problems listed, want 50 and a note", len(probs))
		}
		requirePointer(t, probs, "/positions/1/product_type", "NOPE")
		requirePointer(t, probs, "/positions/80/position_id", "index 0")
		if last := probs[50]; last.Pointer != "" || !strings.Contains(last.Detail, "11 more") {
			t.Fatalf("last entry %+v", last)
		}
		if !strings.Contains(string(r.body), "61 problems") {
			t.Fatalf("detail does not count 61 problems: %s", r.body)
		}
		if _, err := e.store.PositionSnapshotGet(e.ctx, "PS-MANY"); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("refused snapshot stored: %v", err)
		}
	})
}

func TestUploadTooLarge(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{maxUpload: 4000}, func(t *testing.T, e *env) {
		var positions []map[string]any
		for i := 0; i < 40; i++ {
			positions = append(positions, loanByTerms("L"+strconv.Itoa(i), 1000))
		}
		body := mustJSON(t, snapshotBody("PS-BIG", "BOOK-BIG", "2026-01-23T00:00:00Z", positions))
		// Announced length over the bound.
		r := e.do(http.MethodPost, "/orch/position-snapshots", body)
		e.mustStatus(r, http.StatusRequestEntityTooLarge)
		// Streamed without a length: the bound is hit while reading, after some
		// rows may have been added; nothing stays.
		req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.srv.URL+"/orch/position-snapshots", io.MultiReader(strings.NewReader(string(body))))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("streamed status %d", res.StatusCode)
		}
		if _, err := e.store.PositionSnapshotLatest(e.ctx, "BOOK-BIG", time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("oversize upload stored: %v", err)
		}
		// A small upload passes the same bound.
		e.upload(snapshotBody("PS-SMALL", "BOOK-BIG", "2026-01-23T00:00:00Z", positions[:2]), http.StatusCreated)
		// Other routes have the normal bound (64 KiB here), not the upload's.
		big := mustJSON(t, map[string]any{"run_type": "SANDBOX", "model_set_id": strings.Repeat("x", testMaxBody)})
		e.mustStatus(e.do(http.MethodPost, "/orch/runs", big), http.StatusRequestEntityTooLarge)
	})
}

func TestUploadEmptySnapshot(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		got := e.upload(snapshotBody("", "BOOK-EMPTY", "2026-01-23T00:00:00Z", []map[string]any{}), http.StatusCreated)
		if num(got["position_count"]) != 0 || !reflect.DeepEqual(got["product_types"], []any{}) {
			t.Fatalf("empty snapshot %v", got)
		}
		snap, err := e.store.PositionSnapshotGet(e.ctx, str(got["position_snapshot_id"]))
		if err != nil || snap.PositionCount != 0 {
			t.Fatalf("stored %+v %v", snap, err)
		}
	})
}

// failingStore fails the second batch of every position snapshot upload.
type failingStore struct {
	store.Store
}

func (f failingStore) PositionSnapshotBegin(ctx context.Context, id string) (store.PositionSnapshotWriter, error) {
	w, err := f.Store.PositionSnapshotBegin(ctx, id)
	if err != nil {
		return nil, err
	}
	return &failingWriter{PositionSnapshotWriter: w}, nil
}

type failingWriter struct {
	store.PositionSnapshotWriter
	adds int
}

func (w *failingWriter) Add(ctx context.Context, rows []*store.Position) error {
	w.adds++
	if w.adds == 2 {
		return errors.New("disk I/O error: SELECT secret FROM position")
	}
	return w.PositionSnapshotWriter.Add(ctx, rows)
}

func TestUploadStoreFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	for _, b := range teststore.Backends() {
		for _, early := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/while-reading=%v", b.Name, early), func(t *testing.T) {
				e := setup(t, failingStore{b.Open(t)}, envOpts{batchSize: 3, writeWhileReading: early})
				var positions []map[string]any
				for i := 0; i < 20; i++ {
					positions = append(positions, loanByTerms("L"+strconv.Itoa(i), 1000))
				}
				for _, id := range []string{"PS-FAIL", ""} {
					r := e.do(http.MethodPost, "/orch/position-snapshots", mustJSON(t, snapshotBody(id, "BOOK-F", "2026-01-23T00:00:00Z", positions)))
					e.mustStatus(r, http.StatusInternalServerError)
					if strings.Contains(string(r.body), "secret") || strings.Contains(string(r.body), "SELECT") {
						t.Fatalf("500 leaks the cause: %s", r.body)
					}
				}
				if _, err := e.store.PositionSnapshotLatest(e.ctx, "BOOK-F", time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, apperr.ErrNotFound) {
					t.Fatalf("failed upload stored: %v", err)
				}
				// The store is usable afterwards (the writer was released).
				e.upload(snapshotBody("PS-OK", "BOOK-F", "2026-01-23T00:00:00Z", positions[:2]), http.StatusCreated)
			})
		}
	}
}

// TestPayloadHashRecomputableFromAPI rebuilds a snapshot's payload_hash
// from what GET …/positions and GET …/{id} answer, as an auditor would.
func TestPayloadHashRecomputableFromAPI(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		positions := mixedBook(250)
		positions[7]["attributes"].(map[string]any)["note"] = "caf\u00e9 \u2603 \"quoted\" 1e21"
		positions[8]["attributes"].(map[string]any)["big"] = 1e21
		positions[9]["attributes"].(map[string]any)["tiny"] = 1e-7
		got := e.upload(snapshotBody("PS-AUDIT", "BOOK-AUDIT", "2026-01-23T10:11:12.345678Z", positions), http.StatusCreated)

		r := e.do(http.MethodGet, "/orch/position-snapshots/PS-AUDIT", nil)
		e.mustStatus(r, http.StatusOK)
		meta := r.json(t)
		var parts []string
		cursor := ""
		for {
			path := "/orch/position-snapshots/PS-AUDIT/positions?limit=100"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			r := e.do(http.MethodGet, path, nil)
			e.mustStatus(r, http.StatusOK)
			var page struct {
				Items      []json.RawMessage `json:"items"`
				NextCursor *string           `json:"next_cursor"`
			}
			if err := json.Unmarshal(r.body, &page); err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Items {
				c, err := canon.Canonicalize(it)
				if err != nil {
					t.Fatal(err)
				}
				parts = append(parts, string(c))
			}
			if page.NextCursor == nil {
				break
			}
			cursor = *page.NextCursor
		}
		if len(parts) != 250 {
			t.Fatalf("%d positions listed", len(parts))
		}
		arr := sha256.Sum256([]byte("[" + strings.Join(parts, ",") + "]"))
		header, err := canon.Marshal(map[string]any{
			"as_of_time":        meta["as_of_time"],
			"portfolio_node_id": meta["portfolio_node_id"],
			"position_count":    meta["position_count"],
			"positions_sha256":  hex.EncodeToString(arr[:]),
		})
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(header)
		if want := hex.EncodeToString(sum[:]); got["payload_hash"] != want || meta["payload_hash"] != want {
			t.Fatalf("payload_hash %v / %v, recomputed %s", got["payload_hash"], meta["payload_hash"], want)
		}
		if meta["as_of_time"] != "2026-01-23T10:11:12.345678Z" {
			t.Fatalf("as_of_time %v", meta["as_of_time"])
		}
	})
}
