package results

import (
	"bytes"
	"encoding/csv"
	"testing"
)

// TestAppendCSVFieldWritesAsEncodingCSV: the export's lines are what
// encoding/csv writes for the same records, on fields that need quoting
// and fields that do not.
func TestAppendCSVFieldWritesAsEncodingCSV(t *testing.T) {
	t.Parallel()
	fields := []string{"", "plain", "a,b", `say "hi"`, "two\nlines", "cr\rhere", " lead", "\ttab", `\.`, `\..`,
		"trail ", "é", "\u00a0nbsp", "\u2028sep", `"`, ",", "x\r\n"}
	for _, f := range fields {
		var want bytes.Buffer
		w := csv.NewWriter(&want)
		if err := w.Write([]string{f, "z"}); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		got := append(appendCSVField(nil, f), ",z\n"...)
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("field %q: got %q, encoding/csv writes %q", f, got, want.Bytes())
		}
	}
}
