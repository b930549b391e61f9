package postgres

import (
	"slices"
	"testing"
)

// TestTaskFineBuckets checks the fine buckets against brute force: every
// hash below 4096·hashMod·2 with hash mod hashMod = bucket must have its
// hash mod 4096 listed, and every listed fine bucket must be reachable.
func TestTaskFineBuckets(t *testing.T) {
	for _, mod := range []int{1, 2, 3, 5, 8, 12, 48, 64, 96, 256, 4096, 4095, 8192} {
		for _, bucket := range []int{0, 1, mod / 2, mod - 1} {
			got := taskFineBuckets(mod, bucket)
			reach := map[int64]bool{}
			for h := bucket; h < 4096*mod*2; h += mod {
				reach[int64(h%4096)] = true
			}
			var want []int64
			for r := range int64(4096) {
				if reach[r] {
					want = append(want, r)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("taskFineBuckets(%d, %d) = %d buckets, want %d", mod, bucket, len(got), len(want))
			}
		}
	}
}
