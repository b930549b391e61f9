package pricing

// The behavioural projection of a loan under a model set rule (SPEC §4.1).
//
// Take the loan's future contractual schedule in date order (rows dated
// before the as-of date dropped): rows i = 1…n with date dᵢ, interest Iᵢ
// and principal Prᵢ; B₀ = current_principal, Bᵢ = Bᵢ₋₁ − Prᵢ, sᵢ =
// Bᵢ/Bᵢ₋₁ (0 when Bᵢ₋₁ ≤ 0). With performing balance P₀ = B₀ and lag L:
//
//	Dᵢ = Pᵢ₋₁·MDRᵢ           (MDRᵢ = 0 when i > n − L)
//	Vᵢ = Pᵢ₋₁·sᵢ·SMMᵢ
//	Aᵢ = (Pᵢ₋₁ − Dᵢ)·(1 − sᵢ)
//	if Aᵢ + Dᵢ + Vᵢ > Pᵢ₋₁ then Vᵢ = Pᵢ₋₁ − Dᵢ − Aᵢ
//	Pᵢ = Pᵢ₋₁ − Dᵢ − Vᵢ − Aᵢ
//	INTᵢ = Iᵢ·(Pᵢ₋₁ − Dᵢ)/Bᵢ₋₁ (0 when Bᵢ₋₁ ≤ 0)
//	LOSSᵢ = severity·Dᵢ₋ₗ, RECᵢ = (1 − severity)·Dᵢ₋ₗ (Dⱼ = 0 for j < 1)
//	cashflowᵢ = INTᵢ + Aᵢ + Vᵢ + RECᵢ
//
// The loan age in month i is m = age₀ + i. Every product that feeds a sum
// is rounded explicitly (float64(…)) so that no compiler fuses it into a
// multiply-add: the projection is bit-identical on every platform.

// projection is the scratch of one projection: the rows' days and
// cashflows (what PV discounts) and the defaults, for the lagged
// recoveries. Engines keep them in a sync.Pool, so the hot path allocates
// nothing once the buffers have grown.
type projection struct {
	days []int32
	cash []float64
	dflt []float64
}

// projected sums a projection: n rows, the last row's day, Σ tᵢ·(Aᵢ + Vᵢ +
// RECᵢ) (computed as Σ daysᵢ·(Aᵢ + Vᵢ + RECᵢ) / 365), Σ (Aᵢ + Vᵢ + RECᵢ)
// and Σ LOSSᵢ, all for quantity 1.
type projected struct {
	n       int
	lastDay int32
	walNum  float64
	walDen  float64
	loss    float64
}

// projRow is one row of a projection in full, for Engine.Cashflows
// (quantity 1, before discounting).
type projRow struct {
	day                                              int32
	balance, interest, scheduled, prepay, dflt, loss float64
	recovery, cash                                   float64
}

// grow returns buf resliced to n, reallocated when it is too short.
func grow[T any](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n, n+n/4)
	}
	return buf[:n]
}

// firstFuture returns the index of the first of the sorted days on or
// after asOf.
func firstFuture(days []int32, asOf int32) int {
	lo, hi := 0, len(days)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if days[mid] < asOf {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// project runs the projection of the loan under rule r as of asOf into pr
// (and, when rows is not nil, appends every row to it).
func (l *loan) project(r *modelRule, asOf int32, pr *projection, rows *[]projRow) projected {
	first := firstFuture(l.sdays, asOf)
	days := l.sdays[first:]
	interest := l.sinterest[first:len(l.sdays)]
	principal := l.sprincipals[first:len(l.sdays)]
	n := len(days)
	pr.days = grow(pr.days, n)
	pr.cash = grow(pr.cash, n)
	pr.dflt = grow(pr.dflt, n)
	out := projected{n: n}
	if n == 0 {
		return out
	}
	out.lastDay = days[n-1]
	copy(pr.days, days)
	sev, lag := r.severity, r.lag
	lastDefault := n - lag // MDRᵢ = 0 for i > n − L
	keep := 1 - sev
	prepay, dflt := r.prepay, r.dflt
	age0 := l.facts.age0
	cashOut, dfltOut := pr.cash[:n], pr.dflt[:n]
	interest, principal = interest[:n], principal[:n]
	B := l.principal
	P := B
	// Σ dᵢ·(Aᵢ + Vᵢ + RECᵢ) in days; divided by 365 once at the end.
	var walDays float64
	for k := range n {
		i := k + 1
		m := age0 + i
		prevB := B
		B = prevB - principal[k]
		s := 0.0
		if prevB > 0 {
			s = B / prevB
		}
		mdr := 0.0
		if i <= lastDefault {
			mdr = dflt.at(i, m)
		}
		smm := prepay.at(i, m)
		D := float64(P * mdr)
		V := float64(float64(P*s) * smm)
		A := float64((P - D) * (1 - s))
		if A+D+V > P {
			V = P - D - A
		}
		INT := 0.0
		if prevB > 0 {
			INT = float64(interest[k]*(P-D)) / prevB
		}
		dfltOut[k] = D
		var rec, loss float64
		if j := k - lag; j >= 0 {
			dj := dfltOut[j]
			rec = float64(keep * dj)
			loss = float64(sev * dj)
		}
		P = P - D - V - A
		cash := INT + A + V + rec
		cashOut[k] = cash
		repaid := A + V + rec
		walDays += float64(float64(days[k]-asOf) * repaid)
		out.walDen += repaid
		out.loss += loss
		if rows != nil {
			*rows = append(*rows, projRow{day: days[k], balance: P, interest: INT, scheduled: A,
				prepay: V, dflt: D, loss: loss, recovery: rec, cash: cash})
		}
	}
	out.walNum = walDays / 365
	return out
}

// contractualWAL returns Σ tᵢ·Prᵢ and Σ Prᵢ over the schedule rows dated
// on or after asOf, in the order given (for quantity 1).
func (l *loan) contractualWAL(asOf int32) (num, den float64) {
	for i, d := range l.days {
		if d < asOf {
			continue
		}
		pr := l.principals[i]
		num += float64(yearFraction(int(d-asOf)) * pr)
		den += pr
	}
	return num, den
}
