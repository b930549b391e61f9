package sqlite

import (
	"slices"
	"testing"
)

// TestTaskFineBuckets checks the fine buckets against brute force: every
// hash below 64·hashMod·8 with hash mod hashMod = bucket must have its
// hash mod 64 listed, and every listed fine bucket must be reachable.
func TestTaskFineBuckets(t *testing.T) {
	for _, mod := range []int{1, 2, 3, 5, 8, 12, 48, 64, 96, 128, 256, 4096, 4095} {
		for _, bucket := range []int{0, 1, mod / 2, mod - 1} {
			got := taskFineBuckets(mod, bucket)
			reach := map[int]bool{}
			for h := bucket; h < 64*mod*8; h += mod {
				reach[h%64] = true
			}
			var want []int
			for r := range 64 {
				if reach[r] {
					want = append(want, r)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("taskFineBuckets(%d, %d) = %v, want %v", mod, bucket, got, want)
			}
		}
	}
}
