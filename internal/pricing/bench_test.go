package pricing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"
)

// benchMarket is a market with the curves a loan book needs, with nodes
// out to 30 years.
func benchMarket(tb testing.TB) *Market {
	tb.Helper()
	tenors := []string{"ON", "1M", "3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y", "15Y", "20Y", "30Y"}
	mk := func(id, typ string, base float64) CurveData {
		c := CurveData{CurveID: id, CurveType: typ}
		for i, tn := range tenors {
			c.Nodes = append(c.Nodes, CurveNode{Tenor: tn, ZeroRate: base + 0.0002*float64(i)})
		}
		return c
	}
	m, err := NewMarket(MarketData{
		SnapshotID: "BENCH",
		AsOfTime:   time.Date(2026, 1, 23, 17, 0, 0, 0, time.UTC),
		FXSpots:    []FXSpot{{Pair: "EURUSD", Spot: 1.0842}},
		Curves: []CurveData{
			mk("USD-OIS", "DISCOUNT", 0.040), mk("EUR-OIS", "DISCOUNT", 0.030),
			mk("LOAN-SPREAD", "SPREAD", 0.020), mk("FI-SPREAD", "SPREAD", 0.010),
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// benchLoan is an AMORT_LOAN with 60 explicit monthly cashflows starting on
// the given day of February 2026.
func benchLoan(tb testing.TB, id string, day int) *Position {
	tb.Helper()
	type cf struct {
		PayDate   string  `json:"pay_date"`
		Interest  float64 `json:"interest"`
		Principal float64 `json:"principal"`
	}
	bal, r := 25000.0, 0.12/12
	pay := levelPayment(bal, 0.12, 60)
	var cfs []cf
	for k := range 60 {
		d := addMonthsClamped(2026, 2, day, k)
		in := bal * r
		pr := pay - in
		bal -= pr
		cfs = append(cfs, cf{PayDate: formatDate(d), Interest: in, Principal: pr})
	}
	attrs, err := json.Marshal(map[string]any{
		"as_of_date":        "2026-01-23",
		"current_principal": 25000.0,
		"coupon_rate":       0.12,
		"last_payment_date": fmt.Sprintf("2026-01-%02d", min(day, 23)),
		"cashflows":         cfs,
	})
	if err != nil {
		tb.Fatal(err)
	}
	p, probs := ParsePosition(PositionInput{PositionID: id, ProductType: "AMORT_LOAN", Attributes: attrs})
	if len(probs) > 0 {
		tb.Fatal(probs)
	}
	return p
}

var loanMeasures = []Measure{PV, DV01, CS01, AccruedInterest}

// cpuMeter reports valuations per second of wall time and CPU
// nanoseconds per valuation.
type cpuMeter struct {
	b     *testing.B
	start time.Duration
}

func startCPU(b *testing.B) *cpuMeter {
	b.ReportAllocs()
	b.ResetTimer()
	return &cpuMeter{b: b, start: processCPUTime()}
}

func (c *cpuMeter) report(valuations int) {
	cpu := processCPUTime() - c.start
	c.b.ReportMetric(float64(valuations)/c.b.Elapsed().Seconds(), "valuations/s")
	if cpu > 0 {
		c.b.ReportMetric(float64(cpu.Nanoseconds())/float64(valuations), "cpu-ns/valuation")
	}
}

func benchmarkLoan(b *testing.B, scenarios []string) {
	m := benchMarket(b)
	e, err := NewEngine(m, scenarios, loanMeasures, m.AsOfTime())
	if err != nil {
		b.Fatal(err)
	}
	p := benchLoan(b, "L1", 15)
	var v Values
	for s := range scenarios {
		if err := e.Price(p, s, &v); err != nil { // warm the tables
			b.Fatal(err)
		}
	}
	meter := startCPU(b)
	for b.Loop() {
		for s := range scenarios {
			if err := e.Price(p, s, &v); err != nil {
				b.Fatal(err)
			}
		}
	}
	meter.report(b.N * len(scenarios))
}

// BenchmarkLoan60OneScenario: one AMORT_LOAN with 60 monthly cashflows, PV,
// DV01, CS01 and ACCRUED_INTEREST under BASE.
func BenchmarkLoan60OneScenario(b *testing.B) { benchmarkLoan(b, []string{"BASE"}) }

// BenchmarkLoan60FourScenarios: the same loan under all four scenarios.
func BenchmarkLoan60FourScenarios(b *testing.B) { benchmarkLoan(b, ScenarioIDs()) }

// benchBook is 10,000 loans of 60 monthly cashflows paying on 28
// different days of the month, so that they share pay dates as a real book
// does.
func benchBook(b *testing.B) []*Position {
	book := make([]*Position, 10000)
	for i := range book {
		book[i] = benchLoan(b, fmt.Sprintf("L%d", i), 1+i%28)
	}
	return book
}

// warmBook prices the book once so that the engine's tables are built.
func warmBook(b *testing.B, e *Engine, book []*Position) {
	var v Values
	for _, p := range book {
		for s := range e.Scenarios() {
			if err := e.Price(p, s, &v); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkLoanBook prices the book (all four loan measures, all four
// scenarios) on one goroutine with a warm engine: one op is the whole book.
func BenchmarkLoanBook(b *testing.B) {
	m := benchMarket(b)
	scen := ScenarioIDs()
	book := benchBook(b)
	e, err := NewEngine(m, scen, loanMeasures, m.AsOfTime())
	if err != nil {
		b.Fatal(err)
	}
	warmBook(b, e, book)
	var v Values
	meter := startCPU(b)
	for b.Loop() {
		for _, p := range book {
			for s := range scen {
				if err := e.Price(p, s, &v); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	meter.report(b.N * len(book) * len(scen))
}

// BenchmarkLoanBookColdEngine is BenchmarkLoanBook with a new engine each
// op, so building the scenario markets and discount factor tables counts.
func BenchmarkLoanBookColdEngine(b *testing.B) {
	m := benchMarket(b)
	scen := ScenarioIDs()
	book := benchBook(b)
	var v Values
	meter := startCPU(b)
	for b.Loop() {
		e, err := NewEngine(m, scen, loanMeasures, m.AsOfTime())
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range book {
			for s := range scen {
				if err := e.Price(p, s, &v); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	meter.report(b.N * len(book) * len(scen))
}

// BenchmarkLoanBookParallel shares one engine between GOMAXPROCS
// goroutines; one op is one position under all four scenarios.
func BenchmarkLoanBookParallel(b *testing.B) {
	m := benchMarket(b)
	scen := ScenarioIDs()
	book := benchBook(b)
	e, err := NewEngine(m, scen, loanMeasures, m.AsOfTime())
	if err != nil {
		b.Fatal(err)
	}
	warmBook(b, e, book)
	meter := startCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		var v Values
		i := 0
		for pb.Next() {
			p := book[i%len(book)]
			i++
			for s := range scen {
				if err := e.Price(p, s, &v); err != nil {
					b.Error(err)
					return
				}
			}
		}
	})
	meter.report(b.N * len(scen))
}

// BenchmarkParsePosition decodes and parses one loan position with 60
// explicit cashflows from its JSON text, as an upload does.
func BenchmarkParsePosition(b *testing.B) {
	p := benchLoan(b, "L1", 15)
	l := p.prod.(*loan)
	type cf struct {
		PayDate   string  `json:"pay_date"`
		Interest  float64 `json:"interest"`
		Principal float64 `json:"principal"`
	}
	var cfs []cf
	for i, d := range l.days {
		cfs = append(cfs, cf{PayDate: formatDate(d), Interest: l.amounts[i] / 3, Principal: l.amounts[i] * 2 / 3})
	}
	raw, err := json.Marshal(map[string]any{
		"position_id": "L1", "instrument_id": "I1", "product_type": "AMORT_LOAN", "quantity": 1,
		"attributes": map[string]any{
			"as_of_date": "2026-01-23", "current_principal": 25000.0, "coupon_rate": 0.12,
			"last_payment_date": "2026-01-15", "cashflows": cfs, "fico": 731, "state": "GA",
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode+parse", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			var in PositionInput
			if err := json.Unmarshal(raw, &in); err != nil {
				b.Fatal(err)
			}
			if _, probs := ParsePosition(in); len(probs) > 0 {
				b.Fatal(probs)
			}
		}
	})
	// parse times ParsePosition of a decoded upload (its attributes
	// checked by the decode), or with stored true of a row read back from
	// the store: checked again (as a replay parses it), or vouched for
	// with StoredAttributes (as a worker parses it) when vouched is true.
	parse := func(raw []byte, stored, vouched bool) func(b *testing.B) {
		return func(b *testing.B) {
			var in PositionInput
			if err := json.Unmarshal(raw, &in); err != nil {
				b.Fatal(err)
			}
			if stored {
				in = PositionInput{PositionID: in.PositionID, InstrumentID: in.InstrumentID,
					ProductType: in.ProductType, Quantity: in.Quantity, Attributes: bytes.Clone(in.Attributes)}
			}
			if vouched {
				in.StoredAttributes()
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, probs := ParsePosition(in); len(probs) > 0 {
					b.Fatal(probs)
				}
			}
		}
	}
	b.Run("parse", parse(raw, false, false))
	// The same schedule in cents, as loan tapes and `iprs gen --schedules`
	// give amounts.
	for i := range cfs {
		cfs[i].Interest = math.Round(cfs[i].Interest*100) / 100
		cfs[i].Principal = math.Round(cfs[i].Principal*100) / 100
	}
	cents, err := json.Marshal(map[string]any{
		"position_id": "L1", "instrument_id": "I1", "product_type": "AMORT_LOAN", "quantity": 1,
		"attributes": map[string]any{
			"as_of_date": "2026-01-23", "current_principal": 25000.0, "coupon_rate": 0.12,
			"last_payment_date": "2026-01-15", "cashflows": cfs, "fico": 731, "state": "GA",
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("parse-cents", parse(cents, false, false))
	b.Run("replay-cents", parse(cents, true, false))
	b.Run("stored-cents", parse(cents, true, true))
}

// benchModelSet projects every loan: 150% PSA, 100% SDA, 35% severity,
// recovery after 6 months.
func benchModelSet(tb testing.TB) *ModelSet {
	tb.Helper()
	ms, probs := ParseModelSet([]byte(`{"model_set_id": "BENCH", "rules": [
		{"prepayment": {"psa": 150}, "default": {"sda": 100}, "severity": 0.35, "recovery_lag_months": 6}]}`))
	if len(probs) > 0 {
		tb.Fatal(probs)
	}
	return ms
}

// benchmarkModelledBook prices the 10,000-loan book (60 monthly cashflows
// each), every loan projected under benchModelSet, under BASE, with a
// warm engine: one op is the whole book.
func benchmarkModelledBook(b *testing.B, measures []Measure) {
	m := benchMarket(b)
	book := benchBook(b)
	e, err := NewEngine(m, []string{"BASE"}, measures, m.AsOfTime(), WithModelSet(benchModelSet(b)))
	if err != nil {
		b.Fatal(err)
	}
	warmBook(b, e, book)
	var v Values
	meter := startCPU(b)
	for b.Loop() {
		for _, p := range book {
			if err := e.Price(p, 0, &v); err != nil {
				b.Fatal(err)
			}
		}
	}
	meter.report(b.N * len(book))
}

// BenchmarkModelledLoanBook: PV, DV01, CS01, WAL and EXPECTED_LOSS of
// projected loans (goal: 1,000,000 valuations/s per core).
func BenchmarkModelledLoanBook(b *testing.B) {
	benchmarkModelledBook(b, []Measure{PV, DV01, CS01, WAL, ExpectedLoss})
}

// BenchmarkModelledLoanBookKR01: the same with KR01 as well (goal:
// 150,000 valuations/s per core).
func BenchmarkModelledLoanBookKR01(b *testing.B) {
	benchmarkModelledBook(b, []Measure{PV, DV01, CS01, WAL, ExpectedLoss, KR01})
}

// BenchmarkContractualLoanBookKR01: KR01 (with PV, DV01, CS01) of the
// contractual schedules.
func BenchmarkContractualLoanBookKR01(b *testing.B) {
	m := benchMarket(b)
	book := benchBook(b)
	e, err := NewEngine(m, []string{"BASE"}, []Measure{PV, DV01, CS01, KR01}, m.AsOfTime())
	if err != nil {
		b.Fatal(err)
	}
	warmBook(b, e, book)
	var v Values
	meter := startCPU(b)
	for b.Loop() {
		for _, p := range book {
			if err := e.Price(p, 0, &v); err != nil {
				b.Fatal(err)
			}
		}
	}
	meter.report(b.N * len(book))
}

// BenchmarkParseLoanByTerms parses one loan given by its terms (60 monthly
// payments to go), its schedule generated, as an upload and a worker do
// for each loan of a book by terms.
func BenchmarkParseLoanByTerms(b *testing.B) {
	raw := []byte(`{"position_id": "L1", "instrument_id": "I1", "product_type": "AMORT_LOAN", "quantity": 1,
		"attributes": {"current_principal": 25000, "coupon_rate": 0.12, "last_payment_date": "2026-01-15",
		"remaining_term_months": 60, "next_payment_date": "2026-02-15", "fico": 731, "state": "GA"}}`)
	var in PositionInput
	if err := json.Unmarshal(raw, &in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, probs := ParsePosition(in); len(probs) > 0 {
			b.Fatal(probs)
		}
	}
}
