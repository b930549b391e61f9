package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/store"
)

// testMarketSnapshotDaily checks MarketSnapshotDaily in date ranges of the
// subtest's own (the table may hold other rows): one after 1970 and one
// before, where a day is not a truncation of the stored time toward zero.
func testMarketSnapshotDaily(t *testing.T, open Opener) {
	for _, era := range []struct {
		name string
		year int
	}{{"Modern", 2500}, {"Before1970", 1901}} {
		t.Run(era.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, open)
			d0 := time.Date(era.year, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(PositionHash(f.prefix)%20000))
			day := func(i int) time.Time { return d0.AddDate(0, 0, i) }
			est := time.FixedZone("EST", -5*3600)
			type snap struct {
				name string
				at   time.Time
				dq   string
			}
			for _, s := range []snap{
				{"before", day(0).Add(-time.Microsecond), "PASS"}, // the day before the range
				{"a", day(0).Add(10 * time.Hour), "PASS"},
				{"b", day(0).Add(18 * time.Hour), "WARN"}, // D0's latest usable
				{"c", day(0).Add(20 * time.Hour), "FAIL"}, // later, but FAIL
				{"f", day(2).Add(9 * time.Hour), "FAIL"},  // D2 has only FAIL
				{"x", day(3).Add(12 * time.Hour), "PASS"},
				{"y", day(3).Add(12 * time.Hour), "PASS"}, // tie on time: greater id
				{"z", day(4), "PASS"},
				{"w", time.Date(day(3).Year(), day(3).Month(), day(3).Day(), 21, 0, 0, 0, est), "PASS"}, // D4 02:00 UTC
				{"after", day(5), "PASS"},
			} {
				MustMarketSnapshot(t, f.ctx, f.s, &store.MarketSnapshot{ID: f.id(s.name), AsOfTime: s.at, DQStatus: s.dq,
					Payload: []byte(`{"name":"` + s.name + `"}`)})
			}
			// From and To count by their UTC dates, whatever their time of
			// day or zone.
			from := time.Date(day(0).Year(), day(0).Month(), day(0).Day(), 15, 0, 0, 0, time.FixedZone("X", 2*3600))
			to := day(4).Add(23*time.Hour + 59*time.Minute)
			for _, c := range []struct {
				limit int
				want  []string
			}{
				{0, []string{"b", "y", "w"}},
				{2, []string{"b", "y"}},
				{3, []string{"b", "y", "w"}},
			} {
				got, err := f.s.MarketSnapshotDaily(f.ctx, store.DailyParams{From: from, To: to, Limit: c.limit})
				if err != nil {
					t.Fatalf("MarketSnapshotDaily: %v", err)
				}
				var names []string
				for _, m := range got {
					names = append(names, m.ID[len(f.prefix)+1:])
					if want := fmt.Sprintf(`{"name":%q}`, m.ID[len(f.prefix)+1:]); string(m.Payload) != want {
						t.Errorf("%s: payload %s, want %s", m.ID, m.Payload, want)
					}
					if m.AsOfTime.Location() != time.UTC {
						t.Errorf("%s: AsOfTime not in UTC", m.ID)
					}
				}
				if !slices.Equal(names, c.want) {
					t.Errorf("limit %d: %v, want %v", c.limit, names, c.want)
				}
			}
			// One day; a range without snapshots; a single FAIL-only day.
			for _, c := range []struct {
				from, to time.Time
				want     []string
			}{
				{day(3), day(3), []string{"y"}},
				{day(-1), day(-1), []string{"before"}},
				{day(1), day(2), nil},
				{day(5), day(5).Add(time.Hour), []string{"after"}},
				{day(6), day(9), nil},
			} {
				got, err := f.s.MarketSnapshotDaily(f.ctx, store.DailyParams{From: c.from, To: c.to})
				if err != nil {
					t.Fatalf("MarketSnapshotDaily: %v", err)
				}
				var names []string
				for _, m := range got {
					names = append(names, m.ID[len(f.prefix)+1:])
				}
				if !slices.Equal(names, c.want) {
					t.Errorf("[%s, %s]: %v, want %v", c.from.Format(time.DateOnly), c.to.Format(time.DateOnly), names, c.want)
				}
			}
		})
	}
}
