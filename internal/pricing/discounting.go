package pricing

// cashflowCurves is the discounting shared by loans and bonds: a discount
// curve plus a spread curve, each a default that
// attributes.instrument.risk_modeling.discount_curve / spread_curve can
// override.
type cashflowCurves struct {
	disc, spread       string
	discPtr, spreadPtr string
}

func parseCashflowCurves(a *attrs, defaultSpread string) cashflowCurves {
	c := cashflowCurves{disc: "USD-OIS", spread: defaultSpread}
	if id, ptr, ok := a.nestedString("instrument", "risk_modeling", "discount_curve"); ok {
		c.disc, c.discPtr = id, ptr
	}
	if id, ptr, ok := a.nestedString("instrument", "risk_modeling", "spread_curve"); ok {
		c.spread, c.spreadPtr = id, ptr
	}
	return c
}

func (c cashflowCurves) requirements() []requirement {
	return []requirement{
		{id: c.disc, role: "discount curve", pointer: c.discPtr},
		{id: c.spread, role: "spread curve", pointer: c.spreadPtr},
	}
}

// cashflowMeasures sets PV, DV01 and CS01 of fixed cashflows discounted on
// the discount curve plus the spread curve, scaled by quantity.
func (c cashflowCurves) price(pc priceCall, days []int32, amounts []float64, lastDay int32, out *Values) error {
	wantPV, wantDV01, wantCS01 := pc.wants(PV), pc.wants(DV01), pc.wants(CS01)
	if !wantPV && !wantDV01 && !wantCS01 {
		return nil
	}
	di, err := pc.curve(c.disc)
	if err != nil {
		return err
	}
	si, err := pc.curve(c.spread)
	if err != nil {
		return err
	}
	base := pc.table(kindBase, di, si)
	if wantDV01 && wantCS01 {
		pv, up, cs := sumDiscounted3(days, amounts, pc.asOf, lastDay, base, pc.table(kindRatesUp, di, si), pc.table(kindSpreadUp, di, si))
		if wantPV {
			out.Set(PV, pc.qty*pv)
		}
		out.Set(DV01, pc.qty*(up-pv))
		out.Set(CS01, pc.qty*(cs-pv))
		return nil
	}
	pv := sumDiscounted(days, amounts, pc.asOf, lastDay, base)
	if wantPV {
		out.Set(PV, pc.qty*pv)
	}
	if wantDV01 {
		up := sumDiscounted(days, amounts, pc.asOf, lastDay, pc.table(kindRatesUp, di, si))
		out.Set(DV01, pc.qty*(up-pv))
	}
	if wantCS01 {
		up := sumDiscounted(days, amounts, pc.asOf, lastDay, pc.table(kindSpreadUp, di, si))
		out.Set(CS01, pc.qty*(up-pv))
	}
	return nil
}

// latestDay returns the latest of days (0 for none).
func latestDay(days []int32) int32 {
	var last int32
	for i, d := range days {
		if i == 0 || d > last {
			last = d
		}
	}
	return last
}
