package orchestrator_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// doCSV posts a loan tape with the query q.
func (e *env) doCSV(q url.Values, contentType, body string) response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.srv.URL+"/orch/position-snapshots?"+q.Encode(), strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, body: b, header: res.Header}
}

func tapeQuery(id, node, asOf string) url.Values {
	q := url.Values{"portfolio_node_id": {node}, "as_of_time": {asOf}}
	if id != "" {
		q.Set("position_snapshot_id", id)
	}
	return q
}

// A tape and its JSON twin, written out by hand: the same positions, so
// the same payload_hash (SPEC §5: the same hash semantics). Empty cells
// are absent attributes; an empty quantity is no quantity (it means 1, as
// an absent one does in JSON); cells written as JSON numbers are numbers,
// others (dates, a zip code with a leading zero, "+5", "1,000") text.
const tape = "position_id,instrument_id,product_type,quantity,current_principal,coupon_rate,last_payment_date,next_payment_date,remaining_term_months,zip,fico,note,notional_base,forward_rate,maturity_date,fx_pair\n" +
	"L1,LN1,AMORT_LOAN,,10000.50,0.0550,2025-12-15,2026-02-15,36,02134,712,,,,,\n" +
	"L2,,AMORT_LOAN,2,2.5e3,0.12,2025-12-15,2026-02-15,12,,-0,\"quoted, with comma\",,,,\n" +
	"F1,FX1,FX_FWD,-1,,,,,,,,+5,1000000,1.1,2026-07-23,EURUSD\n" +
	"L3,LN3,AMORT_LOAN,1,5000,0.07,2025-12-20,2026-02-20,60,10001,1e2,\"1,000\",,,,\n"

const tapeTwin = `{"as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"BOOK-TAPE","positions":[
{"position_id":"L1","instrument_id":"LN1","product_type":"AMORT_LOAN","attributes":{"current_principal":10000.5,"coupon_rate":0.055,"last_payment_date":"2025-12-15","next_payment_date":"2026-02-15","remaining_term_months":36,"zip":"02134","fico":712}},
{"position_id":"L2","product_type":"AMORT_LOAN","quantity":2,"attributes":{"current_principal":2500,"coupon_rate":0.12,"last_payment_date":"2025-12-15","next_payment_date":"2026-02-15","remaining_term_months":12,"fico":0,"note":"quoted, with comma"}},
{"position_id":"F1","instrument_id":"FX1","product_type":"FX_FWD","quantity":-1,"attributes":{"note":"+5","notional_base":1e6,"forward_rate":1.10,"maturity_date":"2026-07-23","fx_pair":"EURUSD"}},
{"position_id":"L3","instrument_id":"LN3","product_type":"AMORT_LOAN","quantity":1.0,"attributes":{"current_principal":5000,"coupon_rate":0.07,"last_payment_date":"2025-12-20","next_payment_date":"2026-02-20","remaining_term_months":60,"zip":10001,"fico":100,"note":"1,000"}}]}`

func TestCSVTapeAndItsJSONTwinHashAlike(t *testing.T) {
	t.Parallel()
	eachWriteMode(t, envOpts{batchSize: 3}, func(t *testing.T, e *env) {
		want := expectedPayloadHash(t, []byte(tapeTwin))
		r := e.doCSV(tapeQuery("PS-TAPE", "BOOK-TAPE", "2026-01-23T00:00:00Z"), "text/csv", tape)
		e.mustStatus(r, http.StatusCreated)
		got := r.json(t)
		if got["payload_hash"] != want || num(got["position_count"]) != 4 || got["position_snapshot_id"] != "PS-TAPE" {
			t.Fatalf("tape answer %v, want payload_hash %s", got, want)
		}
		if !reflect.DeepEqual(got["product_types"], []any{"AMORT_LOAN", "FX_FWD"}) {
			t.Fatalf("product types %v", got["product_types"])
		}
		// The JSON twin under another id: the same hash.
		twin := e.upload([]byte(strings.Replace(tapeTwin, `{"as_of_time"`, `{"position_snapshot_id":"PS-TWIN","as_of_time"`, 1)), http.StatusCreated)
		if twin["payload_hash"] != want {
			t.Fatalf("twin hash %v, tape %v", twin["payload_hash"], want)
		}
		// The rows are the same, an empty quantity stored as none.
		a, err := e.store.PositionList(e.ctx, "PS-TAPE", -1, 10)
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.store.PositionList(e.ctx, "PS-TWIN", -1, 10)
		if err != nil {
			t.Fatal(err)
		}
		for i := range a {
			if a[i].PositionID != b[i].PositionID || a[i].InstrumentID != b[i].InstrumentID || !bytes.Equal(a[i].Attributes, b[i].Attributes) ||
				(a[i].Quantity == nil) != (b[i].Quantity == nil) || (a[i].Quantity != nil && *a[i].Quantity != *b[i].Quantity) || a[i].Hash != b[i].Hash {
				t.Fatalf("row %d: tape %+v, twin %+v", i, a[i], b[i])
			}
		}
		if a[0].Quantity != nil || string(a[0].Attributes) != `{"coupon_rate":0.055,"current_principal":10000.5,"fico":712,"last_payment_date":"2025-12-15","next_payment_date":"2026-02-15","remaining_term_months":36,"zip":"02134"}` {
			t.Fatalf("row 0: quantity %v, attributes %s", a[0].Quantity, a[0].Attributes)
		}
		// The same tape again, with a byte-order mark, CRLF line ends and
		// a charset: the same snapshot (200).
		again := "\xef\xbb\xbf" + strings.ReplaceAll(tape, "\n", "\r\n")
		r = e.doCSV(tapeQuery("PS-TAPE", "BOOK-TAPE", "2026-01-23T00:00:00+00:00"), "text/csv; charset=utf-8", again)
		e.mustStatus(r, http.StatusOK)
		// Without an id, identical content answers the stored snapshot.
		r = e.doCSV(tapeQuery("", "BOOK-TAPE", "2026-01-23T00:00:00Z"), "text/csv", tape)
		if r.status != http.StatusOK && r.status != http.StatusCreated {
			t.Fatalf("no id: %d %s", r.status, r.body)
		}
		// Other content under the id: 409.
		r = e.doCSV(tapeQuery("PS-TAPE", "BOOK-TAPE", "2026-01-23T00:00:00Z"), "text/csv", strings.Replace(tape, "10000.50", "10000.51", 1))
		e.mustStatus(r, http.StatusConflict)
	})
}

func TestCSVTapeRefused(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		const head = "position_id,instrument_id,product_type,quantity,current_principal,coupon_rate,last_payment_date,next_payment_date,remaining_term_months,city\n"
		const good = "L0,LN0,AMORT_LOAN,1,1000,0.05,2025-12-15,2026-02-15,12,TAMPA\n"
		q := tapeQuery("PS-BAD", "BOOK-BAD", "2026-01-23T00:00:00Z")
		cases := []struct {
			name, query, body, pointer, param, detail string
		}{
			{"unknown product type", "", head + good + "L1,LN1,SWAP,1,1000,0.05,2025-12-15,2026-02-15,12,TAMPA\n", "/rows/1/product_type", "", "SWAP"},
			{"missing required attribute", "", head + good + "L1,LN1,AMORT_LOAN,1,,0.05,2025-12-15,2026-02-15,12,TAMPA\n", "/rows/1/current_principal", "", "missing"},
			{"bad date", "", head + "L1,LN1,AMORT_LOAN,1,1000,0.05,2025-12-15,2026-13-45,12,TAMPA\n", "/rows/0/next_payment_date", "", "date"},
			{"date as a number", "", head + "L1,LN1,AMORT_LOAN,1,1000,0.05,2025-12-15,20260215,12,TAMPA\n", "/rows/0/next_payment_date", "", "date"},
			{"repeated position_id", "", head + good + good, "/rows/1/position_id", "", "index 0"},
			{"missing position_id", "", head + ",LN1,AMORT_LOAN,1,1000,0.05,2025-12-15,2026-02-15,12,TAMPA\n", "/rows/0/position_id", "", "missing"},
			{"quantity not a number", "", head + "L1,LN1,AMORT_LOAN,two,1000,0.05,2025-12-15,2026-02-15,12,TAMPA\n", "/rows/0/quantity", "", "number"},
			{"quantity NaN", "", head + "L1,LN1,AMORT_LOAN,NaN,1000,0.05,2025-12-15,2026-02-15,12,TAMPA\n", "/rows/0/quantity", "", "number"},
			{"number out of range", "", head + "L1,LN1,AMORT_LOAN,1,1e400,0.05,2025-12-15,2026-02-15,12,TAMPA\n", "/rows/0/current_principal", "", "range"},
			{"row too short", "", head + good + "L1,LN1,AMORT_LOAN\n", "/rows/1", "", "fields"},
			{"row too long", "", head + "L1,LN1,AMORT_LOAN,1,1000,0.05,2025-12-15,2026-02-15,12,TAMPA,extra\n", "/rows/0", "", "fields"},
			{"invalid UTF-8 in an attribute", "", head + "L1,LN1,AMORT_LOAN,1,1000,0.05,2025-12-15,2026-02-15,12,TAMP\xff\n", "/rows/0/city", "", "UTF-8"},
			{"invalid UTF-8 in position_id", "", head + "L\xc3,LN1,AMORT_LOAN,1,1000,0.05,2025-12-15,2026-02-15,12,TAMPA\n", "/rows/0/position_id", "", "UTF-8"},
			{"NUL in an attribute", "", head + "L1,LN1,AMORT_LOAN,1,1000,0.05,2025-12-15,2026-02-15,12,TA\x00MPA\n", "/rows/0/city", "", "NUL"},
			{"NUL in instrument_id", "", head + "L1,L\x00N1,AMORT_LOAN,1,1000,0.05,2025-12-15,2026-02-15,12,TAMPA\n", "/rows/0/instrument_id", "", "NUL"},
			{"bare quote", "", head + good + "L1,LN\"1,AMORT_LOAN,1,1000,0.05,2025-12-15,2026-02-15,12,TAMPA\n", "/rows/1", "", "line 3"},
			{"unterminated quote", "", head + "L1,\"LN1,AMORT_LOAN\n", "/rows/0", "", "malformed CSV"},
			{"no position_id column", "", "instrument_id,product_type\nLN1,AMORT_LOAN\n", "/header", "", "position_id"},
			{"no product_type column", "", "position_id\nL1\n", "/header", "", "product_type"},
			{"repeated column", "", "position_id,product_type,fico,fico\nL1,AMORT_LOAN,1,2\n", "/header/3", "", "twice"},
			{"empty column name", "", "position_id,product_type,,fico\nL1,AMORT_LOAN,1,2\n", "/header/2", "", "empty"},
			{"cashflows column", "", "position_id,product_type,cashflows\nB1,FIXED_BOND,\"[{}]\"\n", "/header/2", "", "terms"},
			{"empty tape", "", "", "", "", "empty"},
			{"missing as_of_time", "portfolio_node_id=BOOK-BAD", head + good, "", "as_of_time", "required"},
			{"bad as_of_time", "portfolio_node_id=BOOK-BAD&as_of_time=2026-01-23", head + good, "", "as_of_time", "RFC 3339"},
			{"missing node", "as_of_time=2026-01-23T00:00:00Z", head + good, "", "portfolio_node_id", "required"},
			{"bad id", q.Encode() + "&position_snapshot_id=PS%2FX", head + good, "", "position_snapshot_id", "given 2 times"},
			{"slash in id", "portfolio_node_id=BOOK-BAD&as_of_time=2026-01-23T00:00:00Z&position_snapshot_id=PS%2FX", head + good, "", "position_snapshot_id", "letters"},
			{"unknown parameter", q.Encode() + "&node=X", head + good, "", "node", "unknown"},
			{"invalid UTF-8 in node", "as_of_time=2026-01-23T00:00:00Z&portfolio_node_id=BOOK%FF", head + good, "", "portfolio_node_id", "UTF-8"},
			{"malformed query", "as_of_time=%zz", head + good, "", "", "well formed"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				query := c.query
				if query == "" {
					query = q.Encode()
				}
				req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/orch/position-snapshots?"+query, strings.NewReader(c.body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "text/csv")
				res, err := e.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				r := response{status: res.StatusCode, body: b, header: res.Header}
				if r.status != http.StatusBadRequest {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				for _, p := range r.problems(t) {
					if p.Pointer == c.pointer && p.Parameter == c.param && strings.Contains(p.Detail, c.detail) {
						return
					}
				}
				t.Fatalf("no problem at pointer %q parameter %q with %q in %s", c.pointer, c.param, c.detail, r.body)
			})
		}
		e.requireNothingStored("BOOK-BAD")
		// A tape in another encoding is refused.
		r := e.doCSV(q, "text/csv; charset=windows-1252", head+good)
		e.mustStatus(r, http.StatusBadRequest)
		// A JSON upload takes no query parameters.
		r = e.doJSONWithQuery("?as_of_time=2026-01-23T00:00:00Z", snapshotBody("PS-BAD", "BOOK-BAD", "2026-01-23T00:00:00Z", nil))
		requirePointer(t, r.problems(t), "", "unknown")
		e.requireNothingStored("BOOK-BAD")
	})
}

func (e *env) doJSONWithQuery(query string, body any) response {
	e.t.Helper()
	return e.do(http.MethodPost, "/orch/position-snapshots"+query, mustJSON(e.t, body))
}
