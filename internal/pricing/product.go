package pricing

import (
	"math"
	"sort"
)

// A product type is registered by its own file (loan.go, bond.go,
// fxfwd.go): adding a product is one new file that calls registerProduct
// from init, plus its tests.

// productType describes one product_type: the measures that apply to it and
// how to decode its attributes.
type productType struct {
	name     string
	measures []Measure
	// parse decodes the attributes, recording problems in a.probs. The
	// product it returns is used only when no problem was recorded.
	parse func(a *attrs) product
}

func (pt *productType) supports(m Measure) bool {
	for _, x := range pt.measures {
		if x == m {
			return true
		}
	}
	return false
}

// product is a decoded position of one product type. Implementations are
// immutable.
type product interface {
	// requirements lists the curves and FX spots the product needs.
	requirements() []requirement
	// check records problems that depend on the run's as-of day but not on
	// the market (for example a last payment date after it).
	check(asOf int32, probs *problemList)
	// clearFrom returns the first as-of day from which check records
	// nothing (anyDay when it never records anything); ok false when it
	// records something whatever the day.
	clearFrom() (day int32, ok bool)
	// price sets, in out (which is empty), the wanted measures that apply
	// to the product under one scenario. An error is a Problem naming what
	// cannot be priced. priceCall is passed by value so that nothing
	// escapes to the heap.
	price(pc priceCall, out *Values) error
}

// anyDay is the clearFrom of a product whose check never records a
// problem.
const anyDay = math.MinInt32

// requirement is one piece of market data a product needs, and the
// attribute that named it ("" when it is a default).
type requirement struct {
	fxPair  bool
	id      string
	role    string
	pointer string
}

// productRegistry holds the product types. It is written only by init
// functions (registerProduct) and read-only afterwards.
var productRegistry = map[string]*productType{}

func registerProduct(pt *productType) {
	if _, dup := productRegistry[pt.name]; dup {
		panic("pricing: product type " + pt.name + " registered twice")
	}
	productRegistry[pt.name] = pt
}

func lookupProductType(name string) (*productType, bool) {
	pt, ok := productRegistry[name]
	return pt, ok
}

// ProductTypes returns the known product types, sorted.
func ProductTypes() []string {
	out := make([]string, 0, len(productRegistry))
	for name := range productRegistry {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// IsProductType reports whether name is a known product type.
func IsProductType(name string) bool {
	_, ok := productRegistry[name]
	return ok
}

// SupportedMeasures returns the measures that apply to a product type, in
// canonical order.
func SupportedMeasures(productType string) ([]Measure, bool) {
	pt, ok := productRegistry[productType]
	if !ok {
		return nil, false
	}
	return append([]Measure(nil), pt.measures...), true
}
