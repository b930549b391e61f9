package store

import (
	"slices"
	"testing"
)

// TestFineBuckets checks the fine buckets against brute force: every hash
// below fine·hashMod·2 with hash mod hashMod = bucket must have its hash mod
// fine listed, and every listed fine bucket must be reachable.
func TestFineBuckets(t *testing.T) {
	t.Parallel()
	for _, fine := range []int{64, 4096} {
		for _, mod := range []int{1, 2, 3, 5, 8, 12, 48, 64, 96, 128, 256, 4095, 4096, 8192} {
			for _, bucket := range []int{0, 1, mod / 2, mod - 1} {
				got := FineBuckets(fine, mod, bucket)
				reach := map[int64]bool{}
				for h := bucket; h < fine*mod*2; h += mod {
					reach[int64(h%fine)] = true
				}
				var want []int64
				for r := range int64(fine) {
					if reach[r] {
						want = append(want, r)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("FineBuckets(%d, %d, %d) = %d buckets, want %d", fine, mod, bucket, len(got), len(want))
				}
			}
		}
	}
}
