package pricing

import (
	"fmt"
	"strconv"
)

// Measure is one number the engine can compute for a position under a
// scenario. The zero value is PV.
type Measure uint8

// The measures of SPEC §2 and §4.1–4.2, in their canonical order.
const (
	PV Measure = iota
	DV01
	CS01
	AccruedInterest
	FXDelta
	// WAL is the weighted average life in years (SPEC §4.1), not scaled
	// by quantity; its aggregation weight is Values.WALWeight.
	WAL
	// ExpectedLoss is Σ LOSSᵢ × quantity, undiscounted (SPEC §4.1).
	ExpectedLoss
	// KR01 is a key-rate DV01 ladder per *-OIS curve (SPEC §4.2); its
	// value is Values.KR01, not a single number.
	KR01

	numMeasures = iota
)

var measureNames = [numMeasures]string{
	PV:              "PV",
	DV01:            "DV01",
	CS01:            "CS01",
	AccruedInterest: "ACCRUED_INTEREST",
	FXDelta:         "FX_DELTA",
	WAL:             "WAL",
	ExpectedLoss:    "EXPECTED_LOSS",
	KR01:            "KR01",
}

// String returns the wire name of the measure ("PV", "ACCRUED_INTEREST", …).
func (m Measure) String() string {
	if int(m) < len(measureNames) {
		return measureNames[m]
	}
	return "Measure(" + strconv.Itoa(int(m)) + ")"
}

// Valid reports whether m is one of the known measures.
func (m Measure) Valid() bool { return m < numMeasures }

// ParseMeasure returns the measure with the given wire name.
func ParseMeasure(s string) (Measure, bool) {
	for i, name := range measureNames {
		if name == s {
			return Measure(i), true
		}
	}
	return 0, false
}

// MarshalText encodes a measure as its wire name, so that JSON carries
// "PV" rather than a number.
func (m Measure) MarshalText() ([]byte, error) {
	if !m.Valid() {
		return nil, fmt.Errorf("pricing: unknown measure %d", m)
	}
	return []byte(measureNames[m]), nil
}

// UnmarshalText decodes a measure from its wire name.
func (m *Measure) UnmarshalText(b []byte) error {
	x, ok := ParseMeasure(string(b))
	if !ok {
		return fmt.Errorf("pricing: unknown measure %q", b)
	}
	*m = x
	return nil
}

// Measures returns every known measure in canonical order.
func Measures() []Measure {
	out := make([]Measure, numMeasures)
	for i := range out {
		out[i] = Measure(i)
	}
	return out
}

// Aggregation says how the values of a measure over many positions combine
// into one figure of a summary or a cube cell.
type Aggregation uint8

const (
	// Sum adds the values (correctly rounded, as the results service does).
	Sum Aggregation = iota
	// WeightedAverage is Σ value·weight / Σ weight, with each position's
	// weight carried beside its value (for WAL, Values.WALWeight:
	// Σ(Aᵢ + Vᵢ + RECᵢ)·quantity).
	WeightedAverage
	// KeyByKey adds ladders key by key: KR01 by curve and tenor.
	KeyByKey
	// PerCurrency adds the values per currency and never across
	// currencies: FX_DELTA by the pair's base currency
	// (Values.FXDeltaCurrency).
	PerCurrency
)

var aggregationNames = [...]string{
	Sum:             "sum",
	WeightedAverage: "weighted_average",
	KeyByKey:        "key_by_key",
	PerCurrency:     "per_currency",
}

// String returns "sum", "weighted_average", "key_by_key" or "per_currency".
func (a Aggregation) String() string {
	if int(a) < len(aggregationNames) {
		return aggregationNames[a]
	}
	return "Aggregation(" + strconv.Itoa(int(a)) + ")"
}

// MarshalText encodes an aggregation as its name.
func (a Aggregation) MarshalText() ([]byte, error) {
	if int(a) >= len(aggregationNames) {
		return nil, fmt.Errorf("pricing: unknown aggregation %d", a)
	}
	return []byte(aggregationNames[a]), nil
}

// MeasureSpec declares a measure: its wire name, the product types it
// applies to (it is absent from the results of any other), the unit of its
// values, and how its values aggregate. Storage, summaries, cubes, exports
// and the CLI follow this declaration rather than lists of their own.
type MeasureSpec struct {
	Name        string      `json:"name"`
	Products    []string    `json:"products"`
	Unit        string      `json:"unit"`
	Aggregation Aggregation `json:"aggregation"`
}

// measureDecl is the declaration table behind Spec.
type measureDecl struct {
	products    []string
	unit        string
	aggregation Aggregation
}

var (
	allProducts      = []string{productAmortLoan, productFixedBond, productFXForward}
	cashflowProducts = []string{productAmortLoan, productFixedBond}
)

var measureDecls = [numMeasures]measureDecl{
	PV:              {allProducts, "USD", Sum},
	DV01:            {allProducts, "USD", Sum},
	CS01:            {cashflowProducts, "USD", Sum},
	AccruedInterest: {cashflowProducts, "USD", Sum},
	FXDelta:         {[]string{productFXForward}, "base currency", PerCurrency},
	WAL:             {[]string{productAmortLoan}, "years", WeightedAverage},
	ExpectedLoss:    {[]string{productAmortLoan}, "USD", Sum},
	KR01:            {allProducts, "USD", KeyByKey},
}

// Aggregation returns how the measure's values aggregate (Spec().Aggregation
// without building the whole declaration: it allocates nothing, for hot
// paths that aggregate every value).
func (m Measure) Aggregation() Aggregation {
	if !m.Valid() {
		return Sum
	}
	return measureDecls[m].aggregation
}

// Spec returns the declaration of a known measure (the zero MeasureSpec
// for an unknown one). Products are sorted.
func (m Measure) Spec() MeasureSpec {
	if !m.Valid() {
		return MeasureSpec{}
	}
	d := measureDecls[m]
	return MeasureSpec{
		Name:        measureNames[m],
		Products:    append([]string(nil), d.products...),
		Unit:        d.unit,
		Aggregation: d.aggregation,
	}
}

// declaredMeasures returns, in canonical order, the measures whose
// declaration lists the product type: a product's measures come from the
// measure declarations, not from a list of its own.
func declaredMeasures(productType string) []Measure {
	var out []Measure
	for m := Measure(0); m < numMeasures; m++ {
		if contains(measureDecls[m].products, productType) {
			out = append(out, m)
		}
	}
	return out
}
