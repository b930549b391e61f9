package pricing

// FIXED_BOND (SPEC §2): fixed cashflows {pay_date, amount} discounted on
// USD-OIS plus FI-SPREAD; ACCRUED_INTEREST is the accrued_interest
// attribute (0 if absent).

const productFixedBond = "FIXED_BOND"

func init() {
	registerProduct(&productType{
		name:     productFixedBond,
		measures: declaredMeasures(productFixedBond),
		parse:    parseBond,
	})
}

type bond struct {
	curves  cashflowCurves
	days    []int32
	amounts []float64
	lastDay int32 // the latest of days
	accrued float64
}

func parseBond(a *attrs) product {
	b := &bond{}
	if items, ok := a.list("cashflows"); ok {
		b.days = make([]int32, 0, len(items))
		b.amounts = make([]float64, 0, len(items))
		for i, raw := range items {
			it, ok := a.item("cashflows", i, raw)
			if !ok {
				continue
			}
			d, _ := it.date("pay_date")
			amount, _ := it.number("amount")
			b.days = append(b.days, d)
			b.amounts = append(b.amounts, amount)
		}
	}
	b.lastDay = latestDay(b.days)
	b.accrued, _ = a.number("accrued_interest", false)
	b.curves = parseCashflowCurves(a, "FI-SPREAD")
	return b
}

func (b *bond) requirements() []requirement { return b.curves.requirements() }

func (b *bond) check(int32, *problemList) {}

func (*bond) clearFrom() (int32, bool) { return anyDay, true }

func (b *bond) price(pc priceCall, out *Values) error {
	if err := b.curves.price(pc, b.days, b.amounts, b.lastDay, out); err != nil {
		return err
	}
	if err := b.curves.keyRates(pc, b.days, b.amounts, b.lastDay, out); err != nil {
		return err
	}
	if pc.wants(AccruedInterest) {
		out.Set(AccruedInterest, pc.qty*b.accrued)
	}
	return nil
}
