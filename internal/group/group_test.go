package group

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestParseBands(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Bands{
		"660,720,780":    {660, 720, 780},
		" 0.5 , 1,1e3 ":  {0.5, 1, 1000},
		"-10":            {-10},
		"-1.5,-1,0,2.25": {-1.5, -1, 0, 2.25},
	} {
		got, err := ParseBands(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseBands(%q) = %v, %v", in, got, err)
		}
	}
	for in, msg := range map[string]string{
		"":                                   "empty",
		"  ":                                 "empty",
		"660,,720":                           `"" (boundary 2) is not a finite number`,
		"660,abc":                            `"abc" (boundary 2) is not a finite number`,
		"NaN":                                "not a finite number",
		"1,Inf":                              "not a finite number",
		"720,660":                            "660 (boundary 2) is not above 720",
		"660,660":                            "660 (boundary 2) is not above 660",
		"1,2,3,2.5":                          "2.5 (boundary 4) is not above 3",
		"660;720":                            "not a finite number",
		strings.Repeat("1,", MaxBands) + "2": "at most",
	} {
		_, err := ParseBands(in)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseBands(%.40q) error %v, want one containing %q", in, err, msg)
		}
	}
}

func TestBandKeys(t *testing.T) {
	t.Parallel()
	b := Bands{660, 720, 780}
	for x, want := range map[float64]string{
		-5: "<660", 659.999: "<660", 660: "660–720", 700: "660–720", 719.99: "660–720",
		720: "720–780", 780: "≥780", 850: "≥780", 1e9: "≥780",
	} {
		if got := b.Key(x); got != want {
			t.Errorf("Key(%v) = %q, want %q", x, got, want)
		}
	}
	if !strings.Contains(b.Key(700), "\u2013") {
		t.Error("the dash is not an EN DASH")
	}
	for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if b.Key(x) != NA {
			t.Errorf("Key(%v) = %q", x, b.Key(x))
		}
	}
	if got := b.Keys(); !slices.Equal(got, []string{"<660", "660–720", "720–780", "≥780"}) {
		t.Errorf("Keys = %q", got)
	}
	// Numbers with strconv 'g', -1.
	c := Bands{0.05, 0.1, 1e6}
	if got := c.Keys(); !slices.Equal(got, []string{"<0.05", "0.05–0.1", "0.1–1e+06", "≥1e+06"}) {
		t.Errorf("Keys = %q", got)
	}
	one := Bands{0}
	if one.Key(-0.0) != "≥0" || one.Key(-1e-300) != "<0" {
		t.Errorf("one boundary: %q %q", one.Key(-0.0), one.Key(-1e-300))
	}
	if (Bands{}).Key(1) != NA || (Bands{}).Keys() != nil {
		t.Error("no bands")
	}
}

func TestBandKeyOf(t *testing.T) {
	t.Parallel()
	b := Bands{660, 720}
	for _, c := range []struct {
		v    any
		want string
	}{
		{700.0, "660–720"}, {json.Number("650"), "<660"}, {int(720), "≥720"}, {int64(5), "<660"},
		{nil, NA}, {"700", NA}, {true, NA}, {[]any{700.0}, NA}, {map[string]any{}, NA}, {json.Number("x"), NA},
	} {
		if got := b.KeyOf(c.v); got != c.want {
			t.Errorf("KeyOf(%#v) = %q, want %q", c.v, got, c.want)
		}
	}
	for raw, want := range map[string]string{
		"700": "660–720", " -3e2 ": "<660", "720.0": "≥720",
		"": NA, "null": NA, `"700"`: NA, "true": NA, "[700]": NA, `{"a":1}`: NA, "07": NA, "1e999": NA, "-": NA,
	} {
		if got := b.KeyOfJSON([]byte(raw)); got != want {
			t.Errorf("KeyOfJSON(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestBandsString(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"580, 680,740":    "580,680,740",
		"580.0,6.8e2,740": "580,680,740",
		"0.05,1000000":    "0.05,1e+06",
		"-1.5":            "-1.5",
	} {
		b, err := ParseBands(in)
		if err != nil || b.String() != want {
			t.Errorf("ParseBands(%q).String() = %q, %v; want %q", in, b.String(), err, want)
		}
	}
}
