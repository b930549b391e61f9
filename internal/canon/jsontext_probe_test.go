package canon

import (
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// BenchmarkJSONTextCanonicalize measures jsontext's RFC 8785
// canonicalization on the documents of the benchmarks above, as the
// alternative to this package's parser (see the package doc).
func BenchmarkJSONTextCanonicalize(b *testing.B) {
	for _, c := range []struct {
		name string
		doc  []byte
	}{{"market", benchDoc(1000)}, {"attributes", benchAttributes}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.doc)))
			b.ReportAllocs()
			v := make(jsontext.Value, 0, len(c.doc))
			for b.Loop() {
				v = append(v[:0], c.doc...)
				if err := v.Canonicalize(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
