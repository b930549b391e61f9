package pricing

import (
	"fmt"
	"math"
	"testing"
)

// Tests of the projection of SPEC §4.1. Independent sources: the Bond
// Market Association's Uniform Practices/Standard Formulas (02/01/99),
// chapter SF, section C.6 "Numerical Examples of SDA" (Cash Flow A: 1% SMM
// and 1% MDR; Cash Flow B: 150% PSA and 100% SDA; both new 30-year 8%
// loans of $100,000,000 with 12 months to liquidation and 20% severity),
// the default matrix of section C.4, and the worked examples of sections
// B.2 and B.4; closed forms; and cases computed by hand.
//
// The published tables assume servicer advances, SPEC §4.1 none. Advances
// change the loans in foreclosure, expected amortization and the
// recoveries, but not the performing balance, new defaults, voluntary
// prepayments, actual amortization, actual interest ((Pᵢ₋₁ − Dᵢ)·rate) or
// total defaults, which follow the same formulas in both; those are
// compared. The published principal loss is min(severity·Dᵢ₋ₗ, amortized
// default balance), which is severity·Dᵢ₋ₗ except in the last months.

// bmaLoan is the new 30-year 8% loan of $100,000,000 of the examples.
func bmaLoan(tb testing.TB) *Position {
	tb.Helper()
	return MustPosition(tb, "BMA", "AMORT_LOAN", nil, map[string]any{
		"as_of_date": "2026-01-23", "current_principal": 1e8, "coupon_rate": 0.08,
		"remaining_term_months": 360, "next_payment_date": "2026-02-23",
		"last_payment_date": "2026-01-23", "loan_age_months": 0,
	})
}

// projectedRows prices p's cashflows with a one-rule model set.
func projectedRows(tb testing.TB, p *Position, rule string) []CashflowRow {
	tb.Helper()
	ms := MustModelSet(tb, `{"model_set_id": "T", "rules": [`+rule+`]}`)
	m := MustMarket(tb, flatMarketData(0.04, 0.02, 0.03))
	e, err := NewEngine(m, []string{"BASE"}, []Measure{PV}, asOf0, WithModelSet(ms))
	if err != nil {
		tb.Fatal(err)
	}
	rows, err := e.Cashflows(p, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return rows
}

// published is a table value rounded to a whole dollar.
type published struct {
	month int
	what  string
	value float64
}

func checkPublished(t *testing.T, rows []CashflowRow, table []published) {
	t.Helper()
	for _, p := range table {
		r := rows[p.month-1]
		var got float64
		switch p.what {
		case "balance":
			got = r.Balance
		case "default":
			got = r.Default
		case "prepayment":
			got = r.Prepayment
		case "amortization":
			got = r.ScheduledPrincipal
		case "interest":
			got = r.Interest
		case "loss":
			got = r.Loss
		}
		// The table shows whole dollars, rounded.
		if math.Abs(got-p.value) > 0.5 {
			t.Errorf("month %d %s = %.4f, published %.0f", p.month, p.what, got, p.value)
		}
	}
}

func sumOf(rows []CashflowRow, f func(CashflowRow) float64) float64 {
	s := 0.0
	for _, r := range rows {
		s += f(r)
	}
	return s
}

func TestProjectionBMACashFlowA(t *testing.T) {
	t.Parallel()
	// 1% SMM and 1% MDR, given as the annual rates 1 − 0.99¹².
	annual := 1 - math.Pow(0.99, 12)
	rows := projectedRows(t, bmaLoan(t), fmt.Sprintf(`{"prepayment": {"cpr": %.17g}, "default": {"cdr": %.17g}, "severity": 0.2, "recovery_lag_months": 12}`, annual, annual))
	if len(rows) != 360 {
		t.Fatalf("%d rows", len(rows))
	}
	checkPublished(t, rows, []published{
		{1, "balance", 97934244}, {2, "balance", 95910689}, {48, "balance", 36484857}, {97, "balance", 12807043},
		{145, "balance", 4471391}, {193, "balance", 1494734}, {289, "balance", 120583}, {336, "balance", 18286},
		{337, "balance", 17229}, {348, "balance", 7461}, {349, "balance", 6793}, {359, "balance", 577}, {360, "balance", 0},
		{1, "default", 1000000}, {2, "default", 979342}, {97, "default", 130867}, {145, "default", 45722},
		{289, "default", 1244}, {348, "default", 82}, {349, "default", 0}, {360, "default", 0},
		{1, "prepayment", 999329}, {2, "prepayment", 978680}, {97, "prepayment", 130684}, {145, "prepayment", 45626},
		{289, "prepayment", 1230}, {337, "prepayment", 176},
		{1, "amortization", 66427}, {2, "amortization", 65532}, {97, "amortization", 18075}, {145, "amortization", 9428}, {337, "amortization", 698},
		{1, "interest", 660000}, {2, "interest", 646366}, {97, "interest", 86372}, {145, "interest", 30176}, {337, "interest", 121},
		{12, "loss", 0}, {13, "loss", 200000}, {14, "loss", 195868}, {97, "loss", 33889}, {145, "loss", 11932}, {337, "loss", 67},
	})
	// Totals: new defaults 47,576,640, voluntary prepayments 47,527,662,
	// actual amortization 4,895,697 (each rounded; a few dollars of
	// rounding accumulate over 360 rows).
	for _, c := range []struct {
		what string
		got  float64
		want float64
	}{
		{"defaults", sumOf(rows, func(r CashflowRow) float64 { return r.Default }), 47576640},
		{"prepayments", sumOf(rows, func(r CashflowRow) float64 { return r.Prepayment }), 47527662},
		{"amortization", sumOf(rows, func(r CashflowRow) float64 { return r.ScheduledPrincipal }), 4895697},
	} {
		if math.Abs(c.got-c.want) > 2 {
			t.Errorf("total %s = %.2f, published %.0f", c.what, c.got, c.want)
		}
	}
	// Without advances, the recovery is (1 − severity)·Dᵢ₋₁₂ and the loss
	// severity·Dᵢ₋₁₂ in every month.
	for i := 12; i < 360; i++ {
		d := rows[i-12].Default
		if math.Abs(rows[i].Recovery-0.8*d) > 1e-7 || math.Abs(rows[i].Loss-0.2*d) > 1e-7 {
			t.Fatalf("month %d: recovery %v, loss %v; default of month %d was %v", i+1, rows[i].Recovery, rows[i].Loss, i-11, d)
		}
	}
}

func TestProjectionBMACashFlowB(t *testing.T) {
	t.Parallel()
	rows := projectedRows(t, bmaLoan(t), `{"prepayment": {"psa": 150}, "default": {"sda": 100}, "severity": 0.2, "recovery_lag_months": 12}`)
	checkPublished(t, rows, []published{
		{1, "balance", 99906219}, {2, "balance", 99785306}, {30, "balance", 86051329}, {31, "balance", 85263063},
		{48, "balance", 72841712}, {49, "balance", 72165659}, {96, "balance", 46365260}, {97, "balance", 45928516},
		{241, "balance", 9745917}, {337, "balance", 1185672}, {348, "balance", 587917}, {349, "balance", 536461},
		{359, "balance", 46596}, {360, "balance", 0},
		{1, "default", 1667}, {2, "default", 3331}, {30, "default", 43543}, {31, "default", 43144}, {49, "default", 36521},
		{97, "default", 9612}, {120, "default", 932}, {121, "default", 923}, {241, "default", 247}, {337, "default", 31},
		{348, "default", 16}, {349, "default", 0},
		{1, "prepayment", 25018}, {2, "prepayment", 50057}, {30, "prepayment", 679304}, {49, "prepayment", 569689}, {97, "prepayment", 362460},
		{1, "amortization", 67097}, {2, "amortization", 67525}, {49, "amortization", 69843}, {97, "amortization", 64671},
		{1, "interest", 666656}, {2, "interest", 666019}, {49, "interest", 485368}, {97, "interest", 309038},
		{13, "loss", 333}, {14, "loss", 666}, {49, "loss", 8165}, {97, "loss", 3143},
	})
	if total := sumOf(rows, func(r CashflowRow) float64 { return r.Default }); math.Abs(total-2776019) > 2 {
		t.Errorf("total defaults %.2f, published 2,776,019", total)
	}
}

func TestProjectionBMADefaultMatrix(t *testing.T) {
	t.Parallel()
	// Section C.4: cumulative defaults in percent of the original balance
	// of new 8% 30-year loans, by PSA (rows) and SDA (columns), with 12
	// months to liquidation.
	cells := []struct{ psa, sda, pct float64 }{
		{100, 50, 1.56}, {100, 100, 3.09}, {100, 300, 8.97}, {150, 100, 2.78}, {200, 200, 4.95},
		{300, 300, 6.08}, {400, 150, 2.60}, {500, 50, 0.74}, {500, 300, 4.35},
	}
	p := bmaLoan(t)
	for _, c := range cells {
		rows := projectedRows(t, p, fmt.Sprintf(`{"prepayment": {"psa": %g}, "default": {"sda": %g}, "recovery_lag_months": 12}`, c.psa, c.sda))
		pct := 100 * sumOf(rows, func(r CashflowRow) float64 { return r.Default }) / 1e8
		if math.Abs(pct-c.pct) > 0.005 {
			t.Errorf("%g%% PSA, %g%% SDA: cumulative defaults %.4f%%, published %.2f%%", c.psa, c.sda, pct, c.pct)
		}
	}
}

func TestRateConventionsPublishedExamples(t *testing.T) {
	t.Parallel()
	// B.2: 150% PSA in month 17 is 5.1000% CPR, an SMM of 0.435270%
	// (the example derives both from pool factors, rounded; 5.1% CPR
	// exactly is an SMM of 0.4352706%).
	psa := psaTable(150)
	if got := math.Round(psa[17]*1e7) / 1e5; got != 0.43527 {
		t.Errorf("SMM of 150%% PSA in month 17 = %v%%, published 0.435270%%", got)
	}
	// After month 30, 100% PSA is 6% CPR.
	if psaTable(100)[30] != monthlyRate(0.06) || psa[30] != monthlyRate(0.09) {
		t.Error("PSA plateau")
	}
	// B.4: 2% ABS in month 11 is an SMM of 2.5000%; the conversion table
	// gives 1.73% for 1.50 ABS in month 10 and 100% for 2.00 ABS in
	// month 50.
	abs := func(speed float64, m int) float64 {
		r := rateModel{kind: rateABS, c: speed}
		return r.at(1, m)
	}
	if got := abs(0.02, 11); math.Abs(got-0.025) > 1e-15 {
		t.Errorf("2%% ABS month 11 = %v", got)
	}
	if got := math.Round(abs(0.015, 10)*1e4) / 1e2; got != 1.73 {
		t.Errorf("1.5%% ABS month 10 = %v%%", got)
	}
	// 2% ABS in month 50 is 0.02/(1 − 0.98): 100.00% to the table's
	// precision (1 − ulp in floating point); from month 51 on,
	// abs·(m − 1) ≥ 1 and SMM is 1.
	if got := math.Round(abs(0.02, 50)*1e4) / 1e2; got != 100 {
		t.Errorf("2%% ABS month 50 = %v%%", got)
	}
	if abs(0.02, 51) != 1 || abs(0.02, 80) != 1 || abs(1, 1) != 1 || abs(2, 1) != 1 {
		t.Error("ABS reaching 100%")
	}
	// C.6 Cash Flow B, monthly default rates of 100% SDA: month 1
	// 0.000017, month 30 0.000501, month 97 0.000207, month 120 and after
	// 0.000025.
	sda := sdaTable(100)
	for _, c := range []struct {
		m    int
		want float64
	}{{1, 0.000017}, {30, 0.000501}, {60, 0.000501}, {97, 0.000207}, {120, 0.000025}, {121, 0.000025}} {
		if got := math.Round(sda[c.m]*1e6) / 1e6; got != c.want {
			t.Errorf("MDR of 100%% SDA in month %d = %v, published %v", c.m, got, c.want)
		}
	}
	r := rateModel{kind: rateRamp, table: sda}
	if r.at(1, 500) != sda[121] || r.at(1, 121) != sda[121] {
		t.Error("SDA tail")
	}
}

// contractualSchedule returns a loan's contractual rows (an engine without
// a model set).
func contractualSchedule(tb testing.TB, p *Position) []CashflowRow {
	tb.Helper()
	m := MustMarket(tb, flatMarketData(0.04, 0.02, 0.03))
	e := MustEngine(tb, m, []string{"BASE"}, []Measure{PV}, asOf0)
	rows, err := e.Cashflows(p, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return rows
}

func TestProjectionConstantCPRClosedForm(t *testing.T) {
	t.Parallel()
	// With SMM s and no defaults, Pᵢ = Pᵢ₋₁·sᵢ·(1 − s), so Pᵢ = Bᵢ·(1 − s)ⁱ
	// where Bᵢ is the contractual balance; interest is Iᵢ·(1 − s)ⁱ⁻¹ and
	// the principal repaid Pᵢ₋₁ − Pᵢ. A level-pay loan with a shorter life.
	p := MustPosition(t, "L", "AMORT_LOAN", nil, map[string]any{
		"as_of_date": "2026-01-23", "current_principal": 250000.0, "coupon_rate": 0.065,
		"remaining_term_months": 240, "next_payment_date": "2026-02-10", "last_payment_date": "2026-01-10",
	})
	const cpr = 0.12
	smm := 1 - math.Pow(1-cpr, 1.0/12)
	rows := projectedRows(t, p, `{"prepayment": {"cpr": 0.12}}`)
	contract := contractualSchedule(t, p)
	if len(rows) != 240 || len(contract) != 240 {
		t.Fatalf("%d rows, %d contractual", len(rows), len(contract))
	}
	// The contractual balance, in closed form: B_i = B₀(1+r)ⁱ − pay·((1+r)ⁱ − 1)/r.
	r := 0.065 / 12
	pay := 250000 * r / (1 - math.Pow(1+r, -240))
	walNum, walDen, contractWAL := 0.0, 0.0, 0.0
	prev := 250000.0
	for i, row := range rows {
		n := float64(i + 1)
		b := 250000*math.Pow(1+r, n) - pay*(math.Pow(1+r, n)-1)/r
		if i == 239 {
			b = 0
		}
		want := b * math.Pow(1-smm, n)
		assertClose(t, fmt.Sprintf("P%d", i+1), row.Balance, want, 1e-9)
		bPrev := 250000*math.Pow(1+r, n-1) - pay*(math.Pow(1+r, n-1)-1)/r
		assertClose(t, fmt.Sprintf("INT%d", i+1), row.Interest, bPrev*r*math.Pow(1-smm, n-1), 1e-9)
		assertClose(t, fmt.Sprintf("principal %d", i+1), row.ScheduledPrincipal+row.Prepayment, prev-want, 1e-8)
		if row.Default != 0 || row.Loss != 0 || row.Recovery != 0 {
			t.Fatalf("row %d has defaults: %+v", i+1, row)
		}
		walNum += row.T * (prev - want)
		walDen += prev - want
		contractWAL += contract[i].T * contract[i].ScheduledPrincipal
		prev = want
	}
	// WAL from the engine against the closed-form principal path.
	ms := MustModelSet(t, `{"model_set_id": "T", "rules": [{"prepayment": {"cpr": 0.12}}]}`)
	m := MustMarket(t, flatMarketData(0.04, 0.02, 0.03))
	e, err := NewEngine(m, []string{"BASE"}, []Measure{WAL, ExpectedLoss}, asOf0, WithModelSet(ms))
	if err != nil {
		t.Fatal(err)
	}
	v := MustPrice(t, e, p, "BASE")
	wal := mustGet(t, v, WAL)
	assertClose(t, "WAL", wal, walNum/walDen, 1e-10)
	if w, _ := v.WALWeight(); math.Abs(w-250000) > 1e-6 {
		t.Errorf("WAL weight %v, want the whole balance 250000", w)
	}
	if el := mustGet(t, v, ExpectedLoss); el != 0 {
		t.Errorf("EXPECTED_LOSS without defaults = %v", el)
	}
	if contractWAL /= 250000; !(wal < contractWAL-2) {
		t.Errorf("WAL at 12%% CPR %.3f is not well below the contractual %.3f", wal, contractWAL)
	}
}

func TestProjectionZeroSpeedsIsTheContract(t *testing.T) {
	t.Parallel()
	// A rule with no prepayment and no default projects the contractual
	// schedule (to rounding: Pᵢ = Pᵢ₋₁·sᵢ instead of Bᵢ₋₁ − Prᵢ).
	loans := []*Position{
		bmaLoan(t),
		MustPosition(t, "E", "AMORT_LOAN", nil, loanAttrs(cf("2026-01-20", 9, 99), cf("2026-03-01", 5, 400), cf("2026-02-01", 6, 300), cf("2026-04-01", 2, 300))),
	}
	for _, p := range loans {
		rows := projectedRows(t, p, `{"severity": 0.5, "recovery_lag_months": 3}`)
		contract := contractualSchedule(t, p)
		if len(rows) != len(contract) {
			t.Fatalf("%s: %d rows, %d contractual", p.ID, len(rows), len(contract))
		}
		// The contractual rows come in the order given, the projection in
		// date order: match them by date.
		byDate := map[string]CashflowRow{}
		for _, c := range contract {
			byDate[c.Date] = c
		}
		for i, r := range rows {
			c := byDate[r.Date]
			assertClose(t, p.ID+" interest "+r.Date, r.Interest, c.Interest, 1e-12)
			assertClose(t, p.ID+" principal "+r.Date, r.ScheduledPrincipal, c.ScheduledPrincipal, 1e-9)
			assertClose(t, p.ID+" cashflow "+r.Date, r.Cashflow, c.Cashflow, 1e-9)
			if r.Prepayment != 0 || r.Default != 0 || r.Loss != 0 || r.Recovery != 0 {
				t.Errorf("%s row %d: %+v", p.ID, i, r)
			}
		}
	}
	// The same in PV, DV01 and CS01.
	ms := MustModelSet(t, `{"model_set_id": "Z", "rules": [{}]}`)
	m := MustMarket(t, flatMarketData(0.04, 0.02, 0.03))
	modelled, err := NewEngine(m, ScenarioIDs(), Measures(), asOf0, WithModelSet(ms))
	if err != nil {
		t.Fatal(err)
	}
	plain := MustEngine(t, m, ScenarioIDs(), Measures(), asOf0)
	for _, p := range loans {
		for _, s := range ScenarioIDs() {
			a, b := flatValues(MustPrice(t, modelled, p, s)), flatValues(MustPrice(t, plain, p, s))
			pv := math.Abs(b["PV"])
			for name, want := range b {
				tol := 1e-12 * math.Max(pv, 1)
				if name == "WAL" {
					tol = 1e-12
				}
				if math.Abs(a[name]-want) > tol {
					t.Errorf("%s %s %s: modelled %.17g, contractual %.17g", p.ID, s, name, a[name], want)
				}
			}
		}
	}
}

func TestProjectionPrepaymentClamp(t *testing.T) {
	t.Parallel()
	// Aᵢ + Dᵢ + Vᵢ > Pᵢ₋₁ exactly when SMM + MDR > 1 (and 0 < sᵢ). With a
	// 100% CPR (SMM 1) and a 50% MDR on a loan of 1000 amortizing 100 a
	// month: D₁ = 500, A₁ = (1000 − 500)·(1 − 0.9) = 50, and Vᵢ = 1000·0.9
	// would overshoot, so V₁ = 1000 − 500 − 50 = 450 and P₁ = 0.
	mdr := 0.5
	cdr := 1 - math.Pow(1-mdr, 12)
	var flows []map[string]any
	for k := range 10 {
		flows = append(flows, cf(formatDate(daysFromCivil(2026, 2, 15)+int32(30*k)), 5, 100))
	}
	p := MustPosition(t, "C", "AMORT_LOAN", nil, loanAttrs(flows...))
	rows := projectedRows(t, p, fmt.Sprintf(`{"prepayment": {"cpr": 1}, "default": {"cdr": %.17g}, "severity": 1}`, cdr))
	// loanAttrs has current_principal 1000.
	assertClose(t, "D1", rows[0].Default, 500, 1e-12)
	assertClose(t, "A1", rows[0].ScheduledPrincipal, 50, 1e-12)
	assertClose(t, "V1", rows[0].Prepayment, 450, 1e-12)
	assertClose(t, "P1", rows[0].Balance, 0, 1e-12)
	// INT₁ = I₁·(P₀ − D₁)/B₀ = 5·500/1000; the loss of the default (lag
	// 0, severity 1) is 500 and nothing is recovered.
	assertClose(t, "INT1", rows[0].Interest, 2.5, 1e-12)
	assertClose(t, "LOSS1", rows[0].Loss, 500, 1e-12)
	assertClose(t, "cashflow1", rows[0].Cashflow, 2.5+50+450, 1e-12)
	// Nothing is left but rounding (the MDR of 50% is 1 − exp(log(0.5¹²)/12)).
	for i, r := range rows[1:] {
		if math.Abs(r.Cashflow) > 1e-12 || math.Abs(r.Balance) > 1e-12 || math.Abs(r.Default) > 1e-12 {
			t.Errorf("row %d after a full payoff: %+v", i+2, r)
		}
	}
	// An ABS speed of 100% is an SMM of 1 from the first month.
	rows = projectedRows(t, p, `{"prepayment": {"abs": 1}}`)
	assertClose(t, "ABS 100% V1", rows[0].Prepayment, 900, 1e-12)
	assertClose(t, "ABS 100% A1", rows[0].ScheduledPrincipal, 100, 1e-12)
	assertClose(t, "ABS 100% P1", rows[0].Balance, 0, 1e-12)
}

func TestProjectionLagAndSeverityByHand(t *testing.T) {
	t.Parallel()
	// Six payments of principal 200 on 1200, interest 1% of the balance;
	// SMM 10%, MDR 5%, severity 40%, lag 2 (so MDR = 0 in months 5 and
	// 6 = n − L + 1…n). Worked by hand:
	//
	//	i  B    s    D         V          A          P           INT          REC       LOSS
	//	1  1000 5/6  60        100        190        850         11.4         0         0
	//	2  800  0.8  42.5      68         161.5      578         8.075        0         0
	//	3  600  0.75 28.9      43.35      137.275    368.475     5.491        36        24
	//	4  400  2/3  18.42375  24.565     116.68375  208.8025    3.5005125    25.5      17
	//	5  200  0.5  0         10.440125  104.40125  93.961125   2.088025     17.34     11.56
	//	6  0    0    0         0          93.961125  0           0.93961125   11.05425  7.3695
	smm, mdr := 0.1, 0.05
	dates := []string{"2026-02-01", "2026-03-01", "2026-04-01", "2026-05-01", "2026-06-01", "2026-07-01"}
	var flows []map[string]any
	for k, d := range dates {
		flows = append(flows, cf(d, 12-2*float64(k), 200))
	}
	attrs := loanAttrs(flows...)
	attrs["current_principal"] = 1200.0
	p := MustPosition(t, "H", "AMORT_LOAN", ptr(2.0), attrs)
	rule := fmt.Sprintf(`{"prepayment": {"cpr": %.17g}, "default": {"cdr": %.17g}, "severity": 0.4, "recovery_lag_months": 2}`,
		1-math.Pow(1-smm, 12), 1-math.Pow(1-mdr, 12))
	rows := projectedRows(t, p, rule)
	want := [][8]float64{ // D, V, A, P, INT, REC, LOSS, cashflow
		{60, 100, 190, 850, 11.4, 0, 0, 11.4 + 190 + 100},
		{42.5, 68, 161.5, 578, 8.075, 0, 0, 8.075 + 161.5 + 68},
		{28.9, 43.35, 137.275, 368.475, 5.491, 36, 24, 5.491 + 137.275 + 43.35 + 36},
		{18.42375, 24.565, 116.68375, 208.8025, 3.5005125, 25.5, 17, 3.5005125 + 116.68375 + 24.565 + 25.5},
		{0, 10.440125, 104.40125, 93.961125, 2.088025, 17.34, 11.56, 2.088025 + 104.40125 + 10.440125 + 17.34},
		{0, 0, 93.961125, 0, 0.93961125, 11.05425, 7.3695, 0.93961125 + 93.961125 + 11.05425},
	}
	if len(rows) != 6 {
		t.Fatalf("%d rows", len(rows))
	}
	const q = 2 // quantity
	for i, w := range want {
		r := rows[i]
		got := [8]float64{r.Default, r.Prepayment, r.ScheduledPrincipal, r.Balance, r.Interest, r.Recovery, r.Loss, r.Cashflow}
		for k, name := range []string{"D", "V", "A", "P", "INT", "REC", "LOSS", "cashflow"} {
			assertClose(t, fmt.Sprintf("row %d %s", i+1, name), got[k], q*w[k], 1e-12)
		}
		if r.Date != dates[i] {
			t.Errorf("row %d date %s", i+1, r.Date)
		}
	}
	// EXPECTED_LOSS = quantity·severity·ΣD = 2·0.4·149.82375; WAL =
	// Σ tᵢ·(Aᵢ + Vᵢ + RECᵢ) / Σ(Aᵢ + Vᵢ + RECᵢ) with t in days/365 from
	// 2026-01-23, not scaled by quantity.
	ms := MustModelSet(t, `{"model_set_id": "H", "rules": [`+rule+`]}`)
	m := MustMarket(t, flatMarketData(0.04, 0.02, 0.03))
	e, err := NewEngine(m, []string{"BASE"}, []Measure{WAL, ExpectedLoss}, asOf0, WithModelSet(ms))
	if err != nil {
		t.Fatal(err)
	}
	v := MustPrice(t, e, p, "BASE")
	assertClose(t, "EXPECTED_LOSS", mustGet(t, v, ExpectedLoss), 2*0.4*149.82375, 1e-12)
	num, den := 0.0, 0.0
	for i, w := range want {
		repaid := w[1] + w[2] + w[5]
		num += yf(daysBetween(t, "2026-01-23", dates[i])) * repaid
		den += repaid
	}
	assertClose(t, "WAL", mustGet(t, v, WAL), num/den, 1e-12)
	if w, _ := v.WALWeight(); math.Abs(w-2*den) > 1e-9 {
		t.Errorf("WAL weight %v, want %v", w, 2*den)
	}
	// Principal repaid plus losses is the whole balance.
	assertClose(t, "A+V+REC+LOSS", den+0.4*149.82375, 1200, 1e-12)
}

func TestProjectionVectorsAndLoanAge(t *testing.T) {
	t.Parallel()
	// A loan of 1000 paying only interest until a bullet in month 6, so
	// sᵢ = 1 before it and Vᵢ = Pᵢ₋₁·SMMᵢ.
	var flows []map[string]any
	for k := range 6 {
		pr := 0.0
		if k == 5 {
			pr = 1000
		}
		flows = append(flows, cf(formatDate(daysFromCivil(2026, 2, 1)+int32(31*k)), 1, pr))
	}
	base := loanAttrs(flows...)
	// cpr_vector [0.1, 0.2, 0.3]: months 1, 2, 3, then 0.3 after.
	rows := projectedRows(t, MustPosition(t, "V", "AMORT_LOAN", nil, base), `{"prepayment": {"cpr_vector": [0.1, 0.2, 0.3]}}`)
	P := 1000.0
	for i, c := range []float64{0.1, 0.2, 0.3, 0.3, 0.3} {
		s := 1 - math.Pow(1-c, 1.0/12)
		assertClose(t, fmt.Sprintf("vector V%d", i+1), rows[i].Prepayment, P*s, 1e-12)
		P -= P * s
	}
	// PSA depends on the loan age m = age₀ + i: 100% PSA in month 1 is
	// 0.2% CPR for a new loan and 6% CPR for one 29 months old, whether
	// the age comes from loan_age_months or term_months −
	// remaining_term_months.
	for _, c := range []struct {
		extra map[string]any
		cpr   float64
	}{
		{nil, 0.002},
		{map[string]any{"loan_age_months": 29}, 0.06},
		{map[string]any{"term_months": 60, "remaining_term_months": 31}, 0.06},
		{map[string]any{"loan_age_months": 4, "term_months": 60, "remaining_term_months": 31}, 0.01},
		{map[string]any{"loan_age_months": 2.5}, 0.002}, // not a whole number: ignored
		{map[string]any{"term_months": 60}, 0.002},      // only one of the two
	} {
		a := loanAttrs(flows...)
		for k, v := range c.extra {
			a[k] = v
		}
		rows := projectedRows(t, MustPosition(t, "A", "AMORT_LOAN", nil, a), `{"prepayment": {"psa": 100}}`)
		assertClose(t, fmt.Sprintf("PSA V1 with %v", c.extra), rows[0].Prepayment, 1000*(1-math.Pow(1-c.cpr, 1.0/12)), 1e-12)
	}
}

func TestProjectionDropsPastRowsAndSortsDates(t *testing.T) {
	t.Parallel()
	// Rows before the as-of date are dropped; B₀ is current_principal.
	// Out-of-order explicit cashflows are projected in date order.
	p := MustPosition(t, "S", "AMORT_LOAN", nil, loanAttrs(
		cf("2026-03-23", 3, 400), cf("2026-01-10", 99, 999), cf("2026-02-23", 5, 600)))
	rows := projectedRows(t, p, `{"prepayment": {"cpr": 0.5}}`)
	if len(rows) != 2 || rows[0].Date != "2026-02-23" || rows[1].Date != "2026-03-23" {
		t.Fatalf("rows %+v", rows)
	}
	// Month 1: B 1000 → 400, s = 0.4, V = 1000·0.4·SMM, A = 600.
	smm := 1 - math.Pow(0.5, 1.0/12)
	assertClose(t, "A1", rows[0].ScheduledPrincipal, 600, 1e-12)
	assertClose(t, "V1", rows[0].Prepayment, 400*smm, 1e-12)
	assertClose(t, "INT1", rows[0].Interest, 5, 1e-12)
	// Month 2 clears the rest: s = 0.
	assertClose(t, "A2", rows[1].ScheduledPrincipal, 400*(1-smm), 1e-12)
	assertClose(t, "INT2", rows[1].Interest, 3*(400*(1-smm))/400, 1e-12)
	assertClose(t, "P2", rows[1].Balance, 0, 1e-12)
}
