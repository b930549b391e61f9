package pricing

import (
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	t.Parallel()
	valid := []string{"2026-01-23", "2024-02-29", "2000-02-29", "1999-12-31", "2026-12-31"}
	for _, s := range valid {
		d, ok := parseDate(s)
		if !ok {
			t.Errorf("parseDate(%q) failed", s)
			continue
		}
		tm, _ := time.Parse(time.DateOnly, s)
		if want := int32(tm.Unix() / 86400); d != want {
			t.Errorf("parseDate(%q) = %d, want %d", s, d, want)
		}
		if got := formatDate(d); got != s {
			t.Errorf("formatDate(parseDate(%q)) = %q", s, got)
		}
	}
	invalid := []string{"", "2026-1-23", "2026/01/23", "2025-02-29", "1900-02-29", "2026-13-01", "2026-00-10",
		"2026-04-31", "2026-01-00", "26-01-2023", "2026-01-23T00:00:00Z", "２０２６-01-23", "2026-01-2a"}
	for _, s := range invalid {
		if _, ok := parseDate(s); ok {
			t.Errorf("parseDate(%q) accepted an invalid date", s)
		}
	}
}

func TestCivilRoundTrip(t *testing.T) {
	t.Parallel()
	start := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	for day := start; day.Year() < 2101; day = day.AddDate(0, 0, 1) {
		want := int32(day.Unix() / 86400)
		got := daysFromCivil(day.Year(), int(day.Month()), day.Day())
		if got != want {
			t.Fatalf("daysFromCivil(%s) = %d, want %d", day.Format(time.DateOnly), got, want)
		}
		y, m, d := civilFromDays(got)
		if y != day.Year() || m != int(day.Month()) || d != day.Day() {
			t.Fatalf("civilFromDays(%d) = %d-%d-%d, want %s", got, y, m, d, day.Format(time.DateOnly))
		}
	}
}

func TestAddMonthsClampedMonthEnd(t *testing.T) {
	t.Parallel()
	cases := []struct {
		start string
		want  []string
	}{
		{"2026-01-31", []string{"2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30"}},
		{"2028-01-31", []string{"2028-01-31", "2028-02-29", "2028-03-31"}},
		{"2026-01-30", []string{"2026-01-30", "2026-02-28", "2026-03-30"}},
		{"2026-11-30", []string{"2026-11-30", "2026-12-30", "2027-01-30", "2027-02-28", "2027-03-30"}},
		{"2026-12-15", []string{"2026-12-15", "2027-01-15"}},
	}
	for _, c := range cases {
		d0, _ := parseDate(c.start)
		y, m, d := civilFromDays(d0)
		for k, w := range c.want {
			if got := formatDate(addMonthsClamped(y, m, d, k)); got != w {
				t.Errorf("%s + %d months = %s, want %s", c.start, k, got, w)
			}
		}
	}
}

func TestDayOfUsesUTCDate(t *testing.T) {
	t.Parallel()
	// 23:30 at UTC−5 on the 22nd is 04:30 UTC on the 23rd.
	tm := time.Date(2026, 1, 22, 23, 30, 0, 0, time.FixedZone("EST", -5*3600))
	if got := formatDate(dayOf(tm)); got != "2026-01-23" {
		t.Errorf("dayOf = %s, want 2026-01-23", got)
	}
}
