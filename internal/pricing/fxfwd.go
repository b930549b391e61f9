package pricing

// FX_FWD (SPEC §2): buy notional_base units of the base currency XXX for
// forward_rate USD each at maturity_date. PV = N·(spot·df_foreign(t) −
// K·df_domestic(t)) in USD; FX_DELTA = N·df_foreign(t).

const productFXForward = "FX_FWD"

func init() {
	registerProduct(&productType{
		name:     productFXForward,
		measures: declaredMeasures(productFXForward),
		parse:    parseFXForward,
	})
}

type fxForward struct {
	notional    float64
	forwardRate float64
	maturity    int32
	pair        string
	pairPtr     string
	domestic    string
	domesticPtr string
	foreign     string
	foreignPtr  string
}

// validFXPair reports whether pair is XXXUSD with XXX three upper-case
// letters other than USD.
func validFXPair(pair string) bool {
	if len(pair) != 6 || pair[3:] != "USD" || pair[:3] == "USD" {
		return false
	}
	for i := 0; i < 3; i++ {
		if pair[i] < 'A' || pair[i] > 'Z' {
			return false
		}
	}
	return true
}

func parseFXForward(a *attrs) product {
	f := &fxForward{pair: "EURUSD", domestic: "USD-OIS"}
	f.notional, _ = a.number("notional_base", true)
	f.forwardRate, _ = a.number("forward_rate", true)
	f.maturity, _ = a.date("maturity_date", true)
	if pair, ok := a.str("fx_pair", false); ok {
		f.pair, f.pairPtr = pair, "/attributes/fx_pair"
	} else if pair, ptr, ok := a.nestedString("instrument", "underlyings", "fx_pair"); ok {
		f.pair, f.pairPtr = pair, ptr
	}
	if !validFXPair(f.pair) {
		a.probs.addf(f.pairPtr, "FX pair %q must be a currency quoted against USD, like EURUSD", f.pair)
	}
	f.foreign = f.pair[:min(3, len(f.pair))] + "-OIS"
	if id, ptr, ok := a.nestedString("instrument", "underlyings", "discount_curve_domestic"); ok {
		f.domestic, f.domesticPtr = id, ptr
	}
	if id, ptr, ok := a.nestedString("instrument", "underlyings", "discount_curve_foreign"); ok {
		f.foreign, f.foreignPtr = id, ptr
	}
	return f
}

func (f *fxForward) requirements() []requirement {
	return []requirement{
		{fxPair: true, id: f.pair, role: "FX spot", pointer: f.pairPtr},
		{id: f.domestic, role: "domestic discount curve", pointer: f.domesticPtr},
		{id: f.foreign, role: "foreign discount curve", pointer: f.foreignPtr},
	}
}

func (f *fxForward) check(int32, *problemList) {}

func (*fxForward) clearFrom() (int32, bool) { return anyDay, true }

func (f *fxForward) price(pc priceCall, out *Values) error {
	wantPV, wantDV01, wantDelta, wantKR := pc.wants(PV), pc.wants(DV01), pc.wants(FXDelta), pc.wants(KR01)
	if !wantPV && !wantDV01 && !wantDelta && !wantKR {
		return nil
	}
	spot, ok := pc.s.market.spots[f.pair]
	if !ok {
		return pc.problem(f.pairPtr, "FX spot %s is not in market snapshot %q", f.pair, pc.e.base.snapshotID)
	}
	di, err := pc.curve(f.domestic)
	if err != nil {
		return err
	}
	fi, err := pc.curve(f.foreign)
	if err != nil {
		return err
	}
	off := int(f.maturity) - int(pc.asOf)
	if off < 0 {
		// Expired: worth nothing, and so are its sensitivities.
		for _, m := range [...]Measure{PV, DV01} {
			if pc.wants(m) {
				out.Set(m, 0)
			}
		}
		if wantDelta {
			out.SetFXDelta(0, f.pair[:3])
		}
		if wantKR {
			f.keyRates(pc, di, fi, -1, 0, 0, 0, out)
		}
		return nil
	}
	dom := pc.table(kindBase, di, -1)
	frn := pc.table(kindBase, fi, -1)
	dfDom := dom.at(dom.upTo(off+1), off)
	dfFrn := frn.at(frn.upTo(off+1), off)
	pv := f.unitPV(spot, dfFrn, dfDom)
	if wantPV {
		out.Set(PV, pc.qty*pv)
	}
	if wantDV01 {
		domUp := pc.table(kindRatesUp, di, -1)
		frnUp := pc.table(kindRatesUp, fi, -1)
		up := f.unitPV(spot, frnUp.at(frnUp.upTo(off+1), off), domUp.at(domUp.upTo(off+1), off))
		out.Set(DV01, pc.qty*(up-pv))
	}
	if wantDelta {
		out.SetFXDelta(pc.qty*(f.notional*dfFrn), f.pair[:3])
	}
	if wantKR {
		f.keyRates(pc, di, fi, off, spot, dfDom, dfFrn, out)
	}
	return nil
}

// unitPV is N·(spot·df_foreign − K·df_domestic) for quantity 1.
func (f *fxForward) unitPV(spot, dfForeign, dfDomestic float64) float64 {
	return f.notional * (float64(spot*dfForeign) - float64(f.forwardRate*dfDomestic))
}

// keyRates sets KR01: a ladder for each of the domestic and foreign curves
// that is a *-OIS curve (one when both legs use the same curve), each
// entry N·(spot·df_foreign − K·df_domestic) with that curve bumped by the
// key-rate triangle, minus PV, times quantity. An expired forward (off < 0)
// has ladders of zeros.
func (f *fxForward) keyRates(pc priceCall, di, fi, off int, spot, dfDom, dfFrn float64, out *Values) {
	pv := f.unitPV(spot, dfFrn, dfDom)
	for _, c := range [2]int{di, fi} {
		if !isOISCurve(pc.e.base.curves[c].id) {
			continue
		}
		// nil for the second leg when both use the same curve.
		ladder := out.keyRateLadder(pc.e.base.curves[c].id)
		if ladder == nil || off < 0 {
			continue
		}
		lo, hi := keyRateTriangles(off)
		for j := lo; j <= hi; j++ {
			dom, frn := dfDom, dfFrn
			if di == c {
				t := pc.s.keyRates.table(c, j, di, -1)
				dom = t.at(t.upTo(off+1), off)
			}
			if fi == c {
				t := pc.s.keyRates.table(c, j, fi, -1)
				frn = t.at(t.upTo(off+1), off)
			}
			ladder[j] = pc.qty * (f.unitPV(spot, frn, dom) - pv)
		}
	}
}
